package client

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// clFullLease returns a lease with every field set.
func clFullLease(t testing.TB) *Lease {
	return &Lease{
		Addr:      netip.MustParsePrefix("192.0.2.50/24"),
		Broadcast: netip.MustParseAddr("192.0.2.255"),
		Routes: []dhcp.Route{
			{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.253")},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.254")},
		},
		DNS:       []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("198.51.100.53")},
		Domain:    mustName(t, "example.org"),
		Search:    []dhcp.DomainName{mustName(t, "eng.example.org"), mustName(t, "example.org")},
		MTU:       1400,
		Hostname:  mustHost(t, "box"),
		NTP:       []netip.Addr{netip.MustParseAddr("192.0.2.123")},
		ServerID:  netip.MustParseAddr("192.0.2.1"),
		LeaseTime: time.Hour,
		T1:        30 * time.Minute,
		T2:        3150 * time.Second,
		Acquired:  time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
		RouterMAC: dhcp.MAC{0x02, 0, 0, 0, 0, 0xfe},
	}
}

const clMinimalLeaseJSON = `{"version":1,"address":"10.0.0.5/8","server_id":"10.0.0.1","lease_seconds":600,"t1_seconds":300,"t2_seconds":525,"acquired":"2025-03-01T12:00:00Z"}`

func TestLeaseJSONRoundTrip(t *testing.T) {
	for name, l := range map[string]*Lease{
		"full":     clFullLease(t),
		"routers":  clSavedLease(clT0),
		"infinite": {Addr: netip.MustParsePrefix("192.0.2.9/32"), ServerID: clServer, LeaseTime: InfiniteLease, T1: InfiniteLease, T2: InfiniteLease, Acquired: clT0},
		"infinite with t1, t2": {Addr: netip.MustParsePrefix("192.0.2.9/31"), ServerID: clServer, LeaseTime: InfiniteLease,
			T1: time.Hour, T2: 2 * time.Hour, Acquired: clT0},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseLease(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !got.Equal(l) {
				t.Fatalf("round trip\n%+v\n%+v", got, l)
			}
			var v Lease
			if err := json.Unmarshal(b, &v); err != nil || !v.Equal(l) {
				t.Fatalf("json.Unmarshal: %v", err)
			}
		})
	}
	l, err := ParseLease([]byte(clMinimalLeaseJSON))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(l)
	if string(b) != clMinimalLeaseJSON {
		t.Fatalf("re-encoded\n%s\n%s", b, clMinimalLeaseJSON)
	}
	// A zone offset is accepted and normalized to UTC.
	z := strings.Replace(clMinimalLeaseJSON, "12:00:00Z", "13:00:00+01:00", 1)
	if l2, err := ParseLease([]byte(z)); err != nil || !l2.Equal(l) || l2.Acquired.Location() != time.UTC {
		t.Fatalf("offset: %v", err)
	}
}

