// Package sockd is the socket broker role: the only ndhc process that may
// create sockets (CAP_NET_RAW, CAP_NET_BIND_SERVICE) and the only one that
// transmits on a packet socket. The engine asks for a socket, or for a
// frame to be sent, with a request; sockd validates it against the one
// interface it serves and the addresses that interface holds, creates the
// socket (attaching and locking its BPF filter) and hands the descriptor
// back with SCM_RIGHTS, or builds and sends the frame itself. Any malformed
// request is fatal: the engine that sent it is broken or hostile.
//
// The engine holds packet sockets only to receive: its seccomp policy has
// no sendto or sendmsg, and write(2) on a datagram packet socket without a
// destination fails, so every frame it wants on the wire is checked and
// built here. Its UDP socket is bound to the lease's address on the
// interface and connected to the server, so write(2) reaches that server
// and nothing else.
package sockd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

// The kinds of socket sockd creates are client.Socket values, the same
// type the DHCP client uses to say which sockets it needs:
//
//   - SocketRaw: AF_PACKET datagram socket for ETH_P_IP on the interface,
//     with the DHCP client filter (UDP to port 68, IPv4 without options,
//     not fragmented), locked. The engine listens on it while it has no
//     address; its broadcasts go through OpTransmit.
//   - SocketUDP: AF_INET datagram socket bound to Addr:68 on the
//     interface and connected to Peer:67, for unicast renewal and release
//     (RFC 2131 4.4.5, RENEWING). Addr must be an address the interface
//     holds.
//   - SocketARP: AF_PACKET datagram socket for ETH_P_ARP with the ARP
//     filter, locked: conflict checks and gateway pings.
//   - SocketARPDefense: like SocketARP, but the filter passes only frames
//     claiming Addr from another hardware address (RFC 5227 2.4), locked.

// Op is what a request asks for.
type Op uint8

// The operations.
const (
	// OpOpen asks for a socket of Kind.
	OpOpen Op = 1
	// OpTransmit asks sockd to send Payload on the interface, to the
	// Ethernet broadcast address. Kind SocketRaw: Payload is a DHCP
	// BOOTREQUEST from this interface's hardware address, sent in a UDP
	// datagram from Addr:68 (0.0.0.0 when Addr is unset) to
	// 255.255.255.255:67. Kind SocketARP: Payload is an Ethernet/IPv4 ARP
	// packet whose sender is this interface's hardware address and
	// either no address or one the interface holds.
	OpTransmit Op = 2
)

// Wire sizes. A request is a header and, for OpTransmit only, a payload;
// a reply is exactly ReplySize.
const (
	HeaderSize = 16
	// MaxPayload is the largest DHCP message that fits a 1500-octet
	// Ethernet frame with its IPv4 and UDP headers.
	MaxPayload     = 1500 - 28
	MaxRequestSize = HeaderSize + MaxPayload
	ReplySize      = 8
	magic          = 0x53 // 'S'
)

// Request asks for one socket or one frame.
//
//	0      1      2      3      4                 8              12             16
//	+------+------+------+------+-----------------+--------------+--------------+---------
//	| 'S'  |  op  | kind | zero | ifindex (BE 32) | IPv4 Addr    | IPv4 Peer    | payload
//	+------+------+------+------+-----------------+--------------+--------------+---------
//
// An unset address is 0.0.0.0.
type Request struct {
	Op      Op
	Kind    client.Socket
	Ifindex uint32
	// Addr is the local address: of a UDP socket, of the defended
	// address for ARPDefense, and the source of a transmitted DHCP
	// message (unset for 0.0.0.0). It must be unset otherwise.
	Addr netip.Addr
	// Peer is the server a UDP socket is connected to; unset otherwise.
	Peer netip.Addr
	// Payload is what OpTransmit sends; empty otherwise.
	Payload []byte
}

// MarshalBinary encodes r.
func (r *Request) MarshalBinary() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, HeaderSize, HeaderSize+len(r.Payload))
	b[0], b[1], b[2] = magic, byte(r.Op), byte(r.Kind)
	binary.BigEndian.PutUint32(b[4:], r.Ifindex)
	putAddr(b[8:12], r.Addr)
	putAddr(b[12:16], r.Peer)
	return append(b, r.Payload...), nil
}

func putAddr(b []byte, a netip.Addr) {
	if a.IsValid() {
		a4 := a.As4()
		copy(b, a4[:])
	}
}

func getAddr(b []byte) netip.Addr {
	if a := netip.AddrFrom4([4]byte(b)); !a.IsUnspecified() {
		return a
	}
	return netip.Addr{}
}

// UnmarshalBinary decodes and validates one request of HeaderSize to
// MaxRequestSize bytes. The payload is copied.
func (r *Request) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderSize || len(b) > MaxRequestSize {
		return fmt.Errorf("sockd: request of %d bytes, want %d to %d", len(b), HeaderSize, MaxRequestSize)
	}
	if b[0] != magic || b[3] != 0 {
		return fmt.Errorf("sockd: malformed request header % x", b[:4])
	}
	q := Request{
		Op:      Op(b[1]),
		Kind:    client.Socket(b[2]),
		Ifindex: binary.BigEndian.Uint32(b[4:]),
		Addr:    getAddr(b[8:12]),
		Peer:    getAddr(b[12:16]),
	}
	if len(b) > HeaderSize {
		q.Payload = append([]byte(nil), b[HeaderSize:]...)
	}
	if err := q.validate(); err != nil {
		return err
	}
	*r = q
	return nil
}

