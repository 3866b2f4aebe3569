package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

var broadcastLL = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (e *Engine) linkAddr(proto uint16) *unix.SockaddrLinklayer {
	return &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: e.cfg.Link.Index, Halen: 6, Addr: broadcastLL}
}

// setSockets opens and closes sockets to match want. Closing a socket ends
// its reader; bumping the generation drops what it had queued. A bound
// socket whose address changed is replaced.
func (e *Engine) setSockets(want client.Sockets) error {
	for k := client.SocketRaw; k < client.NumSockets; k++ {
		c := e.socks[k]
		keep := want.Open.Has(k) && (!k.Bound() || e.sockAddr == want.Addr)
		if c != nil && !keep {
			c.Close()
			e.socks[k] = nil
			e.gen[k]++
		}
	}
	e.sockAddr = want.Addr
	for k := client.SocketRaw; k < client.NumSockets; k++ {
		if !want.Open.Has(k) || e.socks[k] != nil {
			continue
		}
		var addr netip.Addr
		if k.Bound() {
			addr = want.Addr
		}
		c, err := e.openSocket(k, addr)
		if err != nil {
			return err
		}
		e.socks[k] = c
		go e.readSocket(c, k, e.gen[k])
	}
	return nil
}

func (e *Engine) openSocket(kind client.Socket, addr netip.Addr) (*socket.Conn, error) {
	f, err := e.sockd.Open(kind, addr)
	if err != nil {
		// sockd's refusal is a bare errno from its reply; an errno
		// wrapped inside a transport error (EPIPE from a dead sockd) is
		// not one, and the engine must not go on without its broker.
		if errno, ok := err.(unix.Errno); ok {
			return nil, fmt.Errorf("sockd refused a %s socket: %w", kind, errno)
		}
		return nil, &fatalError{fmt.Errorf("sockd: %w", err)}
	}
	defer f.Close()
	return socket.FileConn(f, kind.String())
}

// readSocket turns what one socket receives into events until it is
// closed. Malformed frames are dropped and counted in debug logs: the
// network is allowed to be hostile; a peer process is not.
func (e *Engine) readSocket(c *socket.Conn, kind client.Socket, gen int) {
	buf := make([]byte, 1600)
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	// Bounded, so that a socket that keeps failing this way still ends
	// the engine instead of spinning.
	const maxNetDownReports = 1000
	netDownReports := 0
	for {
		var n, oobn int
		var from unix.Sockaddr
		var err error
		if kind == client.SocketRaw {
			n, oobn, _, from, err = c.Recvmsg(context.Background(), buf, oob, 0)
		} else {
			n, from, err = c.Recvfrom(context.Background(), buf, 0)
		}
		if errors.Is(err, unix.ENETDOWN) && netDownReports < maxNetDownReports {
			// A packet socket reports once that its interface went down
			// (administratively, or on its way to removal); it stays
			// bound and works again when the link is back. The link
			// events say what happened; this read just goes on.
			netDownReports++
			continue
		}
		if err != nil {
			// The main loop knows whether this socket was closed on
			// purpose (its generation moved on) or failed.
			e.events <- engineEvent{kind: evSockErr, sock: kind, gen: gen, err: err}
			return
		}
		switch kind {
		case client.SocketRaw:
			var flags dhcp.RecvFlags
			if auxCsumNotReady(oob[:oobn]) {
				flags |= dhcp.ChecksumNotReady
			}
			d, err := dhcp.ParseDatagram(buf[:n], flags)
			if err != nil {
				e.log.Debug("dropped frame", "err", err)
				continue
			}
			if d.Src.Port() != 67 || d.Dst.Port() != 68 {
				continue
			}
			e.deliverDHCP(d.Payload, kind, gen)
		case client.SocketUDP:
			in4, ok := from.(*unix.SockaddrInet4)
			if !ok || in4.Port != 67 {
				continue
			}
			e.deliverDHCP(buf[:n], kind, gen)
		case client.SocketARP, client.SocketARPDefense:
			a, err := dhcp.ParseARP(buf[:n])
			if err != nil {
				e.log.Debug("dropped arp", "err", err)
				continue
			}
			e.events <- engineEvent{kind: evARP, sock: kind, gen: gen, arp: a}
		}
	}
}

func (e *Engine) deliverDHCP(b []byte, kind client.Socket, gen int) {
	m := new(dhcp.Message)
	if err := m.UnmarshalBinary(b); err != nil {
		e.log.Debug("dropped dhcp message", "err", err)
		return
	}
	e.events <- engineEvent{kind: evDHCP, sock: kind, gen: gen, msg: m}
}

// auxCsumNotReady reports TP_STATUS_CSUMNOTREADY in PACKET_AUXDATA: the
// frame came from this host through an offloading device (a veth peer), so
// its UDP checksum is partial.
func auxCsumNotReady(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= 4 {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
			return aux.Status&unix.TP_STATUS_CSUMNOTREADY != 0
		}
	}
	return false
}

func (e *Engine) sendDHCP(a client.SendDHCP) error {
	if a.Unicast.IsValid() {
		udp := e.socks[client.SocketUDP]
		if udp == nil {
			return errors.New("unicast send without a UDP socket")
		}
		return udp.Sendto(context.Background(), a.Packet, 0, &unix.SockaddrInet4{Port: 67, Addr: a.Unicast.As4()})
	}
	raw := e.socks[client.SocketRaw]
	if raw == nil {
		return errors.New("broadcast send without the raw socket")
	}
	src := a.Source
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
	}
	d := dhcp.Datagram{
		Src: netip.AddrPortFrom(src, 68), Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 67),
		TTL: 64, Payload: a.Packet,
	}
	b, err := d.AppendBinary(e.sendBuf[:0])
	if err != nil {
		return err
	}
	e.sendBuf = b
	return raw.Sendto(context.Background(), b, 0, e.linkAddr(unix.ETH_P_IP))
}

func (e *Engine) sendARP(f dhcp.ARP) error {
	c := e.socks[client.SocketARP]
	if c == nil {
		c = e.socks[client.SocketARPDefense]
	}
	if c == nil {
		return errors.New("arp send without an arp socket")
	}
	b, err := f.AppendBinary(nil)
	if err != nil {
		return err
	}
	return c.Sendto(context.Background(), b, 0, e.linkAddr(unix.ETH_P_ARP))
}
