package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"github.com/mdlayher/socket"
	"github.com/ndhc-go/ndhc/dhcp"
	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/linkev"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

var broadcastLL = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (e *engine) linkAddr(proto uint16) *unix.SockaddrLinklayer {
	return &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: e.cfg.Ifindex, Halen: 6, Addr: broadcastLL}
}

// setSockets opens and closes sockets to match want. Closing a socket ends
// its reader; bumping the generation drops what it had queued.
func (e *engine) setSockets(want dhcpclient.Sockets) error {
	type slot struct {
		have, want bool
		conn       **socket.Conn
		idx        int
		kind       sockd.Kind
	}
	arpKind := sockd.ARP
	if want.ARPDefense {
		arpKind = sockd.ARPDefense
	}
	wantARP := want.ARP || want.ARPDefense
	haveARP := e.socks.ARP || e.socks.ARPDefense
	slots := []slot{
		{e.socks.Raw, want.Raw, &e.raw, sockRaw, sockd.DHCPRaw},
		{e.socks.UDP, want.UDP, &e.udp, sockUDP, sockd.UDP},
		// The ARP and defense sockets share a slot: the client never asks
		// for both, and switching kinds means a new socket.
		{haveARP && e.socks.ARPDefense == want.ARPDefense, wantARP, &e.arp, sockARP, arpKind},
	}
	for _, s := range slots {
		if *s.conn != nil && (!s.want || !s.have) {
			(*s.conn).Close()
			*s.conn = nil
			e.gen[s.idx]++
		}
		if s.want && *s.conn == nil {
			var addr netip.Addr
			if s.kind == sockd.UDP || s.kind == sockd.ARPDefense {
				addr = e.socketAddr()
				if !addr.IsValid() {
					return fmt.Errorf("%s socket asked for without a lease", s.kind)
				}
			}
			c, err := e.openSocket(s.kind, addr)
			if err != nil {
				return err
			}
			*s.conn = c
			go e.readSocket(c, s.idx, e.gen[s.idx])
		}
	}
	e.socks = want
	return nil
}

// leaseAddr is the address of the lease the client holds now, if any.
func (e *engine) leaseAddr() netip.Addr {
	if l := e.client.Lease(); l != nil {
		return l.Addr.Addr()
	}
	return netip.Addr{}
}

// socketAddr is the address a UDP or ARP defense socket is bound to: the
// client's lease or, when the call that asked for the socket has dropped
// the lease by the time its actions run, the lease it held before the
// call. A release (SIGUSR2, or SIGTERM with --release-on-exit) asks for
// the UDP socket, sends the DHCPRELEASE through it and forgets the lease,
// all in one call: the client's lease is gone before the socket is
// opened.
func (e *engine) socketAddr() netip.Addr {
	if a := e.leaseAddr(); a.IsValid() {
		return a
	}
	return e.heldAddr
}

func (e *engine) openSocket(kind sockd.Kind, addr netip.Addr) (*socket.Conn, error) {
	f, err := e.sockd.Open(kind, addr)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return nil, fmt.Errorf("sockd refused a %s socket: %w", kind, err)
		}
		return nil, &fatalError{fmt.Errorf("sockd: %w", err)}
	}
	defer f.Close()
	c, err := socket.FileConn(f, kind.String())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// readSocket turns what one socket receives into events until it is
// closed. Malformed frames are dropped and counted in debug logs: the
// network is allowed to be hostile; a peer process is not.
func (e *engine) readSocket(c *socket.Conn, idx, gen int) {
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
		if idx == sockRaw {
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
			e.events <- event{kind: evSockErr, sock: idx, gen: gen, err: err}
			return
		}
		switch idx {
		case sockRaw:
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
			e.deliverDHCP(d.Payload, idx, gen)
		case sockUDP:
			in4, ok := from.(*unix.SockaddrInet4)
			if !ok || in4.Port != 67 {
				continue
			}
			e.deliverDHCP(buf[:n], idx, gen)
		case sockARP:
			a, err := dhcp.ParseARP(buf[:n])
			if err != nil {
				e.log.Debug("dropped arp", "err", err)
				continue
			}
			e.events <- event{kind: evARP, gen: gen, arp: a}
		}
	}
}

