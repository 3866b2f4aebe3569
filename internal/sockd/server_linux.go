//go:build linux

package sockd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"
)

// Interface is the one interface a sockd serves, resolved by the
// supervisor before any sandbox.
type Interface struct {
	Index int
	Name  string
	MAC   dhcp.MAC
}

// Serve answers requests on conn until the engine closes it (nil) or sends
// something malformed, for another interface or from another hardware
// address (an error: the caller exits). Failures to create a socket or
// send a frame, and addresses the interface does not hold, are answered
// with their errno.
func Serve(conn *net.UnixConn, ifi Interface, addrs *Addrs, log *slog.Logger) error {
	return serve(conn, ifi, addrs, log, rate.NewLimiter(TransmitRate, TransmitBurst))
}

func serve(conn *net.UnixConn, ifi Interface, addrs *Addrs, log *slog.Logger, limit *rate.Limiter) error {
	s := &server{ifi: ifi, addrs: addrs, log: log, sendFD: -1, limit: limit}
	defer s.close()
	for {
		b, err := sandbox.RecvUpTo(conn, MaxRequestSize)
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
		rep := Reply{Op: req.Op, Kind: req.Kind}
		var f *os.File
		switch req.Op {
		case OpOpen:
			f, err = s.open(req)
		case OpTransmit:
			if err = s.checkSender(req); err != nil {
				return err
			}
			if !s.limit.Allow() {
				err = fmt.Errorf("over %v frames a second: %w", TransmitRate, unix.EAGAIN)
				break
			}
			err = s.transmit(req)
		}
		if err != nil {
			var errno syscall.Errno
			if !errors.As(err, &errno) {
				errno = unix.EIO
			}
			rep.Errno = uint32(errno)
			log.Warn("request refused", "op", req.Op.String(), "kind", req.Kind.String(), "err", err)
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
		log.Debug("socket handed over", "kind", req.Kind.String(), "addr", req.Addr, "peer", req.Peer)
	}
}

// String names the op in logs.
func (o Op) String() string {
	switch o {
	case OpOpen:
		return "open"
	case OpTransmit:
		return "transmit"
	}
	return fmt.Sprintf("op-%d", uint8(o))
}

// TransmitRate and TransmitBurst bound what sockd transmits for the
// engine: an honest client sends a handful of frames per exchange (a
// DHCPDISCOVER and DHCPREQUEST, three ARP probes, two announcements, a few
// gateway queries), so a compromised engine cannot flood the link through
// sockd. A frame over the limit is refused with EAGAIN.
const (
	TransmitRate  rate.Limit = 8
	TransmitBurst int        = 32
)

// server is one sockd's state: its interface and the packet socket it
// transmits on, opened at the first transmission.
type server struct {
	ifi    Interface
	limit  *rate.Limiter
	addrs  *Addrs
	log    *slog.Logger
	sendFD int
	buf    []byte
}

func (s *server) close() {
	if s.sendFD >= 0 {
		unix.Close(s.sendFD)
	}
}

// open creates the socket req asks for. A UDP socket's local address must
// be one the interface holds: binding alone would accept any address of
// the host.
func (s *server) open(req Request) (*os.File, error) {
	if req.Kind == client.SocketUDP {
		if err := s.holds(req.Addr); err != nil {
			return nil, err
		}
	}
	return Open(req, s.ifi)
}

// checkSender fails, fatally for the engine, when a frame to transmit
// claims another hardware address than the interface's: no correct engine
// sends one.
func (s *server) checkSender(req Request) error {
	var hw dhcp.MAC
	switch req.Kind {
	case client.SocketRaw:
		hw = dhcp.MAC(req.Payload[28:34])
	case client.SocketARP:
		a, _ := dhcp.ParseARP(req.Payload)
		hw = a.SenderHW
	}
	if hw != s.ifi.MAC {
		return fmt.Errorf("sockd: %s frame from hardware address %v, serving %v (%s)", req.Kind, hw, s.ifi.MAC, s.ifi.Name)
	}
	return nil
}

// transmit builds and sends the frame req carries, to the Ethernet
// broadcast address on the interface. A source address must be one the
// interface holds.
func (s *server) transmit(req Request) error {
	var proto uint16
	var frame []byte
	switch req.Kind {
	case client.SocketRaw:
		src := req.Addr
		if src.IsValid() {
			if err := s.holds(src); err != nil {
				return err
			}
		} else {
			src = netip.IPv4Unspecified()
		}
		d := dhcp.Datagram{
			Src:     netip.AddrPortFrom(src, dhcp.ClientPort),
			Dst:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcp.ServerPort),
			TTL:     64,
			Payload: req.Payload,
		}
		b, err := d.AppendBinary(s.buf[:0])
		if err != nil {
			return err
		}
		s.buf, frame, proto = b, b, unix.ETH_P_IP
	case client.SocketARP:
		a, _ := dhcp.ParseARP(req.Payload)
		if !a.SenderIP.IsUnspecified() {
			if err := s.holds(a.SenderIP); err != nil {
				return err
			}
		}
		frame, proto = req.Payload, unix.ETH_P_ARP
	}
	if s.sendFD < 0 {
		// Protocol 0: the socket is never hooked into the receive path,
		// so nothing queues on it.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.sendFD = fd
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: s.ifi.Index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return unix.Sendto(s.sendFD, frame, 0, to)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// holds reports (as EADDRNOTAVAIL) an address the interface does not hold,
// asking the kernel each time: addresses come and go with the lease.
func (s *server) holds(a netip.Addr) error {
	ok, err := s.addrs.Holds(s.ifi.Index, a)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%v is not an address of %s: %w", a, s.ifi.Name, unix.EADDRNOTAVAIL)
	}
	return nil
}

// Addrs reads the kernel's IPv4 addresses through a NETLINK_ROUTE socket
// opened before the sandbox: sockd then needs sendto and recvfrom on it,
// never socket(AF_NETLINK), and without CAP_NET_ADMIN it can change
// nothing through it.
type Addrs struct {
	fd  int
	seq uint32
	buf []byte
}

// OpenAddrs opens the socket, in the calling thread's network namespace.
func OpenAddrs() (*Addrs, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("sockd: netlink: %w", err)
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := errors.Join(
		unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
	); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sockd: netlink: %w", err)
	}
	return &Addrs{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (a *Addrs) Close() { unix.Close(a.fd) }

// maxDumpReads bounds the reads of one dump: a host with many thousand
// addresses still fits, and a kernel that never says NLMSG_DONE cannot
// hold sockd.
const maxDumpReads = 4096

// Holds reports whether the interface with index ifindex holds addr: an
// RTM_GETADDR dump, read to its end.
func (a *Addrs) Holds(ifindex int, addr netip.Addr) (bool, error) {
	a.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfAddrmsg)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETADDR)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], a.seq)
	req[unix.NLMSG_HDRLEN] = unix.AF_INET
	binary.NativeEndian.PutUint32(req[unix.NLMSG_HDRLEN+4:], uint32(ifindex))
	if err := unix.Sendto(a.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, err
	}
	found := false
	for range maxDumpReads {
		n, from, err := unix.Recvfrom(a.fd, a.buf, 0)
		if err != nil {
			return false, err
		}
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue // only the kernel answers a dump
		}
		msgs, err := syscall.ParseNetlinkMessage(a.buf[:n])
		if err != nil {
			return false, err
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != a.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return found, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e < 0 {
						return false, unix.Errno(-e)
					}
				}
				return false, errors.New("sockd: netlink error without a code")
			case unix.RTM_NEWADDR:
				if !found {
					found = addrMatches(m, ifindex, addr)
				}
			}
		}
	}
	return false, errors.New("sockd: address dump did not end")
}

