package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// MAC is an Ethernet (EUI-48) address.
type MAC [6]byte

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// String returns m as six colon-separated hex octets.
func (m MAC) String() string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&0xf])
	}
	return string(b)
}

// MarshalText returns m as String does.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses six colon-separated hex octets (either case).
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) != 17 {
		return errors.New("dhcp: MAC address " + strconv.Quote(string(b)) + ": want six colon-separated hex octets")
	}
	var v MAC
	for i := range v {
		if i > 0 && b[3*i-1] != ':' {
			return errors.New("dhcp: MAC address " + strconv.Quote(string(b)) + ": want six colon-separated hex octets")
		}
		n, err := strconv.ParseUint(string(b[3*i:3*i+2]), 16, 8)
		if err != nil {
			return errors.New("dhcp: MAC address " + strconv.Quote(string(b)) + ": want six colon-separated hex octets")
		}
		v[i] = byte(n)
	}
	*m = v
	return nil
}

// ARPLen is the size of an Ethernet/IPv4 ARP packet (RFC 826): the payload
// of the frame, after the Ethernet header.
const ARPLen = 28

// ARPOp is the operation of an ARP packet (RFC 826).
type ARPOp uint16

// ARP operations (RFC 826).
const (
	ARPRequest ARPOp = 1
	ARPReply   ARPOp = 2
)

// EtherTypeARP and EtherTypeIPv4 are the Ethernet protocol numbers of ARP
// and IPv4, also the protocol numbers of the packet sockets that carry them.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
)

// ARP is an Ethernet/IPv4 ARP packet (RFC 826): hardware type 1, protocol
// type 0x0800, address lengths 6 and 4. It is the data of an AF_PACKET
// SOCK_DGRAM socket of protocol ETH_P_ARP; the Ethernet header is the
// kernel's business.
type ARP struct {
	Op       ARPOp
	SenderHW MAC
	SenderIP netip.Addr
	TargetHW MAC
	TargetIP netip.Addr
}

// ParseARP decodes an Ethernet/IPv4 ARP request or reply from the start of
// b. Octets after the first 28 (Ethernet padding) are ignored.
func ParseARP(b []byte) (ARP, error) {
	if len(b) < ARPLen {
		return ARP{}, errTruncated("arp packet: " + strconv.Itoa(len(b)) + " octets")
	}
	if binary.BigEndian.Uint16(b[0:]) != HTypeEthernet || binary.BigEndian.Uint16(b[2:]) != EtherTypeIPv4 ||
		b[4] != 6 || b[5] != 4 {
		return ARP{}, errors.New("dhcp: not an ethernet/ipv4 arp packet")
	}
	op := ARPOp(binary.BigEndian.Uint16(b[6:]))
	if op != ARPRequest && op != ARPReply {
		return ARP{}, errors.New("dhcp: arp op " + strconv.Itoa(int(op)) + " is neither request nor reply")
	}
	return ARP{
		Op:       op,
		SenderHW: MAC(b[8:14]),
		SenderIP: netip.AddrFrom4([4]byte(b[14:18])),
		TargetHW: MAC(b[18:24]),
		TargetIP: netip.AddrFrom4([4]byte(b[24:28])),
	}, nil
}

// AppendBinary appends the 28-octet encoding of a to b. Both addresses must
// be IPv4 and the op a request or reply. It implements
// encoding.BinaryAppender.
func (a *ARP) AppendBinary(b []byte) ([]byte, error) {
	if a.Op != ARPRequest && a.Op != ARPReply {
		return b, errors.New("dhcp: arp op " + strconv.Itoa(int(a.Op)) + " is neither request nor reply")
	}
	if !a.SenderIP.Is4() || !a.TargetIP.Is4() {
		return b, errors.New("dhcp: arp addresses must be ipv4")
	}
	b = append(b, 0, HTypeEthernet, EtherTypeIPv4>>8, EtherTypeIPv4&0xff, 6, 4)
	b = binary.BigEndian.AppendUint16(b, uint16(a.Op))
	s, t := a.SenderIP.As4(), a.TargetIP.As4()
	b = append(b, a.SenderHW[:]...)
	b = append(b, s[:]...)
	b = append(b, a.TargetHW[:]...)
	return append(b, t[:]...), nil
}

// ARPProbe returns an ARP probe for candidate (RFC 5227 section 2.1.1): a
// request with sender hardware address hw, sender IP 0.0.0.0, target
// hardware address zero, target IP the address being probed.
func ARPProbe(hw MAC, candidate netip.Addr) ARP {
	return ARP{Op: ARPRequest, SenderHW: hw, SenderIP: netip.IPv4Unspecified(), TargetIP: candidate}
}

// ARPAnnouncement returns an ARP announcement of addr (RFC 5227 section
// 2.3): a request with sender and target IP both addr, target hardware
// address zero.
func ARPAnnouncement(hw MAC, addr netip.Addr) ARP {
	return ARP{Op: ARPRequest, SenderHW: hw, SenderIP: addr, TargetIP: addr}
}

// ARPQuery returns an ordinary ARP request from (hw, sender) for target,
// used to learn or check the hardware address of a gateway or server
// (RFC 826; RFC 4436 section 4.4 for reachability detection on reconnect).
func ARPQuery(hw MAC, sender, target netip.Addr) ARP {
	return ARP{Op: ARPRequest, SenderHW: hw, SenderIP: sender, TargetIP: target}
}

// ProbeConflict reports whether a, received while probing for candidate
// with hardware address own, shows that the address is in use or being
// claimed (RFC 5227 section 2.1.1): any ARP packet whose sender IP is the
// candidate, or a probe for the candidate from another host.
func (a *ARP) ProbeConflict(candidate netip.Addr, own MAC) bool {
	if a.SenderHW == own {
		return false
	}
	if a.SenderIP == candidate {
		return true
	}
	return a.Op == ARPRequest && a.SenderIP.IsUnspecified() && a.TargetIP == candidate
}

// DefenseConflict reports whether a is a conflicting ARP packet for addr,
// held with hardware address own (RFC 5227 section 2.4): its sender IP is
// addr and its sender hardware address is not own.
func (a *ARP) DefenseConflict(addr netip.Addr, own MAC) bool {
	return a.SenderIP == addr && a.SenderHW != own
}
