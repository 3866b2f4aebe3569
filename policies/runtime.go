//go:build linux

package policies

import (
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

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

// Go runtime thread creation: clone with CLONE_VM|CLONE_THREAD and the
// rest of the runtime's flags. Anything without CLONE_THREAD would be a new
// process, which no role ever needs.
var cloneThreadOnly = []sandbox.Cond{{Arg: 0, Op: sandbox.BitsSet, Value: unix.CLONE_VM | unix.CLONE_THREAD, Label: "CLONE_VM|CLONE_THREAD"}}

// runtimeBase is what a static (CGO_ENABLED=0) Go 1.26 program needs after
// its sandbox is in place, when every descriptor it polls was created before
// (so the poller already exists). Measured with strace and leave-one-out
// runs under kill-process; see DESIGN.md.
func runtimeBase() []sandbox.Syscall {
	return []sandbox.Syscall{
		sandbox.Allow("futex", "runtime: locks, parking"),
		sandbox.Allow("mmap", "runtime: heap and stacks"),
		sandbox.Allow("munmap", "runtime: returning stacks and heap spans"),
		sandbox.Allow("madvise", "runtime: scavenger returns memory"),
		sandbox.AllowIf("clone", "runtime: new OS threads (threads only, never processes)", cloneThreadOnly),
		sandbox.Allow("exit", "runtime: thread exit"),
		sandbox.Allow("exit_group", "process exit"),
		sandbox.Allow("rt_sigprocmask", "runtime: signal masks on new threads"),
		sandbox.Allow("rt_sigreturn", "runtime: return from signal handlers (preemption)"),
		sandbox.Allow("rt_sigaction", "runtime: signal handlers for new signals, crash path"),
		sandbox.Allow("sigaltstack", "runtime: signal stacks on new threads"),
		sandbox.Allow("gettid", "runtime: thread ids for signals"),
		sandbox.Allow("getpid", "runtime: preemption signals to its own threads"),
		sandbox.Allow("tgkill", "runtime: preemption signals to its own threads (Landlock scoping refuses other processes)"),
		sandbox.Allow("nanosleep", "runtime: usleep in the scheduler"),
		sandbox.Allow("restart_syscall", "kernel: resumes a nanosleep or futex wait that a signal (Go's preemption, SIGURG) interrupted"),
		sandbox.Allow("sched_yield", "runtime: osyield in the scheduler"),
		sandbox.Allow("sched_getaffinity", "runtime: GOMAXPROCS update once a second (Go >= 1.25)"),
		sandbox.Allow("pread64", "runtime: GOMAXPROCS reads cgroup limits (Go >= 1.25); sandbox read-back of /proc status"),
		sandbox.Allow("getrandom", "runtime and math/rand seeding, DHCP transaction ids"),
		sandbox.Allow("epoll_pwait", "runtime: network poller"),
		sandbox.Allow("epoll_ctl", "runtime: network poller registration"),
		sandbox.Allow("read", "poller wakeups (eventfd), reads from held descriptors"),
		sandbox.Allow("write", "poller wakeups (eventfd), log lines to stderr"),
		sandbox.Allow("close", "closing descriptors"),
		sandbox.Allow("fcntl", "os: descriptor flags when wrapping descriptors"),
		sandbox.Allow("sendmsg", "IPC: messages on the role's SOCK_SEQPACKET channels"),
		sandbox.Allow("recvmsg", "IPC: messages on the role's SOCK_SEQPACKET channels"),
	}
}

// with returns base plus extra; a name in extra replaces the same name in
// base, so a role can narrow an entry.
func with(base []sandbox.Syscall, extra ...sandbox.Syscall) []sandbox.Syscall {
	out := make([]sandbox.Syscall, 0, len(base)+len(extra))
	replaced := map[string]bool{}
	for _, e := range extra {
		replaced[e.Name] = true
	}
	for _, b := range base {
		if !replaced[b.Name] {
			out = append(out, b)
		}
	}
	return append(out, extra...)
}

// commonRlimits bounds every role: no core dumps, a thread budget (processes
// are refused by seccomp; RLIMIT_NPROC 0 would also stop the Go runtime from
// starting the threads it needs, which kills it), and few descriptors.
func commonRlimits(nofile, fsize uint64) []sandbox.Rlimit {
	return []sandbox.Rlimit{
		{Resource: "CORE", Max: 0},
		{Resource: "NPROC", Max: 64},
		{Resource: "NOFILE", Max: nofile},
		{Resource: "FSIZE", Max: fsize},
		{Resource: "MEMLOCK", Max: 0},
	}
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
