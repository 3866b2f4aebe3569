//go:build linux

package sockd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"

	"github.com/mdlayher/packet"
	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Interface is the one interface a sockd serves, resolved by the
// supervisor before any sandbox.
type Interface struct {
	Index int
	Name  string
	MAC   dhcp.MAC
}

// Serve answers socket requests on conn until the engine closes it (nil) or
// sends something malformed or for another interface (an error: the caller
// exits). Failures to create a socket are answered with their errno.
func Serve(conn *net.UnixConn, ifi Interface, log *slog.Logger) error {
	for {
		b, err := sandbox.Recv(conn, RequestSize)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		var req Request
		if err := req.UnmarshalBinary(b); err != nil {
			return err
		}
		if int(req.Ifindex) != ifi.Index {
			return fmt.Errorf("sockd: request for interface %d, serving %d (%s)", req.Ifindex, ifi.Index, ifi.Name)
		}
		f, err := Open(req, ifi)
		rep := Reply{Kind: req.Kind}
		if err != nil {
			var errno syscall.Errno
			if !errors.As(err, &errno) {
				errno = unix.EIO
			}
			rep.Errno = uint32(errno)
			log.Warn("socket request failed", "kind", req.Kind.String(), "err", err)
		}
		out, _ := rep.MarshalBinary()
		if f == nil {
			if err := sandbox.Send(conn, out); err != nil {
				return err
			}
			continue
		}
		err = sandbox.SendFD(conn, out, int(f.Fd()))
		f.Close()
		if err != nil {
			return err
		}
		log.Debug("socket handed over", "kind", req.Kind.String(), "addr", req.Addr)
	}
}

// Open creates the socket req asks for on ifi, with its filter attached and
// locked (SO_LOCK_FILTER: the engine that receives it cannot detach or
// replace the filter).
func Open(req Request, ifi Interface) (*os.File, error) {
	nifi := &net.Interface{Index: ifi.Index, Name: ifi.Name, HardwareAddr: net.HardwareAddr(ifi.MAC[:])}
	switch req.Kind {
	case client.SocketRaw:
		f, err := packetSocket(nifi, unix.ETH_P_IP, dhcp.DHCPFilter())
		if err != nil {
			return nil, err
		}
		// PACKET_AUXDATA tells the engine when a frame's UDP checksum is
		// only partial (checksum offload on a local veth peer).
		if err := unix.SetsockoptInt(int(f.Fd()), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	case client.SocketARP:
		return packetSocket(nifi, unix.ETH_P_ARP, dhcp.ARPFilter())
	case client.SocketARPDefense:
		filter, err := dhcp.ARPDefenseFilter(req.Addr, ifi.MAC)
		if err != nil {
			return nil, err
		}
		return packetSocket(nifi, unix.ETH_P_ARP, filter)
	case client.SocketUDP:
		return udpSocket(ifi.Name, req.Addr.As4())
	}
	return nil, fmt.Errorf("sockd: unknown kind %d", req.Kind)
}

// packetSocket opens a datagram packet socket: mdlayher/packet creates it
// with protocol 0, attaches the filter and only then binds to the protocol,
// so no unfiltered frame is ever queued.
func packetSocket(ifi *net.Interface, proto int, filter []bpf.RawInstruction) (*os.File, error) {
	c, err := packet.Listen(ifi, packet.Datagram, proto, &packet.Config{Filter: filter})
	if err != nil {
		return nil, unwrapErrno(err)
	}
	defer c.Close()
	return dupLocked(c)
}

func udpSocket(ifname string, addr [4]byte) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "udp")
	for _, step := range []func() error{
		func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) },
		func() error { return unix.BindToDevice(fd, ifname) },
		func() error { return unix.Bind(fd, &unix.SockaddrInet4{Port: dhcp.ClientPort, Addr: addr}) },
	} {
		if err := step(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// dupLocked locks the filter of c's socket and returns a duplicate of its
// descriptor for SCM_RIGHTS.
func dupLocked(c *packet.Conn) (*os.File, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		if opErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1); opErr != nil {
			return
		}
		dup, opErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr
	}
	return os.NewFile(uintptr(dup), "packet"), nil
}

func unwrapErrno(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
