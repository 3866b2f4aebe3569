//go:build containment

// Package containment is the containment test build (build tag
// containment; never in a release binary, see internal/deptest): every
// role of the real daemon, right after entering its real sandbox, runs a
// battery of attacks with the descriptors it really holds, writes one
// typed record per attack on its standard error, and then goes on as
// usual. The harness (containment_test.go, `make containment`) runs the
// daemon in the namespace lab, reads the records, proves the attacks
// that end a role in runs of their own, and checks each role's live
// seccomp filter against its policy for every system call number.
package containment
