package dhcp

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// captures returns the real server replies in testdata/captures (see its
// README), by file name.
func captures(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "captures", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(f)] = b
	}
	return m
}

// TestCaptures decodes every captured reply of dnsmasq, kea, ISC dhcpd and
// busybox udhcpd, checks it against the lab's server configuration, and
// checks the round-trip property of FuzzMessage on it.
func TestCaptures(t *testing.T) {
	caps := captures(t)
	if len(caps) == 0 {
		t.Skip("no captures in testdata/captures")
	}
	a := netip.MustParseAddr
	server := a("10.77.0.1")
	for name, b := range caps {
		t.Run(name, func(t *testing.T) {
			var r Reply
			if err := ParseReply(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.ServerID != server {
				t.Errorf("server id %v", r.ServerID)
			}
			if MAC(r.Msg.CHAddr[:6]) != (MAC{0x02, 0x6e, 0x64, 0x68, 0x63, 0x01}) {
				t.Errorf("chaddr % x", r.Msg.CHAddr[:6])
			}
			switch {
			case strings.Contains(name, "-nak"):
				if r.Type != Nak || r.Msg.YIAddr != netip.IPv4Unspecified() {
					t.Errorf("type %v, yiaddr %v", r.Type, r.Msg.YIAddr)
				}
			default:
				want := Offer
				if strings.Contains(name, "-ack") {
					want = Ack
				}
				checkLabLease(t, &r, want)
			}
			// The FuzzMessage property.
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			enc, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var r2 Reply
			if err := ParseReply(enc, &r2); err != nil || !r.Equal(&r2) {
				t.Fatalf("re-encoded reply: %v", err)
			}
			enc2, _ := r2.Msg.MarshalBinary()
			if !bytes.Equal(enc, enc2) {
				t.Error("second encoding differs")
			}
			// Options in the same order with the same bytes as on the wire
			// (none of these servers splits or overloads).
			if !bytes.Equal(enc[offOpts:], trimPad(b[offOpts:])) {
				t.Errorf("options re-encode differently:\n% x\n% x", enc[offOpts:], b[offOpts:])
			}
		})
	}
}

// trimPad cuts an options field after its End option.
func trimPad(b []byte) []byte {
	for i := 0; i < len(b); {
		switch b[i] {
		case 0:
			i++
		case 255:
			return b[:i+1]
		default:
			if i+1 >= len(b) {
				return b
			}
			i += 2 + int(b[i+1])
		}
	}
	return b
}

func checkLabLease(t *testing.T, r *Reply, typ MessageType) {
	t.Helper()
	a := netip.MustParseAddr
	yi := r.Msg.YIAddr.As4()
	if r.Type != typ || yi[0] != 10 || yi[1] != 77 || yi[2] != 0 || yi[3] < 100 || yi[3] > 199 {
		t.Errorf("type %v, yiaddr %v", r.Type, r.Msg.YIAddr)
	}
	type lease struct {
		Mask, Bcast       netip.Addr
		Routers, DNS, NTP []netip.Addr
		Host, Domain      string
		MTU               uint16
		Lease, T1, T2     uint32
		Search            []string
		Routes            []Route
	}
	got := lease{
		r.SubnetMask, r.Broadcast, r.Routers(), r.DNS(), r.NTPServers(),
		r.Hostname.String(), r.DomainName.String(), r.MTU,
		r.LeaseTime, r.RenewalTime, r.RebindingTime, searchStrings(r.SearchList()), r.Routes(),
	}
	want := lease{
		a("255.255.255.0"), a("10.77.0.255"), []netip.Addr{a("10.77.0.1")},
		[]netip.Addr{a("10.77.0.53"), a("192.0.2.53")}, []netip.Addr{a("10.77.0.123")},
		"labclient", "lab.example", 1400, 120, 50, 95,
		[]string{"lab.example", "corp.lab.example", "example.org"},
		[]Route{
			{netip.MustParsePrefix("198.51.100.0/24"), a("10.77.0.254")},
			{netip.MustParsePrefix("0.0.0.0/0"), a("10.77.0.1")},
		},
	}
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("lease (-want +got):\n%s", d)
	}
}
