//go:build linux

package policies

import (
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// Sockd is the policy of the role that creates sockets for the engine and
// transmits its frames: AF_PACKET sockets (CAP_NET_RAW) with BPF filters it
// attaches and locks, UDP sockets bound to port 68 (CAP_NET_BIND_SERVICE)
// and connected to the server. socket(2) is allowed for those only; the
// NETLINK_ROUTE socket through which it checks that an address is the
// interface's is opened before the sandbox, and without CAP_NET_ADMIN it
// only reads through it.
func Sockd() sandbox.Policy {
	return sandbox.Policy{
		Role:    "sockd",
		User:    SockdUser,
		Group:   SockdUser,
		Chroot:  EmptyDir,
		Caps:    []string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"},
		Rlimits: commonRlimits(32, 0),
		Umask:   0o077,
		Landlock: sandbox.Landlock{
			// The DHCP client port, for kernels that restrict UDP (ABI 10).
			BindUDP: []uint16{68},
			SendUDP: []uint16{67},
		},
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.AllowIf("socket", "packet sockets for DHCP and ARP; UDP sockets for renewal",
				[]sandbox.Cond{{Arg: 0, Op: sandbox.Eq, Value: unix.AF_PACKET, Label: "AF_PACKET"}},
				[]sandbox.Cond{
					{Arg: 0, Op: sandbox.Eq, Value: unix.AF_INET, Label: "AF_INET"},
					{Arg: 1, Op: sandbox.Eq, Value: unix.SOCK_DGRAM | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC, Label: "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"},
				}),
			sandbox.AllowIf("setsockopt", "internal/sockd: attach and lock the BPF filters, PACKET_AUXDATA on the DHCP socket, SO_REUSEADDR and SO_BINDTODEVICE on the UDP socket (never SO_DETACH_FILTER)",
				sockopt(unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, "SO_ATTACH_FILTER"),
				sockopt(unix.SOL_SOCKET, unix.SO_LOCK_FILTER, "SO_LOCK_FILTER"),
				sockopt(unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR"),
				sockopt(unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "SO_BINDTODEVICE"),
				[]sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: unix.SOL_PACKET, Label: "SOL_PACKET"}, {Arg: 2, Op: sandbox.Eq, Value: unix.PACKET_AUXDATA, Label: "PACKET_AUXDATA"}}),
			sandbox.AllowIf("getsockopt", "mdlayher/socket reads SO_TYPE of each socket it wraps",
				sockopt(unix.SOL_SOCKET, unix.SO_TYPE, "SO_TYPE")),
			sandbox.Allow("bind", "packet sockets to the interface, UDP sockets to port 68"),
			sandbox.Allow("getsockname", "packet library reads back the bound address"),
			sandbox.Allow("connect", "UDP sockets connected to the lease's server before they are handed over"),
			sandbox.Allow("sendmsg", "IPC: a socket handed to the engine (SCM_RIGHTS)"),
			sandbox.Allow("sendto", "the engine's broadcasts and ARP frames, checked and built here; the RTM_GETADDR request on the netlink socket opened before the sandbox"),
			sandbox.Allow("recvfrom", "the RTM_GETADDR dump"),
		),
		GoMaxProcs: roleMaxProcs,
	}
}

// sockopt is the condition list level == SOL_SOCKET (or another level) and
// optname == opt, for setsockopt and getsockopt entries.
func sockopt(level, opt uint64, label string) []sandbox.Cond {
	levelLabel := "SOL_SOCKET"
	if level != unix.SOL_SOCKET {
		levelLabel = ""
	}
	return []sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: level, Label: levelLabel}, {Arg: 2, Op: sandbox.Eq, Value: opt, Label: label}}
}
