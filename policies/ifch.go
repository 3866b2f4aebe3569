//go:build linux

package policies

import (
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/sandbox"
)

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
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.Allow("sendto", "ifch/apply Netlink: requests on the NETLINK_ROUTE handle opened before the sandbox"),
			sandbox.Allow("recvfrom", "ifch/apply Netlink: replies on the NETLINK_ROUTE handle opened before the sandbox"),
			sandbox.Allow("getsockname", "vishvananda/netlink checks the reply's port id on every request; net.Accept reads the local address"),
			sandbox.Allow("pwrite64", "ifch/apply ResolvConf: one write at offset 0 through the descriptor held since start-up"),
			sandbox.Allow("ftruncate", "ifch/apply ResolvConf: cut the padding after the write"),
			sandbox.Allow("fsync", "ifch/apply ResolvConf: durability of the rewrite"),
		),
		GoMaxProcs: roleMaxProcs,
	}
}

// Ifchd is the policy of cmd/ifchd, the ifch role as a standalone daemon:
// the ifch policy plus accepting peers on the listening socket opened
// before the sandbox and reading their credentials.
func Ifchd() sandbox.Policy {
	p := Ifch()
	p.Role = "ifchd"
	// ifchd logs to its own stderr, which may be an appended log file of
	// any size: FSIZE would drop its lines. It opens no file after start;
	// what else it writes is resolv.conf through its held descriptor,
	// bounded by its code (a few kilobytes).
	p.Rlimits = commonRlimits(32, sandbox.Unlimited)
	p.Seccomp = sandbox.With(p.Seccomp,
		sandbox.AllowIf("accept4", "peers on the listening socket opened before the sandbox (flags as Go's net package passes them)",
			sandbox.Arg(3, sandbox.Eq, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, "SOCK_CLOEXEC|SOCK_NONBLOCK")),
		sandbox.AllowIf("getsockopt", "SO_PEERCRED of each accepted peer",
			[]sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: unix.SOL_SOCKET, Label: "SOL_SOCKET"}, {Arg: 2, Op: sandbox.Eq, Value: unix.SO_PEERCRED, Label: "SO_PEERCRED"}}),
	)
	return p
}
