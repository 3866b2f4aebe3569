// Package sandbox is a privilege-separation framework for Go programs on
// Linux: a role is described completely by a [Policy] value (user, chroot,
// capabilities, rlimits, Landlock rules, a seccomp allowlist with argument
// conditions), [Enter] applies that policy to every thread of the running
// process and then reads the result back from the kernel, and [Spawn]
// re-executes the program as a child role with named file descriptors and a
// liveness channel.
//
// The package knows nothing about the programs built on it: a DHCP client
// and a login daemon use it the same way.
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