func TestLeaseJSONErrors(t *testing.T) {
	rep := func(old, new string) string { return strings.Replace(clMinimalLeaseJSON, old, new, 1) }
	cases := map[string]string{
		"empty":               ``,
		"not an object":       `[]`,
		"null":                `null`,
		"unknown field":       rep(`"version":1`, `"version":1,"extra":2`),
		"trailing data":       clMinimalLeaseJSON + `{}`,
		"trailing garbage":    clMinimalLeaseJSON + `x`,
		"version":             rep(`"version":1`, `"version":2`),
		"no version":          rep(`"version":1,`, ``),
		"ipv6":                rep(`10.0.0.5/8`, `2001:db8::1/64`),
		"no prefix":           rep(`10.0.0.5/8`, `10.0.0.5`),
		"prefix 0":            rep(`10.0.0.5/8`, `10.0.0.5/0`),
		"prefix 33":           rep(`10.0.0.5/8`, `10.0.0.5/33`),
		"network address":     rep(`10.0.0.5/8`, `10.0.0.0/8`),
		"subnet broadcast":    rep(`10.0.0.5/8`, `10.255.255.255/8`),
		"multicast":           rep(`10.0.0.5/8`, `224.0.0.5/8`),
		"loopback":            rep(`10.0.0.5/8`, `127.0.0.5/8`),
		"zero net":            rep(`10.0.0.5/8`, `0.1.2.3/8`),
		"class e":             rep(`10.0.0.5/8`, `240.1.2.3/8`),
		"leading zeros":       rep(`10.0.0.5/8`, `010.0.0.5/8`),
		"server id missing":   rep(`"server_id":"10.0.0.1",`, ``),
		"server id zero":      rep(`"server_id":"10.0.0.1"`, `"server_id":"0.0.0.0"`),
		"server id text":      rep(`"server_id":"10.0.0.1"`, `"server_id":"x\u0000y"`),
		"lease zero":          rep(`"lease_seconds":600`, `"lease_seconds":0`),
		"t1 zero":             rep(`"t1_seconds":300`, `"t1_seconds":0`),
		"t1 above t2":         rep(`"t1_seconds":300`, `"t1_seconds":550`),
		"t2 equal lease":      rep(`"t2_seconds":525`, `"t2_seconds":600`),
		"lease negative":      rep(`"lease_seconds":600`, `"lease_seconds":-1`),
		"lease too big":       rep(`"lease_seconds":600`, `"lease_seconds":4294967296`),
		"lease string":        rep(`"lease_seconds":600`, `"lease_seconds":"600"`),
		"infinite t1 only":    strings.Replace(rep(`"lease_seconds":600`, `"lease_seconds":4294967295`), `"t1_seconds":300`, `"t1_seconds":4294967295`, 1),
		"acquired missing":    rep(`,"acquired":"2025-03-01T12:00:00Z"`, ``),
		"acquired bad":        rep(`2025-03-01T12:00:00Z`, `yesterday`),
		"acquired year 0":     rep(`2025-03-01T12:00:00Z`, `0000-03-01T12:00:00Z`),
		"broadcast bad":       rep(`"version":1`, `"version":1,"broadcast":"x"`),
		"broadcast zero":      rep(`"version":1`, `"version":1,"broadcast":"0.0.0.0"`),
		"router bad":          rep(`"version":1`, `"version":1,"routers":["10.0.0.1","nope"]`),
		"router multicast":    rep(`"version":1`, `"version":1,"routers":["239.0.0.1"]`),
		"routers and routes":  rep(`"version":1`, `"version":1,"routers":["10.0.0.1"],"routes":[{"dst":"0.0.0.0/0","gateway":"10.0.0.1"}]`),
		"route not masked":    rep(`"version":1`, `"version":1,"routes":[{"dst":"10.1.0.0/8","gateway":"10.0.0.1"}]`),
		"route bad dst":       rep(`"version":1`, `"version":1,"routes":[{"dst":"10.1.0.0","gateway":"10.0.0.1"}]`),
		"route bad gateway":   rep(`"version":1`, `"version":1,"routes":[{"dst":"10.0.0.0/8","gateway":"::1"}]`),
		"route unknown field": rep(`"version":1`, `"version":1,"routes":[{"dst":"10.0.0.0/8","gateway":"10.0.0.1","x":1}]`),
		"dns loopback":        rep(`"version":1`, `"version":1,"dns":["127.0.0.1"]`),
		"ntp bad":             rep(`"version":1`, `"version":1,"ntp":["1.2.3"]`),
		"domain bad":          rep(`"version":1`, `"version":1,"domain":"a b"`),
		"domain newline":      rep(`"version":1`, `"version":1,"domain":"a\nb"`),
		"domain trailing dot": rep(`"version":1`, `"version":1,"domain":"example.org."`),
		"search bad":          rep(`"version":1`, `"version":1,"search":["ok.example","bad..example"]`),
		"search dot":          rep(`"version":1`, `"version":1,"search":["example.org."]`),
		"search empty":        rep(`"version":1`, `"version":1,"search":[""]`),
		"hostname bad":        rep(`"version":1`, `"version":1,"hostname":"a_b"`),
		"hostname dot":        rep(`"version":1`, `"version":1,"hostname":"box."`),
		"mtu small":           rep(`"version":1`, `"version":1,"mtu":67`),
		"mtu big":             rep(`"version":1`, `"version":1,"mtu":65536`),
		"mac bad":             rep(`"version":1`, `"version":1,"router_mac":"02:00:00:00:00"`),
		"mac long":            rep(`"version":1`, `"version":1,"router_mac":"02:00:00:00:00:00:00:01"`),
		"mac multicast":       rep(`"version":1`, `"version":1,"router_mac":"01:00:5e:00:00:01"`),
		"mac upper case":      rep(`"version":1`, `"version":1,"router_mac":"02:00:00:00:00:FE"`),
		"too many dns":        rep(`"version":1`, `"version":1,"dns":[`+strings.Repeat(`"10.0.0.1",`, dhcp.MaxAddrs)+`"10.0.0.1"]`),
		"too many search":     rep(`"version":1`, `"version":1,"search":[`+strings.Repeat(`"a.example",`, dhcp.MaxSearchDomains)+`"a.example"]`),
		"too many routes":     rep(`"version":1`, `"version":1,"routes":[`+strings.Repeat(`{"dst":"10.0.0.0/8","gateway":"10.0.0.1"},`, dhcp.MaxRoutes)+`{"dst":"10.0.0.0/8","gateway":"10.0.0.1"}]`),
		"too big":             rep(`"version":1`, `"version":1`+strings.Repeat(" ", MaxLeaseFile)),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			l := clFullLease(t)
			if err := l.UnmarshalJSON([]byte(in)); err == nil {
				t.Fatalf("accepted %s", in)
			} else if !strings.HasPrefix(err.Error(), "dhcp: ") {
				t.Errorf("error %q", err)
			}
			if !l.Equal(clFullLease(t)) {
				t.Fatal("receiver changed on error")
			}
		})
	}
}

