//go:build linux

package sandbox

import (
	"maps"
	"slices"

	"golang.org/x/sys/unix"
)

// CloneThreads is the condition under which clone(2) may run: exactly the
// flags with which the Go runtime creates an OS thread (runtime/os_linux.go
// cloneFlags, plus CLONE_SETTLS, which the amd64 assembly adds). Anything
// else would be a new process, or a thread in new namespaces, which no
// role needs.
var CloneThreads = []Cond{{Arg: 0, Op: Eq,
	Value: unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD | archCloneFlags,
	Label: "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_SYSVSEM|CLONE_THREAD" + archCloneLabel}}

// anyOf is one condition list per value: argument arg equals one of them.
func anyOf(arg int, vals map[uint64]string) [][]Cond {
	var out [][]Cond
	for _, v := range slices.Sorted(maps.Keys(vals)) {
		out = append(out, []Cond{{Arg: arg, Op: Eq, Value: v, Label: vals[v]}})
	}
	return out
}

// RuntimeBase is what a static (CGO_ENABLED=0) Go program needs after its
// sandbox is in place, provided every descriptor it polls was created
// before (so the network poller already exists). Every role's allowlist
// starts from it; [With] adds and narrows entries.
//
// The list is derived from the runtime's own system-call sites for the
// pinned Go version (runtime/sys_linux_*.s, os_linux.go, netpoll_epoll.go,
// mem_linux.go, signal_unix.go, vdso_linux_*.go) and then checked by
// running every role under a kill-process filter, on the tsc clocksource
// (clock_gettime served by the vDSO) and on hpet (the vDSO falls back to
// the real system call).
func RuntimeBase() []Syscall {
	base := []Syscall{
		Allow("futex", "runtime: locks, parking"),
		Allow("mmap", "runtime: heap and stacks"),
		Allow("munmap", "runtime: returning stacks and heap spans"),
		AllowIf("madvise", "runtime: returning memory (MADV_FREE, MADV_DONTNEED) and huge page hints (runtime/mem_linux.go); never MADV_HWPOISON and the like",
			anyOf(2, map[uint64]string{unix.MADV_DONTNEED: "MADV_DONTNEED", unix.MADV_FREE: "MADV_FREE", unix.MADV_HUGEPAGE: "MADV_HUGEPAGE",
				unix.MADV_NOHUGEPAGE: "MADV_NOHUGEPAGE", unix.MADV_COLLAPSE: "MADV_COLLAPSE"})...),
		AllowIf("clone", "runtime: new OS threads (threads only, never processes)", CloneThreads),
		Allow("exit", "runtime: thread exit"),
		Allow("exit_group", "process exit"),
		Allow("rt_sigprocmask", "runtime: signal masks on new threads"),
		Allow("rt_sigreturn", "runtime: return from signal handlers (preemption)"),
		Allow("rt_sigaction", "runtime: signal handlers for new signals, crash path"),
		Allow("sigaltstack", "runtime: signal stacks on new threads"),
		Allow("gettid", "runtime: thread ids for signals"),
		Allow("getpid", "runtime: preemption signals to its own threads"),
		AllowIf("tgkill", "runtime: preemption signals to its own threads: the process's own id only, whatever Landlock's scoping covers",
			[]Cond{{Arg: 0, Op: Eq, Self: true}}),
		Allow("nanosleep", "runtime: usleep in the scheduler"),
		Allow("restart_syscall", "kernel: resumes a nanosleep or futex wait that a signal (Go's preemption, SIGURG) interrupted"),
		Allow("sched_yield", "runtime: osyield in the scheduler"),
		Allow("sched_getaffinity", "runtime: GOMAXPROCS update once a second (Go >= 1.25)"),
		Allow("pread64", "runtime: GOMAXPROCS reads cgroup limits (Go >= 1.25); sandbox read-back of /proc status"),
		Allow("getrandom", "runtime and math/rand seeding; the vDSO's getrandom falls back to it"),
		Allow("clock_gettime", "runtime: nanotime and walltime; the vDSO serves them only on clocksources it can read (tsc), and makes the system call on the others (hpet, acpi_pm, some hypervisor clocks)"),
		Allow("epoll_pwait", "runtime: network poller"),
		Allow("epoll_ctl", "runtime: network poller registration"),
		Allow("read", "poller wakeups (eventfd), reads from held descriptors"),
		Allow("write", "poller wakeups (eventfd), log lines to stderr, IPC messages (Send)"),
		Allow("close", "closing descriptors"),
		AllowIf("fcntl", "os, net, internal/poll: descriptor flags when wrapping handed descriptors, close-on-exec duplicates; never F_SETOWN or F_SETSIG",
			anyOf(1, map[uint64]string{unix.F_GETFD: "F_GETFD", unix.F_SETFD: "F_SETFD", unix.F_GETFL: "F_GETFL", unix.F_SETFL: "F_SETFL", unix.F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC"})...),
		Allow("recvmsg", "IPC: messages on the role's SOCK_SEQPACKET channels"),
	}
	return append(base, archRuntime()...)
}

// With returns base plus extra; an entry of extra replaces the entry of
// the same name in base, so a role can narrow a runtime entry.
func With(base []Syscall, extra ...Syscall) []Syscall {
	out := make([]Syscall, 0, len(base)+len(extra))
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

// BaseRlimits are limits every role should have: no core dumps (a dump
// would write the role's memory to disk), no locked memory, a thread
// budget, and the descriptors and file size the role needs.
//
// RLIMIT_NPROC counts every thread of the real uid on the whole system,
// not the processes of the role: 0 would stop the Go runtime from starting
// the threads it needs (fatal "newosproc", EAGAIN), so roles get a budget
// and seccomp refuses new processes (see [CloneThreads]).
func BaseRlimits(threads, nofile, fsize uint64) []Rlimit {
	return []Rlimit{
		{Resource: "CORE", Max: 0},
		{Resource: "NPROC", Max: threads},
		{Resource: "NOFILE", Max: nofile},
		{Resource: "FSIZE", Max: fsize},
		{Resource: "MEMLOCK", Max: 0},
	}
}
