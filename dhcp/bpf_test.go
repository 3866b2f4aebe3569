package dhcp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// runFilter runs raw through the x/net/bpf VM and returns how many octets
// the kernel would deliver (the VM does not cap RetA at the input length).
func runFilter(t testing.TB, raw []bpf.RawInstruction, frame []byte) int {
	t.Helper()
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatal(err)
	}
	return min(n, len(frame))
}

// dhcpFrames returns frames for the DHCP filter: name, frame, and how many
// octets the filter must keep.
func dhcpFrames(t testing.TB) []struct {
	name  string
	frame []byte
	keep  int
} {
	dg := func(f func(d *Datagram)) []byte {
		d := testDatagram(replyBytes(t, Offer))
		if f != nil {
			f(&d)
		}
		return mustDatagram(t, d)
	}
	good := dg(nil)
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	return []struct {
		name  string
		frame []byte
		keep  int
	}{
		{"offer", good, len(good)},
		{"offer with ethernet padding", append(bytes.Clone(good), make([]byte, 20)...), len(good)},
		{"dont fragment", dg(func(d *Datagram) { d.DontFragment = true }), len(good)},
		{"any source port", dg(func(d *Datagram) { d.Src = netip.AddrPortFrom(d.Src.Addr(), 4000) }), len(good)},
		{"to port 67", dg(func(d *Datagram) { d.Dst = netip.AddrPortFrom(d.Dst.Addr(), 67) }), 0},
		{"ip options (router alert)", withIPOptions(good, []byte{0x94, 4, 0, 0}), len(good) + 4},
		{"ip options, 40 octets", withIPOptions(good, bytes.Repeat([]byte{1}, 40)), len(good) + 40},
		{"ihl 4", mut(func(b []byte) { b[0] = 0x44 }), 0},
		{"ihl 6 without the options", mut(func(b []byte) { b[0] = 0x46 }), 0},
		{"ipv6 version", mut(func(b []byte) { b[0] = 0x65 }), 0},
		{"tcp", mut(func(b []byte) { b[9] = 6 }), 0},
		{"more fragments", mut(func(b []byte) { b[6] |= 0x20 }), 0},
		{"fragment offset", mut(func(b []byte) { b[7] |= 0x01 }), 0},
		{"high fragment offset", mut(func(b []byte) { b[6] |= 0x10 }), 0},
		{"reserved flag", mut(func(b []byte) { b[6] |= 0x80 }), 0},
		{"udp length short", mut(func(b []byte) { binary.BigEndian.PutUint16(b[24:], uint16(len(b)-21)) }), 0},
		{"udp length long", mut(func(b []byte) { binary.BigEndian.PutUint16(b[24:], uint16(len(b)-19)) }), 0},
		{"ip total length below 20", mut(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 10) }), 0},
		{"cut before udp length", good[:25], 0},
		{"empty", nil, 0},
	}
}

func TestDHCPFilter(t *testing.T) {
	raw := DHCPFilter()
	for _, tt := range dhcpFrames(t) {
		if got := runFilter(t, raw, tt.frame); got != tt.keep {
			t.Errorf("%s: kept %d octets, want %d", tt.name, got, tt.keep)
		}
		// Whatever userland accepts for port 68, the filter must pass whole.
		if d, err := ParseDatagram(tt.frame, 0); err == nil && d.Dst.Port() == ClientPort && tt.keep == 0 {
			t.Errorf("%s: userland accepts what the filter drops", tt.name)
		}
	}
}

func arpFrames(t testing.TB) []struct {
	name           string
	frame          []byte
	basic, defense bool
} {
	other := netip.MustParseAddr("192.0.2.9")
	announce := mustARP(t, ARPAnnouncement(testMAC, testYI))
	mut := func(off int, v byte) []byte { b := bytes.Clone(announce); b[off] = v; return b }
	lastDiffers := testMAC
	lastDiffers[5] ^= 1
	firstDiffers := testMAC
	firstDiffers[0] ^= 0x80
	reply := ARP{Op: ARPReply, SenderHW: otherMAC, SenderIP: testYI, TargetHW: testMAC, TargetIP: other}
	return []struct {
		name           string
		frame          []byte
		basic, defense bool
	}{
		{"conflicting reply", mustARP(t, reply), true, true},
		{"conflicting announcement", append(mustARP(t, ARPAnnouncement(otherMAC, testYI)), make([]byte, 18)...), true, true},
		{"mac differs in last octet", mustARP(t, ARPAnnouncement(lastDiffers, testYI)), true, true},
		{"mac differs in first octet", mustARP(t, ARPAnnouncement(firstDiffers, testYI)), true, true},
		{"our own announcement", announce, true, false},
		{"probe for our address", mustARP(t, ARPProbe(otherMAC, testYI)), true, false},
		{"unrelated request", mustARP(t, ARPQuery(otherMAC, other, testServer)), true, false},
		{"op 3", mut(7, 3), false, false},
		{"htype 6", mut(1, 6), false, false},
		{"ptype 0x86dd", mut(2, 0x86), false, false},
		{"hlen 8", mut(4, 8), false, false},
		{"27 octets", mustARP(t, reply)[:27], false, false},
	}
}

func TestARPFilters(t *testing.T) {
	basic := ARPFilter()
	defense, err := ARPDefenseFilter(testYI, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range arpFrames(t) {
		want := func(ok bool) int {
			if ok {
				return ARPLen
			}
			return 0
		}
		if got := runFilter(t, basic, tt.frame); got != want(tt.basic) {
			t.Errorf("%s: basic filter kept %d", tt.name, got)
		}
		if got := runFilter(t, defense, tt.frame); got != want(tt.defense) {
			t.Errorf("%s: defense filter kept %d", tt.name, got)
		}
		a, err := ParseARP(tt.frame)
		if (err == nil) != tt.basic {
			t.Errorf("%s: ParseARP error %v disagrees with the basic filter", tt.name, err)
		}
		if err == nil && a.DefenseConflict(testYI, testMAC) != tt.defense {
			t.Errorf("%s: DefenseConflict disagrees with the defense filter", tt.name)
		}
	}
	if _, err := ARPDefenseFilter(netip.MustParseAddr("::1"), testMAC); err == nil {
		t.Error("ipv6 defense address accepted")
	}
}

// TestARPDefenseFilterByteOrder is the regression test for the C ndhc's bug
// B7: the constants must be the big-endian words that BPF loads.
func TestARPDefenseFilterByteOrder(t *testing.T) {
	raw, err := ARPDefenseFilter(netip.MustParseAddr("192.0.2.77"), MAC{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30})
	if err != nil {
		t.Fatal(err)
	}
	var ks []uint32
	for _, ins := range raw {
		ks = append(ks, ins.K)
	}
	for _, want := range []uint32{0xc000024d, 0x02005e10, 0x2030} {
		found := false
		for _, k := range ks {
			found = found || k == want
		}
		if !found {
			t.Errorf("constant %#x not in the program %#x", want, ks)
		}
	}
}

// withIPOptions returns the IPv4 datagram b with opts (a multiple of 4
// octets) inserted after its 20-octet header, the header length, total
// length and header checksum updated.
func withIPOptions(b, opts []byte) []byte {
	out := append(append(bytes.Clone(b[:IPv4HeaderLen]), opts...), b[IPv4HeaderLen:]...)
	out[0] = 0x40 | byte((IPv4HeaderLen+len(opts))/4)
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	out[10], out[11] = 0, 0
	binary.BigEndian.PutUint16(out[10:], refChecksum(out[:IPv4HeaderLen+len(opts)]))
	return out
}
