package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Header sizes of the framing this package reads and writes: IPv4 without
// options (RFC 791 section 3.1) and UDP (RFC 768).
const (
	IPv4HeaderLen = 20
	UDPHeaderLen  = 8
	protoUDP      = 17
)

// RecvFlags change how [ParseDatagram] checks a frame.
type RecvFlags uint8

// ChecksumNotReady tells ParseDatagram that the kernel did not finish the
// UDP checksum of this frame (PACKET_AUXDATA reported TP_STATUS_CSUMNOTREADY:
// the packet was sent from this host through a device with checksum offload,
// such as one end of a veth pair), so the UDP checksum field holds only a
// partial sum and is not verified. The IPv4 header checksum still is.
const ChecksumNotReady RecvFlags = 1 << 0

// Datagram is a UDP datagram in an IPv4 packet without options, as read from
// or written to an AF_PACKET SOCK_DGRAM socket of protocol ETH_P_IP: the data
// starts at the IPv4 header (RFC 791 section 3.1, RFC 768).
type Datagram struct {
	Src, Dst     netip.AddrPort
	TOS          uint8
	ID           uint16
	DontFragment bool
	TTL          uint8
	Payload      []byte
}

// ParseDatagram decodes an IPv4/UDP frame. IP options (a header longer
// than 20 octets, up to 60) are skipped: a router alert or a timestamp
// says nothing about the DHCP message, and other clients accept them. It
// rejects a version other than 4, a header length under 20 octets,
// fragments (MF or a fragment offset), the reserved flag, a
// protocol other than UDP, an IPv4 header checksum that does not verify, an
// IP total length below 28 or beyond the end of b, and a UDP length that is
// not the IP payload length. Octets past the IP total length (Ethernet
// padding) are ignored. The UDP checksum is verified unless it is 0 (the
// sender did not compute one, which RFC 768 allows) or flags has
// [ChecksumNotReady]. The payload aliases b.
func ParseDatagram(b []byte, flags RecvFlags) (Datagram, error) {
	if len(b) < IPv4HeaderLen+UDPHeaderLen {
		return Datagram{}, errTruncated("ipv4/udp packet: " + strconv.Itoa(len(b)) + " octets")
	}
	if b[0]>>4 != 4 {
		return Datagram{}, errors.New("dhcp: ip version " + strconv.Itoa(int(b[0]>>4)))
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4HeaderLen {
		return Datagram{}, errors.New("dhcp: ipv4 header length " + strconv.Itoa(ihl))
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total < ihl+UDPHeaderLen {
		return Datagram{}, errors.New("dhcp: ipv4 total length " + strconv.Itoa(total) + " with a header of " + strconv.Itoa(ihl))
	}
	if total > len(b) {
		return Datagram{}, errTruncated("ipv4 packet: total length " + strconv.Itoa(total) + ", " + strconv.Itoa(len(b)) + " octets")
	}
	frag := binary.BigEndian.Uint16(b[6:])
	if frag&0x8000 != 0 {
		return Datagram{}, errors.New("dhcp: ipv4 reserved flag set")
	}
	if frag&0x3fff != 0 {
		return Datagram{}, errors.New("dhcp: ipv4 fragment")
	}
	if b[9] != protoUDP {
		return Datagram{}, errors.New("dhcp: ip protocol " + strconv.Itoa(int(b[9])) + ", not udp")
	}
	if fold(onesSum(b[:ihl], 0)) != 0xffff {
		return Datagram{}, fmt.Errorf("%w: ipv4 header", ErrChecksum)
	}
	b = b[:total]
	u := b[ihl:]
	if ulen := int(binary.BigEndian.Uint16(u[4:])); ulen != len(u) {
		return Datagram{}, errors.New("dhcp: udp length " + strconv.Itoa(ulen) + ", ip payload " + strconv.Itoa(len(u)))
	}
	if binary.BigEndian.Uint16(u[6:]) != 0 && flags&ChecksumNotReady == 0 {
		if fold(onesSum(u, pseudoSum(b[12:16], b[16:20], len(u)))) != 0xffff {
			return Datagram{}, fmt.Errorf("%w: udp", ErrChecksum)
		}
	}
	return Datagram{
		Src:          netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(u[0:])),
		Dst:          netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(u[2:])),
		TOS:          b[1],
		ID:           binary.BigEndian.Uint16(b[4:]),
		DontFragment: frag&0x4000 != 0,
		TTL:          b[8],
		Payload:      u[UDPHeaderLen:],
	}, nil
}

// AppendBinary appends the IPv4 and UDP headers and the payload of d to b,
// with both checksums computed (a computed UDP checksum of 0 is sent as
// 0xffff, RFC 768). Src and Dst must be IPv4; the packet must fit the 16-bit
// total length. It implements encoding.BinaryAppender.
func (d *Datagram) AppendBinary(b []byte) ([]byte, error) {
	if !d.Src.Addr().Is4() || !d.Dst.Addr().Is4() {
		return b, errors.New("dhcp: datagram addresses must be ipv4")
	}
	total := IPv4HeaderLen + UDPHeaderLen + len(d.Payload)
	if total > 0xffff {
		return b, errors.New("dhcp: datagram of " + strconv.Itoa(total) + " octets too long")
	}
	start := len(b)
	var frag uint16
	if d.DontFragment {
		frag = 0x4000
	}
	src, dst := d.Src.Addr().As4(), d.Dst.Addr().As4()
	b = append(b, 0x45, d.TOS)
	b = binary.BigEndian.AppendUint16(b, uint16(total))
	b = binary.BigEndian.AppendUint16(b, d.ID)
	b = binary.BigEndian.AppendUint16(b, frag)
	b = append(b, d.TTL, protoUDP, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	ip := b[start:]
	binary.BigEndian.PutUint16(ip[10:], ^fold(onesSum(ip[:IPv4HeaderLen], 0)))

	ulen := UDPHeaderLen + len(d.Payload)
	b = binary.BigEndian.AppendUint16(b, d.Src.Port())
	b = binary.BigEndian.AppendUint16(b, d.Dst.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(ulen))
	b = append(b, 0, 0)
	b = append(b, d.Payload...)
	u := b[start+IPv4HeaderLen:]
	c := ^fold(onesSum(u, pseudoSum(src[:], dst[:], ulen)))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return b, nil
}

// pseudoSum is the sum of the UDP pseudo-header (RFC 768): source and
// destination addresses, protocol and UDP length.
func pseudoSum(src, dst []byte, ulen int) uint64 {
	return uint64(binary.BigEndian.Uint32(src)) + uint64(binary.BigEndian.Uint32(dst)) +
		protoUDP + uint64(ulen)
}

// onesSum adds b as big-endian 16-bit words (a trailing odd octet padded
// with zero) to s. Adding 32-bit words and folding later gives the same
// ones' complement sum (RFC 1071 section 2).
func onesSum(b []byte, s uint64) uint64 {
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold reduces a sum to 16 bits with end-around carry.
func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
