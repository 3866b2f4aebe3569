//go:build linux

package policies

import "github.com/ndhc-go/ndhc/sandbox"

// HostnameUser is the hostname role's default user.
const HostnameUser = "ndhc-host"

// Hostname is the policy of the role that exists only with --set-hostname:
// sethostname(2) needs CAP_SYS_ADMIN, a capability that reaches mount,
// namespaces, bpf and much more. The role keeps it, and its seccomp list is
// what bounds it: sethostname and the Go runtime, nothing else. It talks
// only to ifch, which sends it names it has already validated.
func Hostname() sandbox.Policy {
	return sandbox.Policy{
		Role:    "hostname",
		User:    HostnameUser,
		Group:   HostnameUser,
		Chroot:  EmptyDir,
		Caps:    []string{"CAP_SYS_ADMIN"},
		Rlimits: commonRlimits(32, 0),
		Umask:   0o077,
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.Allow("sethostname", "the role's one job: the hostname from the lease (RFC 2132 option 12), validated by ifch and again here"),
		),
		GoMaxProcs: roleMaxProcs,
	}
}
