package linkev

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// Filter returns a classic BPF socket filter for the engine's link-event
// socket that passes only single link notifications (RTM_NEWLINK or
// RTM_DELLINK, not part of a multi-part dump) about interface ifindex.
// The supervisor attaches and locks it, so a compromised engine that sends
// a dump request on its socket reads nothing about the host's other
// interfaces, addresses, routes or neighbours.
//
// Netlink headers are in host byte order and BPF loads in network order,
// so the constants are the host-order bytes read big-endian; order is the
// host's byte order (binary.NativeEndian in the supervisor).
func Filter(ifindex int32, order binary.ByteOrder) ([]bpf.Instruction, error) {
	u16 := func(v uint16) uint32 {
		var b [2]byte
		order.PutUint16(b[:], v)
		return uint32(binary.BigEndian.Uint16(b[:]))
	}
	u32 := func(v uint32) uint32 {
		var b [4]byte
		order.PutUint32(b[:], v)
		return binary.BigEndian.Uint32(b[:])
	}
	const (
		offType  = 4               // nlmsghdr.nlmsg_type
		offFlags = 6               // nlmsghdr.nlmsg_flags
		offIndex = nlmsgHdrLen + 4 // ifinfomsg.ifi_index
		nlmMulti = 0x2             // NLM_F_MULTI
		minLen   = offIndex + 4    // the fields the filter reads
		accept   = 0xffffffff      // the whole message
	)
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtLen},
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: minLen, SkipTrue: 8},
		bpf.LoadAbsolute{Off: offType, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: u16(typeNewLink), SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: u16(typeDelLink), SkipTrue: 5},
		bpf.LoadAbsolute{Off: offFlags, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: u16(nlmMulti), SkipTrue: 3},
		bpf.LoadAbsolute{Off: offIndex, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: u32(uint32(ifindex)), SkipTrue: 1},
		bpf.RetConstant{Val: accept},
		bpf.RetConstant{Val: 0},
	}
	if _, err := bpf.Assemble(prog); err != nil {
		return nil, err
	}
	return prog, nil
}
