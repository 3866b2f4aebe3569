package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Packet is one DHCP message (UDP between ports 67 and 68) seen on an
// interface.
type Packet struct {
	// Time is when the packet was read.
	Time time.Time
	// Outgoing is true for packets the capturing namespace sent.
	Outgoing bool
	// Src and Dst are the IPv4 and UDP endpoints.
	Src, Dst netip.AddrPort
	// Payload is the UDP payload: the BOOTP/DHCP message from its op
	// field on.
	Payload []byte
}

// DHCP message types (option 53, RFC 2132 section 9.6).
const (
	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
	Inform   = 8
)

// MessageType returns the packet's DHCP message type (option 53), or 0
// if the payload is not a well-formed DHCP message with one. It reads the
// options field only (no overload), which is enough to classify.
func (p Packet) MessageType() int { return messageType(p.Payload) }

func messageType(b []byte) int {
	const optStart = 240 // 236-byte BOOTP header plus the magic cookie
	if len(b) < optStart || binary.BigEndian.Uint32(b[236:240]) != 0x63825363 {
		return 0
	}
	for i := optStart; i < len(b); {
		code := b[i]
		switch code {
		case 0:
			i++
			continue
		case 255:
			return 0
		}
		if i+1 >= len(b) {
			return 0
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return 0
		}
		if code == 53 && n == 1 {
			return int(b[i+2])
		}
		i += 2 + n
	}
	return 0
}

// Capture records the DHCP packets crossing one interface of a namespace,
// through an AF_PACKET socket opened inside it. Stop it (or close the
// lab) to release the socket.
type Capture struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	pkts []Packet
	cond chan struct{} // closed and replaced on every new packet
	err  error
}

// maxCaptured bounds what a capture keeps.
const maxCaptured = 10000

// CaptureDHCP starts recording DHCP packets on the namespace's main
// interface, in both directions.
func (n *NS) CaptureDHCP() (*Capture, error) {
	// ETH_P_ALL: only such taps see outgoing frames too.
	fd, _, err := n.PacketSocket(unix.SOCK_DGRAM, unix.ETH_P_ALL, 100*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lab: capture: %w", err)
	}
	c := &Capture{fd: fd, stop: make(chan struct{}), done: make(chan struct{}), cond: make(chan struct{})}
	if n.lab != nil {
		n.lab.mu.Lock()
		closed := n.lab.closed
		if !closed {
			n.lab.captures = append(n.lab.captures, c)
		}
		n.lab.mu.Unlock()
		if closed {
			unix.Close(fd)
			return nil, errClosed
		}
	}
	go c.loop()
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// PacketSocket opens an AF_PACKET socket of type typ (SOCK_RAW or
// SOCK_DGRAM) for ethertype proto on the namespace's main interface,
// created inside the namespace, with a receive timeout so that a reading
// loop can notice it should stop. It returns the descriptor, which the
// caller closes, and the interface's index.
func (n *NS) PacketSocket(typ int, proto uint16, timeout time.Duration) (fd, ifindex int, err error) {
	fd = -1
	err = n.Do(func() error {
		ifi, err := net.InterfaceByName(n.ifName)
		if err != nil {
			return err
		}
		p := htons(proto)
		s, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC, int(p))
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		tv := unix.NsecToTimeval(timeout.Nanoseconds())
		if err := errors.Join(
			unix.Bind(s, &unix.SockaddrLinklayer{Protocol: p, Ifindex: ifi.Index}),
			unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		); err != nil {
			unix.Close(s)
			return err
		}
		fd, ifindex = s, ifi.Index
		return nil
	})
	return fd, ifindex, err
}

func (c *Capture) loop() {
	defer close(c.done)
	defer unix.Close(c.fd)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("lab: capture: %w", err)
			c.mu.Unlock()
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Protocol != htons(unix.ETH_P_IP) {
			continue
		}
		p, ok := parseIPv4UDP(buf[:n])
		if !ok {
			continue
		}
		p.Time = time.Now()
		p.Outgoing = ll.Pkttype == unix.PACKET_OUTGOING
		c.mu.Lock()
		if len(c.pkts) < maxCaptured {
			c.pkts = append(c.pkts, p)
			close(c.cond)
			c.cond = make(chan struct{})
		}
		c.mu.Unlock()
	}
}

// parseIPv4UDP extracts a DHCP packet from an IPv4 datagram, rejecting
// fragments, other protocols and other ports.
func parseIPv4UDP(b []byte) (Packet, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Packet{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl+8 || total > len(b) || b[9] != unix.IPPROTO_UDP {
		return Packet{}, false
	}
	if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 { // MF or an offset
		return Packet{}, false
	}
	u := b[ihl:total]
	sport, dport := binary.BigEndian.Uint16(u[0:2]), binary.BigEndian.Uint16(u[2:4])
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < 8 || ulen > len(u) || !dhcpPort(sport) || !dhcpPort(dport) {
		return Packet{}, false
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return Packet{
		Src:     netip.AddrPortFrom(src, sport),
		Dst:     netip.AddrPortFrom(dst, dport),
		Payload: append([]byte(nil), u[8:ulen]...),
	}, true
}

func dhcpPort(p uint16) bool { return p == 67 || p == 68 }

// Packets returns a copy of what has been captured so far.
func (c *Capture) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.pkts...)
}

// Wait returns the first captured packet (earlier ones included) for
// which match is true, waiting until ctx is done.
func (c *Capture) Wait(ctx context.Context, match func(Packet) bool) (Packet, error) {
	seen := 0
	for {
		c.mu.Lock()
		pkts, cond, err := c.pkts[seen:], c.cond, c.err
		c.mu.Unlock()
		for _, p := range pkts {
			if match(p) {
				return p, nil
			}
		}
		seen += len(pkts)
		if err != nil {
			return Packet{}, err
		}
		select {
		case <-cond:
		case <-c.done:
			c.mu.Lock()
			more := len(c.pkts) > seen
			c.mu.Unlock()
			if !more {
				return Packet{}, errors.New("lab: capture stopped")
			}
		case <-ctx.Done():
			return Packet{}, fmt.Errorf("lab: waiting for a packet: %w", ctx.Err())
		}
	}
}

// Stop ends the capture (within about 100 ms) and returns every packet
// captured. It may be called more than once.
func (c *Capture) Stop() []Packet {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
	return c.Packets()
}
