package policies

import "github.com/ndhc-go/ndhc/sandbox"

// Ifch is the policy of the only role that changes the interface: it keeps
// CAP_NET_ADMIN alone, talks to the kernel through one netlink socket opened
// before the sandbox, and rewrites resolv.conf through a descriptor opened
// before the sandbox. It cannot open any path and creates no socket.
func Ifch() sandbox.Policy {
	return sandbox.Policy{
		Role:    "ifch",
		User:    IfchUser,
		Group:   IfchUser,
		Chroot:  EmptyDir,
		Caps:    []string{"CAP_NET_ADMIN"},
		Rlimits: commonRlimits(32, 1<<16),
		Umask:   0o022,
		Seccomp: with(runtimeBase(),
			sandbox.Allow("sendto", "netlink requests on the handle opened before the sandbox"),
			sandbox.Allow("recvfrom", "netlink replies on the handle opened before the sandbox"),
			sandbox.Allow("getsockname", "netlink library checks the socket's port id"),
			sandbox.Allow("pwrite64", "resolv.conf through the descriptor held since start-up"),
			sandbox.Allow("ftruncate", "resolv.conf through the descriptor held since start-up"),
			sandbox.Allow("fsync", "resolv.conf durability"),
		),
	}
}
