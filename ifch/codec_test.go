package ifch

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestUnmarshalConfigure(t *testing.T) {
	c, err := Unmarshal([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := &Configure{
		Interface: "eth0",
		Address:   netip.MustParsePrefix("192.0.2.10/24"),
		Broadcast: netip.MustParseAddr("192.0.2.255"),
		Router:    netip.MustParseAddr("192.0.2.1"),
		Routes: []Route{
			{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParseAddr("192.0.2.254")},
			{netip.MustParsePrefix("203.0.113.0/25"), netip.MustParseAddr("0.0.0.0")},
		},
		DNS:       []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("9.9.9.9")},
		Domain:    "example.com",
		Search:    []string{"example.com", "corp.example.net"},
		MTU:       1500,
		Hostname:  "host-1",
		Valid:     3600,
		Preferred: 1800,
	}
	if d := cmp.Diff(want, c, addrCmp, prefixCmp); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != good {
		t.Fatalf("re-encoded:\n%s\nwant:\n%s", b, good)
	}
}

func TestMarshalRefusesUnencodable(t *testing.T) {
	base := func() *Configure {
		return &Configure{Interface: "eth0", Address: netip.MustParsePrefix("192.0.2.10/24"), Valid: 1, Preferred: 1}
	}
	tests := []struct {
		name string
		mod  func(*Configure)
	}{
		{"no address", func(c *Configure) { c.Address = netip.Prefix{} }},
		{"IPv6 address", func(c *Configure) { c.Address = netip.MustParsePrefix("2001:db8::1/64") }},
		{"IPv6 dns", func(c *Configure) { c.DNS = []netip.Addr{netip.MustParseAddr("::1")} }},
		{"zero gateway", func(c *Configure) {
			c.Routes = []Route{{Dst: netip.MustParsePrefix("10.0.0.0/8")}}
		}},
		{"name with space", func(c *Configure) { c.Domain = "a b" }},
		{"name with LF", func(c *Configure) { c.Hostname = "a\nb" }},
		{"bad interface", func(c *Configure) { c.Interface = "eth0\n" }},
		{"huge mtu", func(c *Configure) { c.MTU = 100000 }},
		{"too large", func(c *Configure) {
			for range 300 {
				c.Search = append(c.Search, "aaaaaaaaaaaaaaaa.example")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(c)
			if b, err := Marshal(c); err == nil {
				t.Fatalf("encoded %q", b)
			}
		})
	}
	if _, err := Marshal(nil); err == nil {
		t.Fatal("nil command encoded")
	}
}

func TestSimpleCommands(t *testing.T) {
	for _, c := range []Command{&Deconfigure{"eth0"}, &Carrier{"wlan_1.2"}, &Up{"br-lan"}} {
		b, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if d := cmp.Diff(c, back); d != "" {
			t.Fatalf("%q: -want +got:\n%s", b, d)
		}
	}
}

func TestReplies(t *testing.T) {
	tests := []struct {
		wire  string
		reply Reply
	}{
		{"ok\n", Reply{}},
		{"ok carrier up\n", Reply{Carrier: CarrierUp}},
		{"ok carrier down\n", Reply{Carrier: CarrierDown}},
		{"error not-on-link router: 10.0.0.1 is outside 192.0.2.0/24\n", Reply{Code: ErrNotOnLink, Reason: "router: 10.0.0.1 is outside 192.0.2.0/24"}},
		{"error syntax  leading space is part of the reason\n", Reply{Code: ErrSyntax, Reason: " leading space is part of the reason"}},
	}
	for _, tt := range tests {
		var r Reply
		if err := r.UnmarshalText([]byte(tt.wire)); err != nil {
			t.Fatalf("%q: %v", tt.wire, err)
		}
		if r != tt.reply {
			t.Fatalf("%q: got %+v", tt.wire, r)
		}
		b, err := r.MarshalText()
		if err != nil || string(b) != tt.wire {
			t.Fatalf("%+v: encoded %q, %v", r, b, err)
		}
	}
	for _, bad := range []string{"", "ok", "OK\n", "ok \n", "ok carrier\n", "ok carrier sideways\n", "error\n",
		"error not-on-link\n", "error nonsense reason\n", "error ok reason\n", "error syntax \x01\n",
		"error syntax " + string(bytes.Repeat([]byte("x"), MaxReasonLen+1)) + "\n"} {
		r := Reply{Code: ErrApply, Reason: "untouched"}
		err := r.UnmarshalText([]byte(bad))
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
		if r.Reason != "untouched" {
			t.Errorf("%q: receiver written on error", bad)
		}
	}
	if err := (&Reply{Code: ErrSyntax, Reason: "x"}).Err(); !errors.Is(err, ErrSyntax) {
		t.Fatalf("Err() = %v", err)
	}
	if r := ReplyFor(errors.New("kernel said \x00no\n")); r.Code != ErrApply || r.Reason != "kernel said ?no?" {
		t.Fatalf("ReplyFor: %+v", r)
	}
}