func TestLeaseValidate(t *testing.T) {
	mod := map[string]func(*Lease){
		"invalid prefix":     func(l *Lease) { l.Addr = netip.Prefix{} },
		"broadcast ipv6":     func(l *Lease) { l.Broadcast = netip.MustParseAddr("::1") },
		"routers and routes": func(l *Lease) { l.Routers = []netip.Addr{clRouter} },
		"too many routes":    func(l *Lease) { l.Routes = make([]dhcp.Route, dhcp.MaxRoutes+1) },
		"bad route":          func(l *Lease) { l.Routes = []dhcp.Route{{}} },
		"too many dns":       func(l *Lease) { l.DNS = make([]netip.Addr, dhcp.MaxAddrs+1) },
		"too many search":    func(l *Lease) { l.Search = make([]dhcp.DomainName, dhcp.MaxSearchDomains+1) },
		"zero search":        func(l *Lease) { l.Search = []dhcp.DomainName{{}} },
		"fraction":           func(l *Lease) { l.T1 += time.Millisecond },
		"infinite t2":        func(l *Lease) { l.T2 = InfiniteLease },
		"zero acquired":      func(l *Lease) { l.Acquired = time.Time{} },
		"year 10000":         func(l *Lease) { l.Acquired = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, f := range mod {
		l := clFullLease(t)
		f(l)
		if err := l.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := json.Marshal(l); err == nil {
			t.Errorf("%s: marshaled", name)
		}
	}
	if err := clFullLease(t).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseTimes(t *testing.T) {
	l := clSavedLease(clT0)
	if l.Expired(clT0.Add(time.Hour-time.Nanosecond)) || !l.Expired(clT0.Add(time.Hour)) {
		t.Error("Expired")
	}
	if r := l.Remaining(clT0.Add(10 * time.Minute)); r != 50*time.Minute {
		t.Errorf("Remaining %v", r)
	}
	if r := l.Remaining(clT0.Add(2 * time.Hour)); r != 0 {
		t.Errorf("Remaining after expiry %v", r)
	}
	if !l.RenewAt().Equal(clT0.Add(30*time.Minute)) || !l.RebindAt().Equal(clT0.Add(3150*time.Second)) {
		t.Error("RenewAt/RebindAt")
	}
	inf := &Lease{LeaseTime: InfiniteLease, T1: InfiniteLease, T2: InfiniteLease, Acquired: clT0}
	if inf.Expired(clT0.Add(1e5*time.Hour)) || inf.Remaining(clT0) != InfiniteLease || !inf.Expiry().IsZero() ||
		!inf.RenewAt().IsZero() || !inf.RebindAt().IsZero() {
		t.Error("infinite lease")
	}
	var nl *Lease
	if !nl.Equal(nil) || nl.Equal(l) || l.Equal(nil) {
		t.Error("Equal with nil")
	}
	c := clFullLease(t).Clone()
	c.DNS[0] = netip.MustParseAddr("192.0.2.99")
	if !clFullLease(t).Equal(clFullLease(t)) || c.Equal(clFullLease(t)) {
		t.Error("Clone shares storage")
	}
	if (&Lease{Routes: []dhcp.Route{{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: clRouter}}}).Gateway().IsValid() {
		t.Error("gateway without a default route")
	}
	if (&Lease{}).Gateway().IsValid() {
		t.Error("gateway of an empty lease")
	}
}

// FuzzLeaseJSON checks that every lease file the parser accepts encodes,
// decodes to the same lease, and encodes to the same bytes again.
func FuzzLeaseJSON(f *testing.F) {
	f.Add([]byte(clMinimalLeaseJSON))
	for _, l := range []*Lease{clFullLease(f), clSavedLease(clT0)} {
		b, err := json.Marshal(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLease(b)
		if err != nil {
			return
		}
		enc, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("accepted lease does not encode: %v", err)
		}
		l2, err := ParseLease(enc)
		if err != nil {
			t.Fatalf("encoding does not decode: %v\n%s", err, enc)
		}
		if !l2.Equal(l) {
			t.Fatalf("round trip changed the lease\n%+v\n%+v", l, l2)
		}
		enc2, err := json.Marshal(l2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs: %v\n%s\n%s", err, enc, enc2)
		}
	})
}
