//go:build linux

package policies

import (
	"runtime"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Default users and directories. contrib/sysusers.d/ndhc.conf creates the
// users (the package, `make install-users`), contrib/tmpfiles.d/ndhc.conf
// the directories; the supervisor creates EmptyDir (root-owned, mode 0755,
// empty) at start-up as well.
const (
	SupervisorUser = "ndhc-super"
	EngineUser     = "ndhc"
	SockdUser      = "ndhc-sockd"
	IfchUser       = "ndhc-ifch"
	StateDir       = "/var/lib/ndhc"
	EmptyDir       = "/run/ndhc/empty"
)

// roleThreads is each role's thread budget, RLIMIT_NPROC. The kernel
// counts it over every thread of every process of the role's user, so it
// is shared: by the same role of every instance (all engines run as
// ndhc) and by anything else running as that user. A role uses 5 to 8
// threads (the audit's read-back counts them); 512 leaves room for many
// instances and for other processes of the user, and still bounds a
// thread bomb in a compromised role (a few megabytes of kernel stacks).
// The service files add a per-instance limit (systemd's TasksMax), which
// counts the instance's own tasks only. Measured before: at 64, a second
// instance, or 60 threads of another process of the user, made a role
// die in newosproc.
const roleThreads = 512

// roleMaxProcs is the GOMAXPROCS of the supervisor and the long-running
// roles (not the hook, whose programs must not inherit it): each waits on
// a handful of descriptors and never has two goroutines worth running at
// once. One P
// instead of the machine's count saves each role about a quarter of a
// megabyte of private memory and, under load, an OS thread (measured with
// tools/startprobe: 1.61-1.81 MB private anonymous per role at 2 Ps,
// 1.38-1.52 MB at 1).
const roleMaxProcs = 1

// goarch is the architecture the policies are written for: the running
// one, or in tests each one the project supports.
var goarch = runtime.GOARCH

// Architectures lists the architectures whose allowlists the project
// measures and tests (the seccomp filter checks the running one first).
var Architectures = []string{"amd64", "arm64"}

// roleData limits each role's private writable mappings (RLIMIT_DATA). A
// role holds 2 to 8 MB. It is a brake, not a bound: the Go runtime
// reserves heap address space without write access and maps it writable
// in place, which the kernel does not always charge to the limit (a
// static Go program under `ulimit -d 262144` allocated 1 GiB in 3 of 30
// runs here), so the service manager's memory limit (MemoryMax in the
// unit) is the dependable bound.
const roleData = 256 << 20

// commonRlimits bounds every role: sandbox.BaseRlimits with the roles'
// thread budget, and the memory bound.
func commonRlimits(nofile, fsize uint64) []sandbox.Rlimit {
	return append(sandbox.BaseRlimits(roleThreads, nofile, fsize), sandbox.Rlimit{Resource: "DATA", Max: roleData})
}

// All returns the policy of every role ndhc spawns, in start-up order (the
// hostname role runs only with --set-hostname).
func All() []sandbox.Policy {
	return []sandbox.Policy{Supervisor(), Engine(), Sockd(), Ifch(), Hostname(), DNS(), Hook()}
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
