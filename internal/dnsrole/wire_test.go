package dnsrole

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Op: OpRevert, Ifindex: 2},
		{Op: OpSet, Ifindex: 1},
		{Op: OpSet, Ifindex: 7, Servers: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.53")}, Domains: []string{"lab.example", "corp.example"}},
		{Op: OpSet, Ifindex: 1<<31 - 1, Domains: []string{strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)}},
	} {
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got.Op != r.Op || got.Ifindex != r.Ifindex || !slices.Equal(got.Servers, r.Servers) || !slices.Equal(got.Domains, r.Domains) {
			t.Errorf("round trip %+v gave %+v", r, got)
		}
	}
}

func TestRequestLargestFits(t *testing.T) {
	r := Request{Op: OpSet, Ifindex: 1}
	for i := range MaxServers {
		r.Servers = append(r.Servers, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}))
	}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	for range MaxDomains {
		r.Domains = append(r.Domains, long)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxLen {
		t.Errorf("largest request is %d bytes, MaxLen %d", len(b), MaxLen)
	}
	if _, err := Unmarshal(b); err != nil {
		t.Error(err)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	good, err := (&Request{Op: OpSet, Ifindex: 3, Servers: []netip.Addr{netip.MustParseAddr("10.0.0.1")}, Domains: []string{"a.example"}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":             nil,
		"short":             {OpRevert, 0, 0, 0},
		"unknown op":        mod(func(b []byte) []byte { b[0] = 'X'; return b }),
		"ifindex 0":         {OpRevert, 0, 0, 0, 0},
		"ifindex negative":  {OpRevert, 0x80, 0, 0, 1},
		"revert with bytes": {OpRevert, 0, 0, 0, 1, 0},
		"trailing byte":     append(bytes.Clone(good), 0),
		"cut in servers":    good[:7],
		"cut in domain":     good[:len(good)-1],
		"too many servers":  mod(func(b []byte) []byte { b[5] = MaxServers + 1; return b }),
		"server zero":       mod(func(b []byte) []byte { copy(b[6:10], []byte{0, 0, 0, 0}); return b }),
		"server broadcast":  mod(func(b []byte) []byte { copy(b[6:10], []byte{255, 255, 255, 255}); return b }),
		"server multicast":  mod(func(b []byte) []byte { copy(b[6:10], []byte{224, 0, 0, 1}); return b }),
		"domain with space": mod(func(b []byte) []byte { b[len(b)-3] = ' '; return b }),
		"domain length 0":   mod(func(b []byte) []byte { return append(b[:11], 0) }),
		"too many domains":  mod(func(b []byte) []byte { b[10] = MaxDomains + 1; return b }),
		"over MaxLen":       make([]byte, MaxLen+1),
	} {
		if r, err := Unmarshal(b); err == nil {
			t.Errorf("%s: %x accepted as %+v", name, b, r)
		}
	}
}

func TestMarshalRefuses(t *testing.T) {
	for name, r := range map[string]Request{
		"ipv6 server":   {Op: OpSet, Ifindex: 1, Servers: []netip.Addr{netip.MustParseAddr("2001:db8::1")}},
		"bad domain":    {Op: OpSet, Ifindex: 1, Domains: []string{"-bad.example"}},
		"revert lists":  {Op: OpRevert, Ifindex: 1, Domains: []string{"a.example"}},
		"no ifindex":    {Op: OpSet},
		"huge ifindex":  {Op: OpSet, Ifindex: 1 << 31},
		"unknown op":    {Op: 'Z', Ifindex: 1},
		"many servers":  {Op: OpSet, Ifindex: 1, Servers: make([]netip.Addr, MaxServers+1)},
		"invalid addr":  {Op: OpSet, Ifindex: 1, Servers: []netip.Addr{{}}},
		"empty domain":  {Op: OpSet, Ifindex: 1, Domains: []string{""}},
		"domain of 254": {Op: OpSet, Ifindex: 1, Domains: []string{strings.Repeat("a.", 127)}},
	} {
		if _, err := r.Marshal(); err == nil {
			t.Errorf("%s: %+v marshalled", name, r)
		}
	}
}
