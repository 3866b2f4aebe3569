// Package sockd is the socket broker role: the only ndhc process that may
// create sockets (CAP_NET_RAW, CAP_NET_BIND_SERVICE). The engine asks for a
// socket with a fixed-size request; sockd validates it against the one
// interface it serves, creates the socket, attaches and locks its BPF
// filter, and hands the descriptor back with SCM_RIGHTS. Any malformed
// request is fatal: the engine that sent it is broken or hostile.
package sockd

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ndhc-go/ndhc/dhcp/client"
)

// The kinds of socket sockd creates are client.Socket values, the same
// type the DHCP client uses to say which sockets it needs:
//
//   - SocketRaw: AF_PACKET datagram socket for ETH_P_IP on the interface,
//     with the DHCP client filter (UDP to port 68, IPv4 without options,
//     not fragmented), locked. Used to send broadcasts and to listen while
//     the client has no address.
//   - SocketUDP: AF_INET datagram socket bound to Addr:68 on the
//     interface, for unicast renewal (RFC 2131 4.4.5, RENEWING).
//   - SocketARP: AF_PACKET datagram socket for ETH_P_ARP with the ARP
//     filter, locked: conflict checks and gateway pings.
//   - SocketARPDefense: like SocketARP, but the filter passes only frames
//     claiming Addr from another hardware address (RFC 5227 2.4), locked.

// Wire sizes. Both sides read exactly these many bytes or fail.
const (
	RequestSize = 12
	ReplySize   = 8
	magic       = 0x53 // 'S'
)

// Request asks for one socket.
//
//	0      1      2             4                 8              12
//	+------+------+-------------+-----------------+--------------+
//	| 'S'  | kind |  zero (2)   | ifindex (BE 32) | IPv4 address |
//	+------+------+-------------+-----------------+--------------+
type Request struct {
	Kind    client.Socket
	Ifindex uint32
	// Addr is the local address for UDP and the defended address for
	// ARPDefense; it must be unset for the other kinds.
	Addr netip.Addr
}

// MarshalBinary encodes r.
func (r Request) MarshalBinary() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, RequestSize)
	b[0], b[1] = magic, byte(r.Kind)
	binary.BigEndian.PutUint32(b[4:], r.Ifindex)
	if r.Addr.IsValid() {
		a := r.Addr.As4()
		copy(b[8:], a[:])
	}
	return b, nil
}

// UnmarshalBinary decodes exactly RequestSize bytes and validates them.
func (r *Request) UnmarshalBinary(b []byte) error {
	if len(b) != RequestSize {
		return fmt.Errorf("sockd: request of %d bytes, want %d", len(b), RequestSize)
	}
	if b[0] != magic || b[2] != 0 || b[3] != 0 {
		return fmt.Errorf("sockd: malformed request header % x", b[:4])
	}
	var q Request
	q.Kind = client.Socket(b[1])
	q.Ifindex = binary.BigEndian.Uint32(b[4:])
	if a := netip.AddrFrom4([4]byte(b[8:12])); !a.IsUnspecified() {
		q.Addr = a
	}
	if err := q.validate(); err != nil {
		return err
	}
	*r = q
	return nil
}

func (r Request) validate() error {
	if r.Ifindex == 0 || r.Ifindex > 1<<31-1 {
		return fmt.Errorf("sockd: bad interface index %d", r.Ifindex)
	}
	switch r.Kind {
	case client.SocketRaw, client.SocketARP:
		if r.Addr.IsValid() {
			return fmt.Errorf("sockd: %s request carries an address", r.Kind)
		}
	case client.SocketUDP, client.SocketARPDefense:
		if !r.Addr.Is4() || !usableUnicast(r.Addr) {
			return fmt.Errorf("sockd: %s request needs a unicast IPv4 address, got %v", r.Kind, r.Addr)
		}
	default:
		return fmt.Errorf("sockd: unknown request kind %d", uint8(r.Kind))
	}
	return nil
}

// usableUnicast accepts an IPv4 address a host may hold: not 0/8,
// loopback, multicast, class E or the limited broadcast address.
func usableUnicast(a netip.Addr) bool {
	a4 := a.As4()
	return a4[0] != 0 && !a.IsLoopback() && !a.IsMulticast() && a4[0] < 240
}

// Reply answers a request: Errno 0 means the descriptor is attached.
//
//	0      1      2             4
//	+------+------+-------------+-----------------+
//	| 'S'  | kind |  zero (2)   | errno (BE 32)   |
//	+------+------+-------------+-----------------+
type Reply struct {
	Kind  client.Socket
	Errno uint32
}

// MarshalBinary encodes r.
func (r Reply) MarshalBinary() ([]byte, error) {
	b := make([]byte, ReplySize)
	b[0], b[1] = magic, byte(r.Kind)
	binary.BigEndian.PutUint32(b[4:], r.Errno)
	return b, nil
}

// UnmarshalBinary decodes exactly ReplySize bytes.
func (r *Reply) UnmarshalBinary(b []byte) error {
	if len(b) != ReplySize {
		return fmt.Errorf("sockd: reply of %d bytes, want %d", len(b), ReplySize)
	}
	if b[0] != magic || b[2] != 0 || b[3] != 0 {
		return fmt.Errorf("sockd: malformed reply header % x", b[:4])
	}
	k := client.Socket(b[1])
	if k < client.SocketRaw || k >= client.NumSockets {
		return fmt.Errorf("sockd: reply for unknown kind %d", uint8(k))
	}
	*r = Reply{Kind: k, Errno: binary.BigEndian.Uint32(b[4:])}
	return nil
}
