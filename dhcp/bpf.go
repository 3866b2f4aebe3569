package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"golang.org/x/net/bpf"
)

// DHCPFilter returns the classic BPF program for the DHCP listening socket,
// an AF_PACKET SOCK_DGRAM socket of protocol ETH_P_IP (data starts at the
// IPv4 header). It accepts a packet only if it is IPv4 with a header of at
// least 20 octets (options are allowed: other clients take replies that
// carry them), UDP, not a fragment and without the reserved flag, for
// destination port 68, with a UDP length equal to the IP total length minus
// the header; it keeps only the IP total length of it, which strips
// Ethernet padding. The source port is not checked (relays and some servers differ).
// [ParseDatagram] repeats every check in userland.
func DHCPFilter() []bpf.RawInstruction {
	const drop = 20
	return mustAssemble([]bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 0, Size: 1},
		/* 1 */ bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		/* 2 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipFalse: drop - 3},
		/* 3 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: protoUDP, SkipFalse: drop - 5},
		/* 5 */ bpf.LoadAbsolute{Off: 6, Size: 2}, // flags and fragment offset
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0xbfff, SkipTrue: drop - 7},
		/* 7 */ bpf.LoadMemShift{Off: 0}, // X = the header length, options included
		/* 8 */ bpf.TXA{},
		/* 9 */ bpf.JumpIf{Cond: bpf.JumpLessThan, Val: IPv4HeaderLen, SkipTrue: drop - 10},
		/* 10 */ bpf.LoadIndirect{Off: 2, Size: 2}, // udp destination port
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: ClientPort, SkipFalse: drop - 12},
		/* 12 */ bpf.LoadAbsolute{Off: 2, Size: 2}, // ip total length
		/* 13 */ bpf.ALUOpX{Op: bpf.ALUOpSub}, // minus the header: the udp length it implies
		/* 14 */ bpf.StoreScratch{Src: bpf.RegA, N: 0},
		/* 15 */ bpf.LoadIndirect{Off: 4, Size: 2}, // udp length
		/* 16 */ bpf.LoadScratch{Dst: bpf.RegX, N: 0},
		/* 17 */ bpf.JumpIfX{Cond: bpf.JumpEqual, SkipFalse: drop - 18},
		/* 18 */ bpf.LoadAbsolute{Off: 2, Size: 2},
		/* 19 */ bpf.RetA{},
		/* 20 */ bpf.RetConstant{Val: 0},
	})
}

// ARP header words, as BPF loads them (big-endian): hardware type 1 and
// protocol type 0x0800; hardware length 6, protocol length 4 and op.
const (
	arpWord0        = HTypeEthernet<<16 | EtherTypeIPv4
	arpWord1Request = 6<<24 | 4<<16 | uint32(ARPRequest)
	arpWord1Reply   = 6<<24 | 4<<16 | uint32(ARPReply)
)

// ARPFilter returns the classic BPF program for the ARP socket, an
// AF_PACKET SOCK_DGRAM socket of protocol ETH_P_ARP (data starts at the ARP
// header). It accepts Ethernet/IPv4 ARP requests and replies of at least 28
// octets and keeps the first 28 (no Ethernet padding).
func ARPFilter() []bpf.RawInstruction {
	const drop = 7
	return mustAssemble([]bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 0, Size: 4},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord0, SkipFalse: drop - 2},
		/* 2 */ bpf.LoadAbsolute{Off: 4, Size: 4},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord1Request, SkipTrue: 5 - 4},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord1Reply, SkipFalse: drop - 5},
		/* 5 */ bpf.LoadAbsolute{Off: 24, Size: 4}, // fails, and drops, if shorter than 28
		/* 6 */ bpf.RetConstant{Val: ARPLen},
		/* 7 */ bpf.RetConstant{Val: 0},
	})
}

// ARPDefenseFilter returns the classic BPF program for the ARP socket while
// the client holds addr on an interface with hardware address mac: it
// accepts only conflicting ARP packets (RFC 5227 section 2.4), whose sender
// IP is addr and whose sender hardware address is not mac, and keeps their
// first 28 octets. The comparison constants are the big-endian words BPF
// loads, so the filter works on hosts of either byte order.
func ARPDefenseFilter(addr netip.Addr, mac MAC) ([]bpf.RawInstruction, error) {
	if !addr.Is4() {
		return nil, errors.New("dhcp: arp defense address " + addr.String() + " is not ipv4")
	}
	a := addr.As4()
	ip := binary.BigEndian.Uint32(a[:])
	mac0 := binary.BigEndian.Uint32(mac[0:4])
	mac1 := uint32(binary.BigEndian.Uint16(mac[4:6]))
	const accept, drop = 12, 13
	return mustAssemble([]bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: 0, Size: 4},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord0, SkipFalse: drop - 2},
		/* 2 */ bpf.LoadAbsolute{Off: 4, Size: 4},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord1Request, SkipTrue: 5 - 4},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: arpWord1Reply, SkipFalse: drop - 5},
		/* 5 */ bpf.LoadAbsolute{Off: 24, Size: 4},
		/* 6 */ bpf.LoadAbsolute{Off: 14, Size: 4}, // sender IP
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: ip, SkipFalse: drop - 8},
		/* 8 */ bpf.LoadAbsolute{Off: 8, Size: 4}, // sender MAC, octets 0-3
		/* 9 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: mac0, SkipFalse: accept - 10},
		/* 10 */ bpf.LoadAbsolute{Off: 12, Size: 2}, // sender MAC, octets 4-5
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: mac1, SkipTrue: drop - 12},
		/* 12 */ bpf.RetConstant{Val: ARPLen},
		/* 13 */ bpf.RetConstant{Val: 0},
	}), nil
}

// mustAssemble assembles a program written in this file. It fails only on a
// programming error, which the tests catch.
func mustAssemble(p []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(p)
	if err != nil {
		panic("dhcp: bpf program does not assemble: " + err.Error())
	}
	return raw
}
