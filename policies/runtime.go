//go:build linux

package policies

import "github.com/ndhc-go/ndhc/sandbox"

// Default users and directories. `make install` creates the users; the
// supervisor creates EmptyDir (root-owned, mode 0755, empty) at start-up.
const (
	SupervisorUser = "ndhc-super"
	EngineUser     = "ndhc"
	SockdUser      = "ndhc-sockd"
	IfchUser       = "ndhc-ifch"
	StateDir       = "/var/lib/ndhc"
	EmptyDir       = "/run/ndhc/empty"
)

// roleThreads is each role's thread budget (RLIMIT_NPROC, counted per
// uid; every role has its own uid).
const roleThreads = 64

// commonRlimits bounds every role: sandbox.BaseRlimits with the roles'
// thread budget.
func commonRlimits(nofile, fsize uint64) []sandbox.Rlimit {
	return sandbox.BaseRlimits(roleThreads, nofile, fsize)
}

// All returns the policy of every role ndhc spawns, in start-up order (the
// hostname role runs only with --set-hostname).
func All() []sandbox.Policy {
	return []sandbox.Policy{Supervisor(), Engine(), Sockd(), Ifch(), Hostname()}
}

// ByRole returns the named role's policy: the roles of All, and ifchd.
func ByRole(role string) (sandbox.Policy, bool) {
	for _, p := range append(All(), Ifchd()) {
		if p.Role == role {
			return p, true
		}
	}
	return sandbox.Policy{}, false
}
