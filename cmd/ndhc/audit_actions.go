package main

import (
	"errors"
	"net"
	"os"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
	"golang.org/x/sys/unix"
)

// auditActions is every action a probe child may be asked to run: the
// generic battery and each role's controls. The child looks the action up
// by name, so names are unique.
func auditActions() []probe.Action {
	all := append(probe.Battery(), ipcRoundTrip)
	for _, role := range []string{"supervisor", "engine", "sockd", "ifch", "hostname"} {
		all = append(all, roleControls(role)...)
	}
	return all
}

// auditActionsFor is the battery plus the role's own controls.
func auditActionsFor(role string) []probe.Action {
	return append(probe.Battery(), controls(role)...)
}

// ipcRoundTrip is the control every role shares: a message across a
// SOCK_SEQPACKET pair made before the sandbox, the way roles talk.
var ipcRoundTrip = probe.Action{
	Name: "control: IPC message over a socketpair", Allowed: true,
	Prepare: func() (any, error) {
		a, b, err := sandbox.SeqpacketPair()
		if err != nil {
			return nil, err
		}
		ca, err := sandbox.UnixConn(a)
		if err != nil {
			return nil, err
		}
		cb, err := sandbox.UnixConn(b)
		return [2]*net.UnixConn{ca, cb}, err
	},
	Do: func(s any) error {
		pair := s.([2]*net.UnixConn)
		if err := sandbox.Send(pair[0], []byte("ping")); err != nil {
			return err
		}
		_, err := sandbox.Recv(pair[1], 4)
		return err
	},
}

func controls(role string) []probe.Action {
	return append([]probe.Action{ipcRoundTrip}, roleControls(role)...)
}

func roleControls(role string) []probe.Action {
	switch role {
	case "engine":
		return []probe.Action{{
			Name: "control: write, fsync, rename and remove a file in the state directory", Allowed: true,
			Do: func(any) error {
				f, err := os.OpenFile("/.audit-probe.tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				_, werr := f.Write([]byte("{}\n"))
				serr := f.Sync()
				if err := errors.Join(werr, serr, f.Close()); err != nil {
					return err
				}
				if err := os.Rename("/.audit-probe.tmp", "/.audit-probe"); err != nil {
					return err
				}
				return os.Remove("/.audit-probe")
			},
		}}
	case "sockd":
		return []probe.Action{
			{Name: "control: socket(AF_PACKET, SOCK_DGRAM) with CAP_NET_RAW", Allowed: true, Do: func(any) error {
				fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
				if err == nil {
					unix.Close(fd)
				}
				return err
			}},
			{Name: "control: UDP socket bound to 127.0.0.1:68 with CAP_NET_BIND_SERVICE", Allowed: true, Do: func(any) error {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
					return err
				}
				return unix.Bind(fd, &unix.SockaddrInet4{Port: 68, Addr: [4]byte{127, 0, 0, 1}})
			}},
		}
	case "hostname":
		return []probe.Action{{
			// The current name, read before the sandbox, set again: proves
			// CAP_SYS_ADMIN and the seccomp entry without changing anything.
			Name: "control: sethostname (to the name it already has) with CAP_SYS_ADMIN", Allowed: true,
			Prepare: func() (any, error) { return os.Hostname() },
			Do:      func(s any) error { return unix.Sethostname([]byte(s.(string))) },
		}}
	case "ifch":
		return []probe.Action{{
			Name: "control: netlink link dump on a socket opened before the sandbox", Allowed: true,
			Prepare: func() (any, error) {
				fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
				if err != nil {
					return nil, err
				}
				return fd, unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
			},
			Do: func(s any) error { return netlinkLinkDump(s.(int)) },
		}}
	}
	return nil
}
