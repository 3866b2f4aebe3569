// Package sandbox is a privilege-separation framework for Go programs on
// Linux: a role is described completely by a [Policy] value (user, chroot,
// capabilities, rlimits, Landlock rules, a seccomp allowlist with argument
// conditions), [Enter] applies that policy to every thread of the running
// process and then reads the result back from the kernel, and [Spawn]
// re-executes the program as a child role with named file descriptors, a
// setup message (the policy, the operator's degrade list, the child's
// configuration) and a liveness channel.
//
// The package knows nothing about the programs built on it: a DHCP client
// and a login daemon use it the same way. Above Spawn, a [Group] supervises
// a program's children: it starts them in parallel (their forks in the
// order given), waits for each one's ready notice ([Inherited.Ready]),
// reports what they send, how they exit (fatal for a daemon's fixed roles,
// expected for per-connection children) and the signals the parent gets,
// as [Event] values. [Group.StartThen] runs a function of the parent's
// (its own [Enter]) between the forks and the go it gives held children
// ([Spec.Hold]), so that a child that reads untrusted input begins only
// once its parent is sandboxed. [RuntimeBase] is the Go runtime's part of
// every allowlist; [DescribePolicy] and the probe subpackage's audit
// report on any set of policies.
//
// Two helpers serve a daemon's start-up and its steady state: [Prewarm]
// runs the os package's one-time checks before the first Spawn needs them,
// and [Trim] (or [TrimWhenQuiet], with [Busy] marking work) gives back the
// heap and the mapped pages of the program's read-only image that
// start-up touched and the daemon no longer uses.
//
// # Limits
//
// What the framework cannot do, or does only under conditions:
//
//   - cgo: changing capabilities, securebits and no_new_privs on every
//     thread uses syscall.AllThreadsSyscall, which refuses to run in a
//     program linked with cgo ([CheckBuild] tells a daemon so before it
//     starts anything). A role that needs a C library (PAM) must
//     be a process of its own whose sandbox is built differently, or must
//     apply the per-thread layers before any other thread exists.
//   - Roles never run as root: a policy naming uid or gid 0 is refused.
//     A child that must stay root (a login daemon's session process) is
//     outside what [Enter] applies, by design.
//   - no_new_privs is always set and the securebits are locked (no setuid
//     fix-up, no root privileges, keep-caps locked): a role can never
//     regain a capability, not even by executing a setuid program, which
//     its allowlist forbids anyway.
//   - A role that runs programs it does not know (a hook) cannot live
//     with an allowlist: [Policy.SeccompDefaultAllow] turns the list into
//     a deny list (ENOSYS; a foreign architecture is killed) and
//     [Landlock.AllowNetwork] leaves the network unhandled. Both are
//     explicit, refused with capabilities or port rules, and shown
//     loudly by the policy report and the audit; no other role uses them.
//   - RLIMIT_NPROC counts every thread (not process) of the real uid on
//     the whole system. The Go runtime needs threads, so the limit is a
//     thread budget, and processes are refused by seccomp ([CloneThreads]).
//     Two instances of a program, or any other process, running as the
//     same uid spend the same budget.
//   - Each child costs its parent one locked OS thread for the child's
//     whole life: the parent-death signal fires when the thread that
//     forked the child exits.
//   - Landlock rights grew over kernel versions; rights the kernel lacks
//     are reported, with the layer that covers each gap, not faked.
//
// Enter applies the layers in a fixed order, each on all threads:
//
//	rlimits -> umask -> chroot + chdir -> securebits -> setgroups/setgid/setuid
//	-> bounding set and ambient set -> capset -> no_new_privs
//	-> Landlock -> seccomp (TSYNC) -> read back /proc/self/status
//
// Strict by default: when a layer cannot be applied (a kernel without
// Landlock, seccomp refused, a capability that cannot be dropped), Enter
// fails with an error naming the layer. [Options.Degrade] lists the layers an
// operator explicitly allows to be missing; each one used is logged at
// warning level with what was skipped.
//
// Landlock is a layer with rights that grew over kernel versions (ABI 1:
// filesystem; 4: TCP; 6: signal and abstract socket scoping; 10: UDP). The
// layer counts as present when the kernel has ABI 1 or later; the rights the
// kernel lacks are listed in the [Report] so that an audit shows them, next to
// the layer that covers the gap (usually seccomp argument filters on socket).
//
// On systems other than Linux every entry point returns [ErrUnsupported].
package sandbox
