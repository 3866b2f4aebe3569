//go:build containment

// Package logincontainment is netlogind's containment test build (build
// tag containment; never in a release binary, see internal/deptest): each
// [net], right after entering its real sandbox, runs a battery of attacks
// with the descriptors it really holds (the client socket, the channel to
// [session], the control channel to the listener), writes one typed record
// per attack, and then serves its connection as usual.
//
// The listener's containment hook hands every [net] two descriptors: a
// pipe holding the attack the harness selected for that connection (read
// at spawn time from a file in the directory EnvDir names), and the
// records file in that directory, opened for appending. The harness
// (containment_test.go, `make containment`) writes the selection before
// each connection it opens and reads the records back.
//
// The records have the shape of internal/containment's, redefined here:
// that package's battery imports ndhc's DHCP client and sockd, which have
// no place in netlogind's [net], even in a test build.
package logincontainment
