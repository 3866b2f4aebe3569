package dhcp

import (
	"net/netip"
	"testing"
)

var (
	testMAC    = MAC{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	testServer = netip.MustParseAddr("192.0.2.1")
	testYI     = netip.MustParseAddr("192.0.2.77")
)

// mustName and mustHost parse names in tests.
func mustName(t testing.TB, s string) DomainName {
	t.Helper()
	n, err := ParseDomainName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustHost(t testing.TB, s string) Hostname {
	t.Helper()
	h, err := ParseHostname(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustSet(t testing.TB, o *Options, code OptionCode, v []byte) {
	t.Helper()
	if err := o.Set(code, v); err != nil {
		t.Fatal(err)
	}
}

// replyMessage returns a typical server reply of type typ with options 1,
// 3, 6, 15, 51, 54, 58, 59, 119 and 121, the shape of an OFFER or ACK from
// dnsmasq or kea.
func replyMessage(t testing.TB, typ MessageType) *Message {
	t.Helper()
	m := &Message{
		Op: BootReply, HType: HTypeEthernet, HLen: HLenEthernet,
		XID: 0x3903f326, YIAddr: testYI, SIAddr: testServer,
		CIAddr: netip.IPv4Unspecified(), GIAddr: netip.IPv4Unspecified(),
	}
	copy(m.CHAddr[:], testMAC[:])
	o := &m.Options
	mustSet(t, o, OptMessageType, []byte{byte(typ)})
	mustSet(t, o, OptServerID, testServer.AsSlice())
	mustSet(t, o, OptLeaseTime, []byte{0, 0, 0x0e, 0x10})
	mustSet(t, o, OptRenewalTime, []byte{0, 0, 0x07, 0x08})
	mustSet(t, o, OptRebindingTime, []byte{0, 0, 0x0c, 0x4e})
	mustSet(t, o, OptSubnetMask, []byte{255, 255, 255, 0})
	mustSet(t, o, OptRouter, testServer.AsSlice())
	mustSet(t, o, OptDNS, []byte{192, 0, 2, 1, 192, 0, 2, 2})
	mustSet(t, o, OptDomainName, []byte("example.org"))
	search, err := AppendDomainSearch(nil, []DomainName{mustName(t, "eng.example.org"), mustName(t, "example.org")})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, o, OptDomainSearch, search)
	routes, err := AppendRoutes(nil, []Route{
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("192.0.2.254")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: testServer},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, o, OptClasslessRoutes, routes)
	return m
}

func replyBytes(t testing.TB, typ MessageType) []byte {
	t.Helper()
	b, err := replyMessage(t, typ).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
