package hostile

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/ndhc-go/ndhc/dhcp"
)

func testEnv() (*Env, Req) {
	e := &Env{
		ServerIP: netip.MustParseAddr("10.77.0.1"), ServerMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		Subnet: netip.MustParsePrefix("10.77.0.0/24"), Offer: netip.MustParseAddr("10.77.0.50"),
		Other: netip.MustParsePrefix("192.168.50.0/24"),
	}
	req := Req{Type: Discover, XID: 0x01020304, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	copy(req.CHAddr[:], req.MAC)
	return e, req
}

// TestTable: enough scenarios, unique names, every one described, each
// expecting Safe.
func TestTable(t *testing.T) {
	ss := Scenarios()
	if len(ss) < 60 {
		t.Fatalf("%d scenarios, want at least 60", len(ss))
	}
	seen := map[string]bool{}
	for _, s := range ss {
		if s.Name == "" || s.Sends == "" || s.Want != Safe {
			t.Errorf("scenario %+v: want a name, what it sends and Safe", s.Name)
		}
		if seen[s.Name] {
			t.Errorf("scenario %s twice", s.Name)
		}
		seen[s.Name] = true
	}
}

// TestWellFormed: the rogue's untouched reply is one the project's codec
// takes, so that what a scenario changes is the only thing wrong.
func TestWellFormed(t *testing.T) {
	e, req := testEnv()
	f := (&Scenario{}).Build(e, req, Offer)
	d, err := dhcp.ParseDatagram(f[14:], 0)
	if err != nil {
		t.Fatal(err)
	}
	var r dhcp.Reply
	if err := dhcp.ParseReply(d.Payload, &r); err != nil {
		t.Fatal(err)
	}
	if r.Type != dhcp.Offer || r.Msg.YIAddr != e.Offer || r.ServerID != e.ServerIP || r.LeaseTime != 3600 || r.Msg.XID != req.XID {
		t.Errorf("reply %+v", r)
	}
}

// TestFramingBreaks: the framing scenarios break what they say they do.
func TestFramingBreaks(t *testing.T) {
	e, req := testEnv()
	cases := map[string]error{"frame/bad-ip-checksum": dhcp.ErrChecksum, "frame/bad-udp-checksum": dhcp.ErrChecksum}
	rejects := []string{"frame/truncated-udp", "frame/ip-fragments", "frame/ip-total-long", "frame/ip-total-short",
		"frame/udp-length-long", "frame/udp-length-short", "frame/not-udp"}
	byName := map[string]Scenario{}
	for _, s := range Scenarios() {
		byName[s.Name] = s
	}
	for _, name := range append(rejects, "frame/bad-ip-checksum", "frame/bad-udp-checksum") {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no scenario %s", name)
		}
		frames := s.Responder(e)(req)
		if len(frames) == 0 {
			t.Fatalf("%s: nothing sent", name)
		}
		for _, f := range frames {
			_, err := dhcp.ParseDatagram(f[14:], 0)
			if err == nil {
				t.Errorf("%s: frame accepted", name)
			} else if want := cases[name]; want != nil && !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", name, err, want)
			}
		}
	}
	frag := byName["frame/ip-fragments"]
	if n := len(frag.Responder(e)(req)); n != 2 {
		t.Errorf("%d fragments, want 2", n)
	}
}

// TestLongOptionSplit: an option longer than 255 octets goes out as
// several of the same code (RFC 3396), a lying length as it is.
func TestLongOptionSplit(t *testing.T) {
	data := make([]byte, 300)
	b := AppendOpts(nil, []Opt{O(119, data...)})
	if len(b) != 304 || b[0] != 119 || b[1] != 255 || b[257] != 119 || b[258] != 45 {
		t.Errorf("split into % x...", b[:4])
	}
	b = AppendOpts(nil, []Opt{{Code: 6, Data: []byte{1, 2, 3, 4}, Len: 200}})
	if len(b) != 6 || b[1] != 200 {
		t.Errorf("lying length: % x", b)
	}
}
