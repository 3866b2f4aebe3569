//go:build linux

package policies

import (
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// Sockd is the policy of the role that creates sockets for the engine:
// AF_PACKET sockets (CAP_NET_RAW) with BPF filters it attaches and locks, and
// UDP sockets bound to port 68 (CAP_NET_BIND_SERVICE). socket(2) is allowed
// for those families only.
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
		Seccomp: with(runtimeBase(),
			sandbox.AllowIf("socket", "packet sockets for DHCP and ARP; UDP sockets for renewal",
				[]sandbox.Cond{{Arg: 0, Op: sandbox.Eq, Value: unix.AF_PACKET, Label: "AF_PACKET"}},
				[]sandbox.Cond{
					{Arg: 0, Op: sandbox.Eq, Value: unix.AF_INET, Label: "AF_INET"},
					{Arg: 1, Op: sandbox.Eq, Value: unix.SOCK_DGRAM | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC, Label: "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"},
				}),
			sandbox.Allow("setsockopt", "attach and lock BPF filters, SO_BROADCAST, SO_BINDTODEVICE"),
			sandbox.Allow("getsockopt", "checking socket options after setting them"),
			sandbox.Allow("bind", "packet sockets to the interface, UDP sockets to port 68"),
			sandbox.Allow("getsockname", "packet library reads back the bound address"),
		),
	}
}
