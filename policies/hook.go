//go:build linux

package policies

import (
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// HookUser is the hook role's default user.
const HookUser = "ndhc-hook"

// HookRoot is the hook role's root directory: the real one. The programs
// it runs are the operator's (--hook), and a hook must reach what its user
// may reach (chronyc's socket, /run/chrony-dhcp, a web service).
const HookRoot = "/"

// Hook is the policy of the role that exists only with --hook: it runs the
// operator's program once per lease event, as its own unprivileged user.
// The program inherits the role's sandbox (no_new_privs, no capability,
// the seccomp filter and the Landlock domain cross execve), so the sandbox
// must let a real hook do what its user may do:
//
//   - Landlock: read, write and execute everywhere (write where the user's
//     permissions allow), network not handled; signals and abstract UNIX
//     sockets of processes outside the role stay scoped.
//   - seccomp: a DEFAULT-ALLOW filter with a deny list of kernel attack
//     surface that no hook needs (answered ENOSYS); a foreign architecture
//     is killed.
//
// The runner itself reads nothing but the supervisor's checked messages
// and the lease file, and parses no network input.
func Hook() sandbox.Policy {
	nsWhy := "new namespaces (user namespaces above all) open kernel code to an unprivileged user; no hook needs them"
	deny := func(why string, names ...string) []sandbox.Syscall {
		out := make([]sandbox.Syscall, 0, len(names))
		for _, n := range names {
			if _, err := sandbox.SyscallNumber(n); err != nil {
				continue // not on this architecture
			}
			out = append(out, sandbox.Allow(n, why))
		}
		return out
	}
	var list []sandbox.Syscall
	list = append(list, deny("eBPF programs and maps: verifier and JIT attack surface", "bpf")...)
	list = append(list, deny("performance counters: a long record of kernel bugs", "perf_event_open")...)
	list = append(list, deny("userfaultfd: stalls kernel accesses, the usual tool to widen races", "userfaultfd")...)
	list = append(list, deny("kernel replacement and modules (need capabilities anyway)", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module")...)
	list = append(list, deny("kernel keyrings: attack surface, and no hook needs them", "keyctl", "add_key", "request_key")...)
	list = append(list, deny("tracing and reading other processes' memory", "ptrace", "process_vm_readv", "process_vm_writev")...)
	list = append(list, deny("mounts (no capability, and the new mount API's parsers)", "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr")...)
	list = append(list, deny(nsWhy, "unshare", "setns")...)
	list = append(list, deny("io_uring: a second system call interface, outside seccomp's view", "io_uring_setup", "io_uring_enter", "io_uring_register")...)
	list = append(list, deny("system administration a hook never does (needs capabilities anyway)", "swapon", "swapoff", "reboot", "acct", "quotactl", "chroot", "open_by_handle_at", "lookup_dcookie", "syslog", "vhangup")...)
	list = append(list, deny("clone3 passes its flags in memory, where seccomp cannot check them for new namespaces; ENOSYS makes glibc fall back to clone", "clone3")...)
	list = append(list,
		sandbox.AllowIf("clone", nsWhy, sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWUSER, "CLONE_NEWUSER"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWNS, "CLONE_NEWNS"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWNET, "CLONE_NEWNET"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWPID, "CLONE_NEWPID"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWIPC, "CLONE_NEWIPC"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWUTS, "CLONE_NEWUTS"),
			sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP")),
	)
	return sandbox.Policy{
		Role:   "hook",
		User:   HookUser,
		Group:  HookUser,
		Chroot: HookRoot,
		// A hook's programs open files, pipes and sockets as any program
		// does; the thread budget counts the hook user's threads.
		Rlimits: append(sandbox.BaseRlimits(roleThreads, 1024, sandbox.Unlimited), sandbox.Rlimit{Resource: "DATA", Max: 1 << 30}),
		Umask:   0o022,
		Landlock: sandbox.Landlock{
			RWDirs:       []string{"/"},
			AllowNetwork: true,
		},
		SeccompDefaultAllow: true,
		Seccomp:             list,
	}
}
