package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

// setSockets opens and closes sockets to match want. Closing a socket ends
// its reader; bumping the generation drops what it had queued. A bound
// socket whose address changed is replaced, and so is the UDP socket when
// the server changed.
func (e *Engine) setSockets(want client.Sockets) error {
	for k := client.SocketRaw; k < client.NumSockets; k++ {
		c := e.socks[k]
		keep := want.Open.Has(k) && (!k.Bound() || e.sockAddr == want.Addr) &&
			(k != client.SocketUDP || e.sockServer == want.Server)
		if c != nil && !keep {
			c.Close()
			e.socks[k] = nil
			e.gen[k]++
		}
	}
	e.sockAddr, e.sockServer = want.Addr, want.Server
	for k := client.SocketRaw; k < client.NumSockets; k++ {
		if !want.Open.Has(k) || e.socks[k] != nil {
			continue
		}
		var addr, peer netip.Addr
		if k.Bound() {
			addr = want.Addr
		}
		if k == client.SocketUDP {
			peer = want.Server
		}
		c, err := e.openSocket(k, addr, peer)
		if err != nil {
			return err
		}
		e.socks[k] = c
		go e.readSocket(c, k, e.gen[k])
	}
	return nil
}

func (e *Engine) openSocket(kind client.Socket, addr, peer netip.Addr) (*socket.Conn, error) {
	f, err := e.sockd.Open(kind, addr, peer)
	if err != nil {
		return nil, sockdError("a "+kind.String()+" socket", err)
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
		if kind == client.SocketUDP && icmpError(err) {
			// The UDP socket is connected to the server, so the
			// kernel reports the ICMP errors its datagrams caused
			// (port unreachable from a server that listens on a raw
			// socket, a host or network unreachable on the way).
			// Each report is one ICMP message that arrived, so
			// reading on cannot spin; the client's timers retry.
			e.log.Debug("udp socket reported an icmp error", "err", err)
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

// icmpError reports the errors a connected UDP socket returns for an ICMP
// error that came back.
func icmpError(err error) bool {
	for _, e := range []unix.Errno{unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// messages recycles the decoded messages the sockets hand the main loop
// (a flood of replies would otherwise cost an allocation each).
var messages = sync.Pool{New: func() any { return new(dhcp.Message) }}

func (e *Engine) deliverDHCP(b []byte, kind client.Socket, gen int) {
	m := messages.Get().(*dhcp.Message)
	if err := m.UnmarshalBinary(b); err != nil {
		messages.Put(m)
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

// sockdError sorts a failed sockd request: sockd's refusal is a bare errno
// from its reply; an errno wrapped inside a transport error (EPIPE from a
// dead sockd), or a malformed reply, is not one, and the engine must not
// go on without its broker.
func sockdError(what string, err error) error {
	if errno, ok := err.(unix.Errno); ok {
		return fmt.Errorf("sockd refused %s: %w", what, errno)
	}
	return &fatalError{fmt.Errorf("sockd: %w", err)}
}

// sendDHCP sends a message: a unicast one with write(2) on the UDP socket,
// which sockd connected to the server; a broadcast through sockd, which
// checks it and puts it on the wire (the engine cannot transmit on its
// packet sockets).
func (e *Engine) sendDHCP(a client.SendDHCP) error {
	if a.Unicast.IsValid() {
		udp := e.socks[client.SocketUDP]
		if udp == nil {
			return errors.New("unicast send without a UDP socket")
		}
		if a.Unicast != e.sockServer {
			return fmt.Errorf("unicast send to %v on the UDP socket of server %v", a.Unicast, e.sockServer)
		}
		_, err := udp.Write(a.Packet)
		if icmpError(err) {
			// The report of an earlier datagram's ICMP error, now
			// consumed: this one was not sent yet.
			_, err = udp.Write(a.Packet)
		}
		return err
	}
	// Without the raw socket no answer could be heard.
	if e.socks[client.SocketRaw] == nil {
		return errors.New("broadcast send without the raw socket")
	}
	src := a.Source
	if src.IsUnspecified() {
		src = netip.Addr{}
	}
	if err := e.sockd.Transmit(client.SocketRaw, src, a.Packet); err != nil {
		return sockdError("a broadcast", err)
	}
	return nil
}

func (e *Engine) sendARP(f dhcp.ARP) error {
	if e.socks[client.SocketARP] == nil && e.socks[client.SocketARPDefense] == nil {
		return errors.New("arp send without an arp socket")
	}
	b, err := f.AppendBinary(e.arpBuf[:0])
	if err != nil {
		return err
	}
	e.arpBuf = b
	if err := e.sockd.Transmit(client.SocketARP, netip.Addr{}, b); err != nil {
		return sockdError("an arp frame", err)
	}
	return nil
}
