package dhcp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReply(t *testing.T) {
	b := replyBytes(t, Offer)
	var r Reply
	if err := ParseReply(b, &r); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	type view struct {
		Type                                MessageType
		XID                                 uint32
		YIAddr, ServerID, SubnetMask, Bcast netip.Addr
		Lease, T1, T2                       uint32
		Routers, DNS                        []netip.Addr
		Domain                              string
		Search                              []string
		Routes                              []Route
		Prefix                              int
		HasMTU, HasLease                    bool
	}
	bits, _ := r.PrefixLen()
	got := view{
		r.Type, r.Msg.XID, r.Msg.YIAddr, r.ServerID, r.SubnetMask, r.Broadcast,
		r.LeaseTime, r.RenewalTime, r.RebindingTime, r.Routers(), r.DNS(),
		r.DomainName.String(), searchStrings(r.SearchList()), r.Routes(), bits,
		r.Has(OptInterfaceMTU), r.Has(OptLeaseTime),
	}
	want := view{
		Offer, 0x3903f326, testYI, testServer, a("255.255.255.0"), netip.Addr{},
		3600, 1800, 3150, []netip.Addr{testServer}, []netip.Addr{a("192.0.2.1"), a("192.0.2.2")},
		"example.org", []string{"eng.example.org", "example.org"},
		[]Route{
			{netip.MustParsePrefix("10.0.0.0/8"), a("192.0.2.254")},
			{netip.MustParsePrefix("0.0.0.0/0"), testServer},
		}, 24, false, true,
	}
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	// Parsing into a used Reply leaves nothing behind.
	m := replyMessage(t, Nak)
	for _, c := range []OptionCode{OptLeaseTime, OptRenewalTime, OptRebindingTime, OptSubnetMask, OptRouter, OptDNS, OptDomainName, OptDomainSearch, OptClasslessRoutes} {
		m.Options.Del(c)
	}
	mustSet(t, &m.Options, OptMessage, []byte("no"))
	nak, _ := m.MarshalBinary()
	if err := ParseReply(nak, &r); err != nil {
		t.Fatal(err)
	}
	var fresh Reply
	if err := ParseReply(nak, &fresh); err != nil {
		t.Fatal(err)
	}
	if !r.Equal(&fresh) || r.Type != Nak || len(r.Routes()) != 0 || r.LeaseTime != 0 || !r.DomainName.IsZero() {
		t.Error("reused Reply differs from a fresh one")
	}
	if _, ok := r.PrefixLen(); ok {
		t.Error("PrefixLen without a mask")
	}
}