// addrMatches reports whether an RTM_NEWADDR message gives addr to the
// interface ifindex.
func addrMatches(m *syscall.NetlinkMessage, ifindex int, addr netip.Addr) bool {
	if len(m.Data) < unix.SizeofIfAddrmsg {
		return false
	}
	if m.Data[0] != unix.AF_INET || int(binary.NativeEndian.Uint32(m.Data[4:])) != ifindex {
		return false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return false
	}
	for _, at := range attrs {
		if (at.Attr.Type == unix.IFA_LOCAL || at.Attr.Type == unix.IFA_ADDRESS) && len(at.Value) == 4 &&
			netip.AddrFrom4([4]byte(at.Value)) == addr {
			return true
		}
	}
	return false
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
		return udpSocket(ifi.Name, req.Addr.As4(), req.Peer.As4())
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

// udpSocket opens a UDP socket bound to addr:68 on the interface and
// connected to peer:67: the engine that receives it can only write to
// that server.
func udpSocket(ifname string, addr, peer [4]byte) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "udp")
	for _, step := range []func() error{
		func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) },
		func() error { return unix.BindToDevice(fd, ifname) },
		func() error { return unix.Bind(fd, &unix.SockaddrInet4{Port: dhcp.ClientPort, Addr: addr}) },
		func() error { return unix.Connect(fd, &unix.SockaddrInet4{Port: dhcp.ServerPort, Addr: peer}) },
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
