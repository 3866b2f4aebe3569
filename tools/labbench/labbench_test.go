package main

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want summary
	}{
		{nil, summary{}},
		{[]float64{5}, summary{5, 5, 5}},
		{[]float64{9, 1, 5}, summary{5, 1, 9}},
		{[]float64{4, 1, 3, 2}, summary{2, 1, 4}}, // the lower median
	} {
		if got := summarize(c.in); got != c.want {
			t.Errorf("summarize(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// addrMsg builds one RTM_NEWADDR or RTM_DELADDR message as the kernel
// sends it: nlmsghdr, ifaddrmsg, then an IFA_LOCAL attribute.
func addrMsg(typ uint16, bits uint8, index uint32, a netip.Addr) []byte {
	const hdr, ifa, rta = unix.SizeofNlMsghdr, unix.SizeofIfAddrmsg, 8
	b := make([]byte, hdr+ifa+rta)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	b[hdr] = unix.AF_INET
	b[hdr+1] = bits
	binary.NativeEndian.PutUint32(b[hdr+4:], index)
	binary.NativeEndian.PutUint16(b[hdr+ifa:], rta)
	binary.NativeEndian.PutUint16(b[hdr+ifa+2:], unix.IFA_LOCAL)
	copy(b[hdr+ifa+4:], a.AsSlice())
	return b
}

func TestParseAddrMsgs(t *testing.T) {
	a := netip.MustParseAddr("10.77.0.100")
	b := append(addrMsg(unix.RTM_NEWADDR, 24, 7, a), addrMsg(unix.RTM_DELADDR, 24, 7, a)...)
	b = append(b, addrMsg(unix.RTM_NEWADDR, 24, 8, a)...) // another interface
	got := parseAddrMsgs(b, 7, 42)
	want := []addrEvent{{at: 42, add: true, addr: netip.PrefixFrom(a, 24)}, {at: 42, add: false, addr: netip.PrefixFrom(a, 24)}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := parseAddrMsgs(addrMsg(unix.RTM_NEWADDR, 33, 7, a), 7, 0); len(got) != 0 {
		t.Errorf("prefix length 33 accepted: %+v", got)
	}
	if got := parseAddrMsgs(b[:len(b)-3], 7, 0); len(got) > 2 {
		t.Errorf("truncated message parsed: %+v", got)
	}
}

// discoverPacket is an IPv4/UDP packet to port 67 holding a DHCP message
// of type typ.
func discoverPacket(typ byte) []byte {
	b := make([]byte, 28+240+4)
	b[0] = 0x45
	b[9] = 17
	binary.BigEndian.PutUint16(b[20:], 68)
	binary.BigEndian.PutUint16(b[22:], 67)
	binary.BigEndian.PutUint32(b[28+236:], 0x63825363)
	copy(b[28+240:], []byte{53, 1, typ, 255})
	return b
}

func TestIsDiscover(t *testing.T) {
	if !isDiscover(discoverPacket(1)) {
		t.Error("DISCOVER not recognised")
	}
	if isDiscover(discoverPacket(3)) {
		t.Error("REQUEST taken for a DISCOVER")
	}
	p := discoverPacket(1)
	binary.BigEndian.PutUint16(p[22:], 68)
	if isDiscover(p) {
		t.Error("a packet to port 68 taken for a DISCOVER")
	}
	if isDiscover(discoverPacket(1)[:27]) {
		t.Error("truncated packet accepted")
	}
}

func TestKernelStamp(t *testing.T) {
	oob := make([]byte, unix.CmsgSpace(16))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(16))
	binary.NativeEndian.PutUint64(oob[unix.CmsgLen(0):], 3)
	binary.NativeEndian.PutUint64(oob[unix.CmsgLen(0)+8:], 500)
	if ts, ok := kernelStamp(oob); !ok || ts != 3e9+500 {
		t.Errorf("kernelStamp = %d, %v; want 3000000500, true", ts, ok)
	}
	if _, ok := kernelStamp(oob[:4]); ok {
		t.Error("truncated control message accepted")
	}
}

func FuzzParseAddrMsgs(f *testing.F) {
	a := netip.MustParseAddr("10.77.0.100")
	f.Add(addrMsg(unix.RTM_NEWADDR, 24, 7, a))
	f.Add(append(addrMsg(unix.RTM_DELADDR, 32, 7, a), addrMsg(unix.RTM_NEWADDR, 0, 7, a)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ev := range parseAddrMsgs(b, 7, 1) {
			if !ev.addr.IsValid() || !ev.addr.Addr().Is4() || ev.addr.Bits() < 0 {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}

func FuzzIsDiscover(f *testing.F) {
	f.Add(discoverPacket(1))
	f.Add(discoverPacket(5))
	f.Fuzz(func(t *testing.T, b []byte) {
		isDiscover(b)
		kernelStamp(b)
	})
}