func TestParseReplyAllOptions(t *testing.T) {
	m := replyMessage(t, Ack)
	o := &m.Options
	mustSet(t, o, OptHostname, []byte("client-7"))
	mustSet(t, o, OptInterfaceMTU, []byte{5, 0xdc})
	mustSet(t, o, OptBroadcast, []byte{192, 0, 2, 255})
	mustSet(t, o, OptNTPServers, []byte{192, 0, 2, 3})
	mustSet(t, o, OptClientID, []byte{1, 2, 0, 0x5e, 0x10, 0x20, 0x30})
	mustSet(t, o, OptRequestedIP, testYI.AsSlice())
	mustSet(t, o, OptMaxMessageSize, []byte{5, 0xc0})
	mustSet(t, o, OptionCode(224), []byte("opaque"))
	b, _ := m.MarshalBinary()
	var r Reply
	if err := ParseReply(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Hostname.String() != "client-7" || r.MTU != 1500 || r.Broadcast != netip.MustParseAddr("192.0.2.255") ||
		len(r.NTPServers()) != 1 {
		t.Errorf("typed values: %q %d %v %v", r.Hostname, r.MTU, r.Broadcast, r.NTPServers())
	}
	if v, ok := r.Msg.Options.Get(224); !ok || string(v) != "opaque" {
		t.Error("unknown option lost")
	}
	if id, _ := r.Msg.Options.Get(OptClientID); !NewClientIDMAC(testMAC).Matches(id) {
		t.Error("client id echo")
	}
}

// TestParseReplyDrops checks that a malformed option the lease can do
// without is dropped, named in Dropped and reported absent by Has, while
// the rest of the reply is kept.
// TestParseReplyCut: a list of more addresses than a reply holds keeps its
// first MaxAddrs (25 DNS servers, split over two instances as RFC 3396
// allows, is what some servers send), and says so.
func TestParseReplyCut(t *testing.T) {
	m := replyMessage(t, Ack)
	var dns []byte
	for i := range 25 {
		dns = append(dns, 10, 0, 0, byte(i+1))
	}
	if err := m.Options.Set(OptDNS, dns); err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Reply
	if err := ParseReply(b, &r); err != nil {
		t.Fatal(err)
	}
	got := r.DNS()
	if len(got) != MaxAddrs || got[0] != netip.AddrFrom4([4]byte{10, 0, 0, 1}) || got[MaxAddrs-1] != netip.AddrFrom4([4]byte{10, 0, 0, MaxAddrs}) {
		t.Errorf("dns %v, want the first %d of 25", got, MaxAddrs)
	}
	if c := r.Cut(); len(c) != 1 || c[0].Code != OptDNS || len(r.Dropped()) != 0 || !r.Has(OptDNS) {
		t.Errorf("cut %+v dropped %+v has %v: want option 6 cut, nothing dropped", c, r.Dropped(), r.Has(OptDNS))
	}
	// A list that fits is not cut.
	var s Reply
	if err := s.FromMessage(replyMessage(t, Ack)); err != nil || len(s.Cut()) != 0 {
		t.Errorf("cut %+v, %v", s.Cut(), err)
	}
}

func TestParseReplyDrops(t *testing.T) {
	tests := []struct {
		name  string
		code  OptionCode
		value []byte
	}{
		{"t1 5", OptRenewalTime, []byte{1, 2, 3, 4, 5}},
		{"t2 0", OptRebindingTime, nil},
		{"router 6", OptRouter, []byte{1, 2, 3, 4, 5, 6}},
		{"dns 7 octets", OptDNS, make([]byte, 7)},
		{"ntp", OptNTPServers, []byte{1}},
		{"hostname", OptHostname, []byte("a;rm -rf")},
		{"long label", OptHostname, []byte(strings.Repeat("a", 72))},
		{"domain", OptDomainName, []byte("a\nnameserver 1.2.3.4")},
		{"mtu", OptInterfaceMTU, []byte{0, 1}},
		{"broadcast", OptBroadcast, []byte{0}},
		{"search", OptDomainSearch, []byte{0xc0, 0}},
		{"routes", OptClasslessRoutes, []byte{33}},
		{"requested ip", OptRequestedIP, []byte{1}},
		{"max size", OptMaxMessageSize, []byte{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := replyMessage(t, Ack)
			m.Options.Set(tt.code, tt.value)
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var good, r Reply
			if err := good.FromMessage(replyMessage(t, Ack)); err != nil {
				t.Fatal(err)
			}
			if err := ParseReply(b, &r); err != nil {
				t.Fatalf("reply with a bad option %d rejected: %v", tt.code, err)
			}
			d := r.Dropped()
			if len(d) != 1 || d[0].Code != tt.code || d[0].Err == nil {
				t.Fatalf("dropped %+v, want option %d alone", d, tt.code)
			}
			if r.Has(tt.code) {
				t.Errorf("Has(%d) after dropping it", tt.code)
			}
			if r.Type != Ack || r.ServerID != good.ServerID || r.LeaseTime != good.LeaseTime || r.SubnetMask != good.SubnetMask {
				t.Errorf("essentials lost: %v %v %d %v", r.Type, r.ServerID, r.LeaseTime, r.SubnetMask)
			}
			// Every other field is what the reply without the bad option holds.
			type field struct {
				code OptionCode
				same bool
			}
			for _, f := range []field{
				{OptDNS, slices.Equal(r.DNS(), good.DNS())},
				{OptRouter, slices.Equal(r.Routers(), good.Routers())},
				{OptDomainName, r.DomainName == good.DomainName},
				{OptDomainSearch, slices.Equal(r.SearchList(), good.SearchList())},
				{OptClasslessRoutes, slices.Equal(r.Routes(), good.Routes())},
				{OptRenewalTime, r.RenewalTime == good.RenewalTime},
				{OptRebindingTime, r.RebindingTime == good.RebindingTime},
			} {
				if f.code != tt.code && !f.same {
					t.Errorf("option %d changed by dropping option %d", f.code, tt.code)
				}
			}
			switch tt.code {
			case OptDNS:
				if len(r.DNS()) != 0 {
					t.Error("dropped DNS servers kept")
				}
			case OptClasslessRoutes:
				if len(r.Routes()) != 0 {
					t.Error("dropped routes kept")
				}
			case OptRenewalTime:
				if r.RenewalTime != 0 {
					t.Error("dropped T1 kept")
				}
			}
		})
	}
}

func TestParseReplyErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Message)
		err    string
	}{
		{"request", func(m *Message) { m.Op = BootRequest }, "not a reply"},
		{"htype", func(m *Message) { m.HType = 6 }, "not an ethernet reply"},
		{"hlen", func(m *Message) { m.HLen = 16 }, "not an ethernet reply"},
		{"no type", func(m *Message) { m.Options.Del(OptMessageType) }, "without message type"},
		{"discover", func(m *Message) { m.Options.Set(OptMessageType, []byte{1}) }, "DHCPDISCOVER is not a reply"},
		{"no server id", func(m *Message) { m.Options.Del(OptServerID) }, "without server identifier"},
		{"server id 5", func(m *Message) { m.Options.Set(OptServerID, []byte{1, 2, 3, 4, 5}) }, "option 54"},
		{"lease 3", func(m *Message) { m.Options.Set(OptLeaseTime, []byte{1, 2, 3}) }, "option 51"},
		{"mask", func(m *Message) { m.Options.Set(OptSubnetMask, []byte{255, 0, 255, 0}) }, "option 1"},
		{"client id", func(m *Message) { m.Options.Set(OptClientID, []byte{255, 1}) }, "option 61"},
		{"type twice", func(m *Message) { m.Options.Set(OptMessageType, []byte{2, 2}) }, "option 53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := replyMessage(t, Ack)
			tt.mutate(m)
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var r Reply
			r.MTU = 9 // must be cleared on error
			err = ParseReply(b, &r)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "dhcp: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if r.MTU != 0 || r.Msg.Options.Len() != 0 {
				t.Error("Reply not zeroed after an error")
			}
		})
	}
	var r Reply
	if err := ParseReply([]byte{2, 1, 6}, &r); err == nil {
		t.Error("3 octets parsed")
	}
}

func TestParseReplyAllocs(t *testing.T) {
	b := replyBytes(t, Ack)
	r := new(Reply)
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseReply(b, r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseReply allocates %v times per call", allocs)
	}
}