func (e *engine) deliverDHCP(b []byte, idx, gen int) {
	m := new(dhcp.Message)
	if err := m.UnmarshalBinary(b); err != nil {
		e.log.Debug("dropped dhcp message", "err", err)
		return
	}
	e.events <- event{kind: evDHCP, sock: idx, gen: gen, msg: m}
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

func (e *engine) sendDHCP(a dhcpclient.SendDHCP) error {
	if a.Unicast.IsValid() {
		if e.udp == nil {
			return errors.New("unicast send without a UDP socket")
		}
		return e.udp.Sendto(context.Background(), a.Packet, 0, &unix.SockaddrInet4{Port: 67, Addr: a.Unicast.As4()})
	}
	if e.raw == nil {
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
	return e.raw.Sendto(context.Background(), b, 0, e.linkAddr(unix.ETH_P_IP))
}

func (e *engine) sendARP(f dhcp.ARP) error {
	if e.arp == nil {
		return errors.New("arp send without an arp socket")
	}
	b, err := f.AppendBinary(nil)
	if err != nil {
		return err
	}
	return e.arp.Sendto(context.Background(), b, 0, e.linkAddr(unix.ETH_P_ARP))
}

// configure sends ifch the whole desired state for the lease.
func (e *engine) configure(l *dhcpclient.Lease) error {
	c := &ifch.Configure{
		Interface: e.cfg.Interface,
		Address:   l.Addr,
		Broadcast: l.Broadcast,
		DNS:       l.DNS,
		MTU:       uint32(l.MTU),
		Hostname:  l.Hostname.String(),
		Domain:    l.Domain.String(),
	}
	if len(l.Routes) == 0 && len(l.Routers) > 0 {
		c.Router = l.Routers[0]
	}
	for _, r := range l.Routes {
		c.Routes = append(c.Routes, ifch.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	for _, s := range l.Search {
		c.Search = append(c.Search, s.String())
	}
	if l.Infinite() {
		c.Valid, c.Preferred = ifch.Forever, ifch.Forever
	} else {
		rem := l.Remaining(time.Now())
		secs := ifch.Lifetime(max(rem/time.Second, 1))
		c.Valid, c.Preferred = secs, secs
	}
	return e.ifchDo(c)
}

// ifchDo sends one command. A refusal is logged and survived (the lease
// breaks ifch's rules); a broken channel or grammar is fatal.
func (e *engine) ifchDo(c ifch.Command) error {
	r, err := ifch.Exchange(e.ifch, c)
	if err != nil {
		return &fatalError{err}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("ifch refused: %w", err)
	}
	return nil
}

func (e *engine) ifchCarrier() (bool, error) {
	r, err := ifch.Exchange(e.ifch, &ifch.Carrier{Interface: e.cfg.Interface})
	if err != nil {
		return false, err
	}
	if err := r.Err(); err != nil {
		return false, err
	}
	return r.Carrier == ifch.CarrierUp, nil
}

func (e *engine) readCommands() {
	for {
		cmd, err := recvCommand(e.ctl)
		if err != nil {
			if errors.Is(err, sandbox.ErrPeerClosed) {
				err = errors.New("the supervisor is gone")
			}
			e.events <- event{kind: evFatal, err: err}
			return
		}
		e.events <- event{kind: evCommand, cmd: cmd}
	}
}

func (e *engine) readLinks() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := e.links.Recvfrom(context.Background(), buf, 0)
		if err != nil {
			e.events <- event{kind: evFatal, err: fmt.Errorf("link events: %w", err)}
			return
		}
		evs, err := linkev.Parse(buf[:n], int32(e.cfg.Ifindex))
		if err != nil {
			e.log.Warn("malformed link event", "err", err)
			continue
		}
		for _, ev := range evs {
			e.events <- event{kind: evLink, link: ev}
		}
	}
}