func (r *Request) validate() error {
	if r.Ifindex == 0 || r.Ifindex > 1<<31-1 {
		return fmt.Errorf("sockd: bad interface index %d", r.Ifindex)
	}
	for _, a := range []netip.Addr{r.Addr, r.Peer} {
		if a.IsValid() && (!a.Is4() || !usableUnicast(a)) {
			return fmt.Errorf("sockd: %s request names %v, not a unicast IPv4 address", r.Kind, a)
		}
	}
	switch r.Op {
	case OpOpen:
		return r.validateOpen()
	case OpTransmit:
		return r.validateTransmit()
	}
	return fmt.Errorf("sockd: unknown request op %d", uint8(r.Op))
}

func (r *Request) validateOpen() error {
	if len(r.Payload) != 0 {
		return fmt.Errorf("sockd: %s socket request carries a payload", r.Kind)
	}
	switch r.Kind {
	case client.SocketRaw, client.SocketARP:
		if r.Addr.IsValid() || r.Peer.IsValid() {
			return fmt.Errorf("sockd: %s request carries an address", r.Kind)
		}
	case client.SocketARPDefense:
		if !r.Addr.IsValid() || r.Peer.IsValid() {
			return fmt.Errorf("sockd: %s request needs its address and no peer", r.Kind)
		}
	case client.SocketUDP:
		if !r.Addr.IsValid() || !r.Peer.IsValid() || r.Addr == r.Peer {
			return fmt.Errorf("sockd: %s request needs a local address and another server address, got %v and %v", r.Kind, r.Addr, r.Peer)
		}
	default:
		return fmt.Errorf("sockd: unknown request kind %d", uint8(r.Kind))
	}
	return nil
}

func (r *Request) validateTransmit() error {
	if r.Peer.IsValid() {
		return fmt.Errorf("sockd: %s transmission names a peer", r.Kind)
	}
	switch r.Kind {
	case client.SocketRaw:
		return checkBootRequest(r.Payload)
	case client.SocketARP:
		if r.Addr.IsValid() {
			return errors.New("sockd: arp transmission carries an address")
		}
		if len(r.Payload) != dhcp.ARPLen {
			return fmt.Errorf("sockd: arp payload of %d bytes, want %d", len(r.Payload), dhcp.ARPLen)
		}
		_, err := dhcp.ParseARP(r.Payload)
		return err
	}
	return fmt.Errorf("sockd: nothing to transmit on a %s socket", r.Kind)
}

// checkBootRequest accepts a DHCP client message for Ethernet: a BOOTREQUEST
// with htype 1, hlen 6 and the magic cookie, as long as a frame allows.
// Options are the engine's business; the server parses them.
func checkBootRequest(b []byte) error {
	if len(b) < dhcp.MinMessageLen || len(b) > MaxPayload {
		return fmt.Errorf("sockd: dhcp payload of %d bytes, want %d to %d", len(b), dhcp.MinMessageLen, MaxPayload)
	}
	if b[0] != byte(dhcp.BootRequest) || b[1] != 1 || b[2] != 6 {
		return fmt.Errorf("sockd: dhcp payload is not an ethernet BOOTREQUEST (op %d htype %d hlen %d)", b[0], b[1], b[2])
	}
	if binary.BigEndian.Uint32(b[236:]) != dhcp.MagicCookie {
		return errors.New("sockd: dhcp payload without the magic cookie")
	}
	return nil
}

// usableUnicast accepts an IPv4 address a host may hold: not 0/8,
// loopback, multicast, class E or the limited broadcast address.
func usableUnicast(a netip.Addr) bool {
	a4 := a.As4()
	return a4[0] != 0 && !a.IsLoopback() && !a.IsMulticast() && a4[0] < 240
}

// Reply answers a request: Errno 0 means the descriptor is attached (OpOpen)
// or the frame was sent (OpTransmit).
//
//	0      1      2      3      4
//	+------+------+------+------+-----------------+
//	| 'S'  |  op  | kind | zero | errno (BE 32)   |
//	+------+------+------+------+-----------------+
type Reply struct {
	Op    Op
	Kind  client.Socket
	Errno uint32
}

// MarshalBinary encodes r.
func (r Reply) MarshalBinary() ([]byte, error) {
	b := make([]byte, ReplySize)
	b[0], b[1], b[2] = magic, byte(r.Op), byte(r.Kind)
	binary.BigEndian.PutUint32(b[4:], r.Errno)
	return b, nil
}

// UnmarshalBinary decodes exactly ReplySize bytes.
func (r *Reply) UnmarshalBinary(b []byte) error {
	if len(b) != ReplySize {
		return fmt.Errorf("sockd: reply of %d bytes, want %d", len(b), ReplySize)
	}
	if b[0] != magic || b[3] != 0 {
		return fmt.Errorf("sockd: malformed reply header % x", b[:4])
	}
	op, k := Op(b[1]), client.Socket(b[2])
	if op != OpOpen && op != OpTransmit {
		return fmt.Errorf("sockd: reply for unknown op %d", uint8(op))
	}
	if k < client.SocketRaw || k >= client.NumSockets {
		return fmt.Errorf("sockd: reply for unknown kind %d", uint8(k))
	}
	*r = Reply{Op: op, Kind: k, Errno: binary.BigEndian.Uint32(b[4:])}
	return nil
}
