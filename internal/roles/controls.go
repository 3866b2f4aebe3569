//go:build linux

package roles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// The audit's control actions: what each role must still be able to do
// inside its sandbox. An audit that only showed refusals could pass with a
// sandbox so tight the daemon cannot run.

func engineControls() []probe.Action {
	return []probe.Action{{
		Name: "control: write and fsync its lease file in place", Allowed: true,
		Do: func(any) error {
			f, err := os.OpenFile("/"+engine.LeaseFile, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				return err
			}
			_, werr := f.Write([]byte("{}\n"))
			return errors.Join(werr, f.Sync(), f.Close())
		},
	}}
}

func sockdControls() []probe.Action {
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
}

func hostnameControls() []probe.Action {
	return []probe.Action{{
		// The current name, read before the sandbox, set again: proves
		// CAP_SYS_ADMIN and the seccomp entry without changing anything.
		Name: "control: sethostname (to the name it already has) with CAP_SYS_ADMIN", Allowed: true,
		Prepare: func() (any, error) { return os.Hostname() },
		Do:      func(s any) error { return unix.Sethostname([]byte(s.(string))) },
	}}
}

func ifchControls() []probe.Action {
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

// netlinkLinkDump sends an RTM_GETLINK dump request on fd and reads replies
// until NLMSG_DONE: the audit's proof that ifch can still talk to the kernel
// through the socket it opened before the sandbox.
func netlinkLinkDump(fd int) error {
	const hdrLen = unix.NLMSG_HDRLEN
	req := make([]byte, hdrLen+unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[hdrLen] = unix.AF_UNSPEC
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for range 1000 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return unix.Errno(-e)
					}
				}
				return errors.New("netlink error")
			}
		}
	}
	return fmt.Errorf("netlink dump did not end")
}

func dnsControls() []probe.Action {
	return []probe.Action{{
		// The bus itself is not connected to: the audit runs where no
		// bus may run, and a connection would be credited to the role.
		Name: "control: socket(AF_UNIX, SOCK_STREAM) as net.Dial makes it for the system bus", Allowed: true,
		Do: func(any) error {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		},
	}}
}
