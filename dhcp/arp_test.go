package dhcp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var otherMAC = MAC{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

func mustARP(t testing.TB, a ARP) []byte {
	t.Helper()
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestARPBuilders(t *testing.T) {
	zero := netip.IPv4Unspecified()
	gw := netip.MustParseAddr("192.0.2.254")
	tests := []struct {
		name string
		a    ARP
		want []byte
	}{
		{"probe", ARPProbe(testMAC, testYI), []byte{
			0, 1, 8, 0, 6, 4, 0, 1,
			0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 192, 0, 2, 77}},
		{"announcement", ARPAnnouncement(testMAC, testYI), []byte{
			0, 1, 8, 0, 6, 4, 0, 1,
			0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 0, 2, 77,
			0, 0, 0, 0, 0, 0, 192, 0, 2, 77}},
		{"query", ARPQuery(testMAC, testYI, gw), []byte{
			0, 1, 8, 0, 6, 4, 0, 1,
			0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 0, 2, 77,
			0, 0, 0, 0, 0, 0, 192, 0, 2, 254}},
	}
	for _, tt := range tests {
		b := mustARP(t, tt.a)
		if !bytes.Equal(b, tt.want) {
			t.Errorf("%s: % x\nwant % x", tt.name, b, tt.want)
		}
		got, err := ParseARP(append(b, make([]byte, 18)...)) // Ethernet padding
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.a, got, cmpOpts...); d != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tt.name, d)
		}
	}
	if ARPProbe(testMAC, testYI).SenderIP != zero {
		t.Error("probe sender ip")
	}
}

func TestParseARPErrors(t *testing.T) {
	good := mustARP(t, ARPAnnouncement(testMAC, testYI))
	mut := func(off int, v byte) []byte { b := bytes.Clone(good); b[off] = v; return b }
	for _, tt := range []struct {
		name string
		b    []byte
		err  string
	}{
		{"short", good[:27], "truncated arp"},
		{"htype 6", mut(1, 6), "not an ethernet/ipv4"},
		{"ptype ipv6", mut(2, 0x86), "not an ethernet/ipv4"},
		{"hlen 8", mut(4, 8), "not an ethernet/ipv4"},
		{"plen 16", mut(5, 16), "not an ethernet/ipv4"},
		{"op 3", mut(7, 3), "arp op 3"},
		{"op 0", mut(7, 0), "arp op 0"},
	} {
		if _, err := ParseARP(tt.b); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}
	if _, err := (&ARP{Op: 3, SenderIP: testYI, TargetIP: testYI}).AppendBinary(nil); err == nil {
		t.Error("op 3 encoded")
	}
	if _, err := (&ARP{Op: ARPRequest, SenderIP: testYI}).AppendBinary(nil); err == nil {
		t.Error("invalid target encoded")
	}
}

func TestARPConflicts(t *testing.T) {
	zero := netip.IPv4Unspecified()
	other := netip.MustParseAddr("192.0.2.9")
	reply := ARP{Op: ARPReply, SenderHW: otherMAC, SenderIP: testYI, TargetHW: testMAC, TargetIP: zero}
	tests := []struct {
		name           string
		a              ARP
		probe, defense bool
	}{
		{"reply from holder", reply, true, true},
		{"request from holder", ARPQuery(otherMAC, testYI, other), true, true},
		{"announcement by other", ARPAnnouncement(otherMAC, testYI), true, true},
		{"probe by other", ARPProbe(otherMAC, testYI), true, false},
		{"our own probe", ARPProbe(testMAC, testYI), false, false},
		{"our own announcement", ARPAnnouncement(testMAC, testYI), false, false},
		{"unrelated", ARPQuery(otherMAC, other, testServer), false, false},
		{"probe for another address", ARPProbe(otherMAC, other), false, false},
	}
	for _, tt := range tests {
		if got := tt.a.ProbeConflict(testYI, testMAC); got != tt.probe {
			t.Errorf("%s: ProbeConflict = %v", tt.name, got)
		}
		if got := tt.a.DefenseConflict(testYI, testMAC); got != tt.defense {
			t.Errorf("%s: DefenseConflict = %v", tt.name, got)
		}
	}
}

func TestMACText(t *testing.T) {
	m := MAC{0x02, 0xab, 0x00, 0x10, 0xff, 0x7e}
	b, _ := m.MarshalText()
	var got MAC
	if err := got.UnmarshalText(b); err != nil || got != m || string(b) != "02:ab:00:10:ff:7e" {
		t.Fatalf("%q -> %v, %v", b, got, err)
	}
	if err := got.UnmarshalText([]byte("02:AB:00:10:FF:7E")); err != nil || got != m {
		t.Fatalf("upper case: %v, %v", got, err)
	}
	for _, bad := range []string{"", "02:ab:00:10:ff", "02:ab:00:10:ff:7e:01", "02-ab-00-10-ff-7e", "02:ab:00:10:ff:xx", "+2:ab:00:10:ff:7e"} {
		if err := got.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
