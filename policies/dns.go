//go:build linux

package policies

import (
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/sandbox"
)

// The dns role's user and the system bus.
const (
	DNSUser = "ndhc-dns"
	// BusSocket is the system bus's socket (--dbus-socket); the dns
	// role's chroot is its directory, BusDir.
	BusSocket = "/run/dbus/system_bus_socket"
	BusDir    = "/run/dbus"
)

// DNS is the policy of the role that exists only with --dns resolved: it
// hands the lease's DNS servers and search domains to systemd-resolved
// over the system bus. It has no capability. Its chroot is the bus
// socket's directory (root-owned, not writable by it), because D-Bus
// credits a connection to the uid that calls connect(2): the role must
// connect after it dropped root, so after the chroot, and the socket must
// be reachable from inside. Landlock grants no filesystem right but
// connecting to that one socket (resolve_unix, ABI 9; before ABI 9 Landlock
// does not govern connect(2) on a pathname socket at all, and the chroot
// is what bounds it). The seccomp list is the Go runtime, the channel to
// ifch, and what godbus does on one AF_UNIX stream connection, measured
// with strace -f on the lab test.
func DNS() sandbox.Policy {
	return sandbox.Policy{
		Role:    "dns",
		User:    DNSUser,
		Group:   DNSUser,
		Chroot:  BusDir,
		Rlimits: commonRlimits(32, 0),
		Umask:   0o077,
		Landlock: sandbox.Landlock{
			ConnectUnix: []string{"/" + "system_bus_socket"},
		},
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.AllowIf("socket", "net.Dial(\"unix\") for the system bus: a stream socket of family AF_UNIX, nothing else",
				[]sandbox.Cond{
					{Arg: 0, Op: sandbox.Eq, Value: unix.AF_UNIX, Label: "AF_UNIX"},
					{Arg: 1, Op: sandbox.Eq, Value: unix.SOCK_STREAM | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC, Label: "SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC"},
					{Arg: 2, Op: sandbox.Eq, Value: 0, Label: "0"},
				}),
			sandbox.Allow("connect", "net.Dial: connect to the bus socket, the one socket reachable in the chroot"),
			sandbox.Allow("getsockname", "net.Dial: the local address after connect"),
			sandbox.Allow("getpeername", "net.Dial: the remote address after connect"),
			sandbox.AllowIf("getsockopt", "net.Dial: SO_ERROR when connect(2) returned EAGAIN or EINPROGRESS",
				[]sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: unix.SOL_SOCKET, Label: "SOL_SOCKET"}, {Arg: 2, Op: sandbox.Eq, Value: unix.SO_ERROR, Label: "SO_ERROR"}}),
			sandbox.Allow("sendmsg", "godbus: the authentication's NUL byte with SCM_CREDENTIALS, and every message (WriteMsgUnix)"),
			sandbox.Allow("getuid", "godbus: the EXTERNAL authentication's uid and the SCM_CREDENTIALS it sends"),
			sandbox.Allow("getgid", "godbus: the SCM_CREDENTIALS it sends with the authentication's NUL byte"),
		),
		GoMaxProcs: roleMaxProcs,
	}
}
