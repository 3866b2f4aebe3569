package ifch

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testPolicy serves eth0 and lan1 with the defaults.
func testPolicy() *Policy {
	return &Policy{Interfaces: []string{"eth0", "lan1"}}
}

// good is a valid configure message; hostile cases are built by editing it.
const good = "configure eth0\n" +
	"address 192.0.2.10/24\n" +
	"broadcast 192.0.2.255\n" +
	"router 192.0.2.1\n" +
	"route 198.51.100.0/24 192.0.2.254\n" +
	"route 203.0.113.0/25 0.0.0.0\n" +
	"dns 192.0.2.53\n" +
	"dns 9.9.9.9\n" +
	"domain example.com\n" +
	"search example.com\n" +
	"search corp.example.net\n" +
	"mtu 1500\n" +
	"hostname host-1\n" +
	"lifetime 3600 1800\n"

// edit replaces the first line starting with the prefix old (or appends
// before the lifetime line when old is "") by repl, which may hold several
// lines or none.
func edit(msg, old, repl string) string {
	lines := strings.SplitAfter(msg, "\n")
	var b strings.Builder
	done := false
	for _, l := range lines {
		if !done && old != "" && strings.HasPrefix(l, old) {
			b.WriteString(repl)
			done = true
			continue
		}
		if !done && old == "" && strings.HasPrefix(l, "lifetime ") {
			b.WriteString(repl)
			done = true
		}
		b.WriteString(l)
	}
	if !done {
		panic("edit: no line " + old)
	}
	return b.String()
}

func repeatLines(format string, n int, f func(int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.ReplaceAll(format, "%", f(i)))
	}
	return b.String()
}

func itoa(i int) string {
	return string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestHostileMessages(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		name string
		msg  string
		pol  func(*Policy)
		want Code
	}{
		// Grammar violations: fatal.
		{"empty", "", nil, ErrSyntax},
		{"no final LF", strings.TrimSuffix(good, "\n"), nil, ErrSyntax},
		{"NUL byte", edit(good, "domain", "domain exa\x00mple.com\n"), nil, ErrSyntax},
		{"CR before LF", edit(good, "domain", "domain example.com\r\n"), nil, ErrSyntax},
		{"high byte", edit(good, "hostname", "hostname h\xc3\xa9\n"), nil, ErrSyntax},
		{"tab separator", edit(good, "mtu", "mtu\t1500\n"), nil, ErrSyntax},
		{"double space", edit(good, "mtu", "mtu  1500\n"), nil, ErrSyntax},
		{"trailing space", edit(good, "mtu", "mtu 1500 \n"), nil, ErrSyntax},
		{"empty line", edit(good, "mtu", "\nmtu 1500\n"), nil, ErrSyntax},
		{"unknown verb", "reboot eth0\n", nil, ErrSyntax},
		{"verb case", "Configure eth0\n", nil, ErrSyntax},
		{"unknown field", edit(good, "mtu", "ttl 64\n"), nil, ErrSyntax},
		{"fields out of order", edit(edit(good, "router", ""), "mtu", "mtu 1500\nrouter 192.0.2.1\n"), nil, ErrSyntax},
		{"repeated router", edit(good, "router", "router 192.0.2.1\nrouter 192.0.2.2\n"), nil, ErrSyntax},
		{"missing lifetime", edit(good, "lifetime", ""), nil, ErrSyntax},
		{"missing address", edit(good, "address", ""), nil, ErrSyntax},
		{"prefix over 32", edit(good, "address", "address 192.0.2.10/33\n"), nil, ErrSyntax},
		{"octet over 255", edit(good, "router", "router 192.0.2.256\n"), nil, ErrSyntax},
		{"octet leading zero", edit(good, "router", "router 192.0.2.01\n"), nil, ErrSyntax},
		{"IPv6 router", edit(good, "router", "router 2001:db8::1\n"), nil, ErrSyntax},
		{"mtu zero", edit(good, "mtu", "mtu 0\n"), nil, ErrSyntax},
		{"mtu six digits", edit(good, "mtu", "mtu 100000\n"), nil, ErrSyntax},
		{"lifetime over 2^64", edit(good, "lifetime", "lifetime 18446744073709551616 1\n"), nil, ErrSyntax},
		{"negative lifetime", edit(good, "lifetime", "lifetime -1 1\n"), nil, ErrSyntax},
		{"command injection in ifname", "deconfigure eth0;reboot\n", nil, ErrSyntax},
		{"ifname too long", "carrier abcdefghijklmnop\n", nil, ErrSyntax},
		{"ifname dotdot", "carrier ..\n", nil, ErrSyntax},
		{"two commands in one message", "carrier eth0\ncarrier eth0\n", nil, ErrSyntax},
		{"name with space", edit(good, "domain", "domain example .com\n"), nil, ErrSyntax},
		{"oversized", good + strings.Repeat("x", MaxMessageSize), nil, ErrTooLarge},

		// Policy violations: refused, survivable.
		{"other interface", strings.Replace(good, "configure eth0", "configure eth1", 1), nil, ErrWrongInterface},
		{"other interface deconfigure", "deconfigure wlan0\n", nil, ErrWrongInterface},
		{"other interface carrier", "carrier lo\n", nil, ErrWrongInterface},
		{"address 0/8", edit(edit(edit(edit(good, "address", "address 0.1.2.3/8\n"), "broadcast", ""), "router", ""), "route ", ""), nil, ErrNotUnicast},
		{"address loopback", edit(edit(edit(edit(good, "address", "address 127.0.0.1/8\n"), "broadcast", ""), "router", ""), "route ", ""), nil, ErrNotUnicast},
		{"address multicast", edit(edit(edit(edit(good, "address", "address 224.0.0.1/24\n"), "broadcast", ""), "router", ""), "route ", ""), nil, ErrNotUnicast},
		{"address limited broadcast", edit(good, "address", "address 255.255.255.255/32\n"), nil, ErrNotUnicast},
		{"address class E", edit(edit(edit(edit(good, "address", "address 240.0.0.1/24\n"), "broadcast", ""), "router", ""), "route ", ""), nil, ErrNotUnicast},
		{"address is network", edit(good, "address", "address 192.0.2.0/24\n"), nil, ErrNotUnicast},
		{"address is broadcast", edit(good, "address", "address 192.0.2.255/24\n"), nil, ErrNotUnicast},
		{"address link-local", edit(edit(edit(edit(good, "address", "address 169.254.7.7/16\n"), "broadcast", ""), "router", ""), "route ", ""), nil, ErrLinkLocal},
		{"address outside allowed ranges", good, func(p *Policy) { p.AllowedRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }, ErrOutOfRange},
		{"prefix below minimum", edit(edit(edit(good, "address", "address 192.0.2.10/4\n"), "broadcast", ""), "route ", ""), nil, ErrPrefixLength},
		{"prefix below configured minimum", edit(good, "address", "address 192.0.2.10/16\n"), func(p *Policy) { p.MinPrefixLen = 20 }, ErrPrefixLength},
		{"prefix zero", edit(edit(good, "address", "address 192.0.2.10/0\n"), "broadcast", ""), nil, ErrPrefixLength},
		{"wrong broadcast", edit(good, "broadcast", "broadcast 192.0.2.127\n"), nil, ErrBadBroadcast},
		{"broadcast on /32", edit(edit(edit(good, "address", "address 192.0.2.10/32\n"), "router", ""), "route ", ""), nil, ErrBadBroadcast},
		{"router off-link", edit(good, "router", "router 198.51.100.1\n"), nil, ErrNotOnLink},
		{"router on /32", edit(edit(edit(good, "address", "address 192.0.2.10/32\n"), "broadcast", ""), "route ", ""), nil, ErrNotOnLink},
		{"router is us", edit(good, "router", "router 192.0.2.10\n"), nil, ErrNotOnLink},
		{"router is subnet broadcast", edit(good, "router", "router 192.0.2.255\n"), nil, ErrNotUnicast},
		{"router multicast", edit(good, "router", "router 239.1.1.1\n"), nil, ErrNotUnicast},
		{"router zero", edit(good, "router", "router 0.0.0.0\n"), nil, ErrNotUnicast},
		{"route host bits", edit(good, "route 198", "route 198.51.100.1/24 192.0.2.254\n"), nil, ErrBadRoute},
		{"route to multicast", edit(good, "route 198", "route 224.0.0.0/4 192.0.2.254\n"), nil, ErrBadRoute},
		{"route to loopback", edit(good, "route 198", "route 127.0.0.0/8 192.0.2.254\n"), nil, ErrBadRoute},
		{"route gateway off-link", edit(good, "route 198", "route 198.51.100.0/24 203.0.113.1\n"), nil, ErrNotOnLink},
		{"route gateway broadcast", edit(good, "route 198", "route 198.51.100.0/24 255.255.255.255\n"), nil, ErrNotUnicast},
		{"too many routes", edit(good, "route 198", repeatLines("route 10.%.0.0/16 192.0.2.254\n", 33, func(i int) string { return strings.TrimLeft(itoa(i+1), "0") })), nil, ErrTooManyRoutes},
		{"routes over configured bound", good, func(p *Policy) { p.MaxRoutes = 1 }, ErrTooManyRoutes},
		{"classless default forbidden", edit(edit(good, "router", ""), "route 198", "route 0.0.0.0/0 192.0.2.254\n"), func(p *Policy) { p.Classless = ClasslessNoDefault }, ErrDefaultRoute},
		{"classless routes off", good, func(p *Policy) { p.Classless = ClasslessOff }, ErrRoutePolicy},
		{"TunnelVision 0/1", edit(good, "route 198", "route 0.0.0.0/1 192.0.2.254\n"), nil, ErrRoutePolicy},
		{"TunnelVision 128/1", edit(good, "route 198", "route 128.0.0.0/1 192.0.2.254\n"), nil, ErrRoutePolicy},
		{"route shorter than the configured minimum", edit(good, "route 198", "route 10.0.0.0/8 192.0.2.254\n"), func(p *Policy) { p.MinRoutePrefix = 16 }, ErrRoutePolicy},
		{"router and classless default", edit(good, "route 198", "route 0.0.0.0/0 192.0.2.254\n"), nil, ErrDuplicate},
		{"duplicate route", edit(good, "route 203", "route 198.51.100.0/24 192.0.2.253\n"), nil, ErrDuplicate},
		{"too many dns", edit(good, "dns 9", repeatLines("dns 9.9.9.%\n", 9, func(i int) string { return strings.TrimLeft(itoa(i+1), "0") })), nil, ErrTooManyServers},
		{"dns over configured bound", good, func(p *Policy) { p.MaxDNS = 1 }, ErrTooManyServers},
		{"dns loopback", edit(good, "dns 9", "dns 127.0.0.53\n"), nil, ErrNotUnicast},
		{"dns multicast", edit(good, "dns 9", "dns 224.0.0.251\n"), nil, ErrNotUnicast},
		{"dns duplicate", edit(good, "dns 9", "dns 192.0.2.53\n"), nil, ErrDuplicate},
		{"domain semicolon", edit(good, "domain", "domain example.com;reboot\n"), nil, ErrBadName},
		{"domain quote", edit(good, "domain", "domain \"example.com\"\n"), nil, ErrBadName},
		{"domain empty label", edit(good, "domain", "domain example..com\n"), nil, ErrBadName},
		{"domain leading dot", edit(good, "domain", "domain .example.com\n"), nil, ErrBadName},
		{"domain trailing dot", edit(good, "domain", "domain example.com.\n"), nil, ErrBadName},
		{"domain label over 63", edit(good, "domain", "domain "+long63+"a.com\n"), nil, ErrBadName},
		{"domain over 253", edit(good, "domain", "domain "+strings.Repeat(long63+".", 4)+"com\n"), nil, ErrBadName},
		{"domain hyphen edge", edit(good, "domain", "domain -example.com\n"), nil, ErrBadName},
		{"search slash", edit(good, "search corp", "search ../../etc\n"), nil, ErrBadName},
		{"search duplicate", edit(good, "search corp", "search example.com\n"), nil, ErrDuplicate},
		{"too many search", edit(good, "search corp", repeatLines("search d%.example\n", 8, func(i int) string { return strings.TrimLeft(itoa(i+1), "0") })), nil, ErrTooManyNames},
		{"hostname backtick", edit(good, "hostname", "hostname `id`\n"), nil, ErrBadName},
		{"hostname dollar", edit(good, "hostname", "hostname $(reboot)\n"), nil, ErrBadName},
		{"hostname over 64", edit(good, "hostname", "hostname "+long63+".ab\n"), nil, ErrBadName},
		{"mtu below 68", edit(good, "mtu", "mtu 67\n"), nil, ErrBadMTU},
		{"mtu over 65535", edit(good, "mtu", "mtu 65536\n"), nil, ErrBadMTU},
		{"mtu below default floor", edit(good, "mtu", "mtu 100\n"), nil, ErrBadMTU},
		{"mtu below configured floor", edit(good, "mtu", "mtu 1280\n"), func(p *Policy) { p.MinMTU = 1400 }, ErrBadMTU},
		{"valid lifetime overflows kernel", edit(good, "lifetime", "lifetime 4294967295 1800\n"), nil, ErrBadLifetime},
		{"preferred lifetime overflows", edit(good, "lifetime", "lifetime infinite 18446744073709551614\n"), nil, ErrBadLifetime},
		{"valid lifetime zero", edit(good, "lifetime", "lifetime 0 0\n"), nil, ErrBadLifetime},
		{"preferred over valid", edit(good, "lifetime", "lifetime 60 120\n"), nil, ErrBadLifetime},
		{"preferred infinite valid finite", edit(good, "lifetime", "lifetime 60 infinite\n"), nil, ErrBadLifetime},
	}
	// Guard the table itself: the base message must pass.
	if c, err := Unmarshal([]byte(good)); err != nil {
		t.Fatalf("base message: %v", err)
	} else if err := testPolicy().Validate(c); err != nil {
		t.Fatalf("base message refused: %v", err)
	}
	if n := len(tests); n < 40 {
		t.Fatalf("only %d hostile cases", n)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.pol != nil {
				tt.pol(p)
			}
			err := check(p, []byte(tt.msg))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.msg)
			}
			if got := CodeOf(err); got != tt.want {
				t.Fatalf("code %v, want %v (%v)", got, tt.want, err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tt.want)
			}
			if fatal := tt.want.Fatal(); fatal != errors.As(err, new(*SyntaxError)) {
				t.Fatalf("fatal=%v but error is %T", fatal, err)
			}
			// The reply to it must itself be a valid reply.
			r := ReplyFor(err)
			b, err := r.MarshalText()
			if err != nil {
				t.Fatalf("reply: %v", err)
			}
			var back Reply
			if err := back.UnmarshalText(b); err != nil || back != r {
				t.Fatalf("reply %q round trip: %v, %+v", b, err, back)
			}
		})
	}
}

// check decodes and validates like the server loop does.
func check(p *Policy, b []byte) error {
	c, err := Unmarshal(b)
	if err != nil {
		return err
	}
	return p.Validate(c)
}

func TestAcceptedMessages(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		pol  func(*Policy)
	}{
		{"full", good, nil},
		{"minimal", "configure eth0\naddress 10.1.2.3/8\nlifetime infinite infinite\n", nil},
		{"slash 31 router", "configure eth0\naddress 10.0.0.0/31\nrouter 10.0.0.1\nlifetime 60 0\n", nil},
		{"slash 32 off-link router allowed", "configure eth0\naddress 10.0.0.7/32\nrouter 10.0.0.1\nlifetime 60 30\n",
			func(p *Policy) { p.AllowOffLinkRouter = true }},
		{"link-local allowed", "configure lan1\naddress 169.254.7.7/16\nlifetime 60 30\n",
			func(p *Policy) { p.AllowLinkLocal = true }},
		{"classless default", "configure eth0\naddress 192.0.2.10/24\nroute 0.0.0.0/0 192.0.2.1\nlifetime 60 30\n", nil},
		{"in allowed range", good, func(p *Policy) { p.AllowedRanges = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/25")} }},
		{"max lifetime", "configure eth0\naddress 192.0.2.10/24\nlifetime 4294967294 4294967294\n", nil},
		{"mtu 68 with floor 68", "configure eth0\naddress 192.0.2.10/24\nmtu 68\nlifetime 1 1\n", func(p *Policy) { p.MinMTU = 68 }},
		{"deconfigure", "deconfigure eth0\n", nil},
		{"carrier", "carrier lan1\n", nil},
		{"up", "up eth0\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.pol != nil {
				tt.pol(p)
			}
			if err := check(p, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, s := range []string{"a", "example.com", "x-1.y-2.example", "EXAMPLE.org", strings.Repeat("a", 63) + ".b"} {
		if err := CheckDomainName(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", ".", "a..b", "a b", "a_b", "a;b", "a\nb", "a'b", "-a", "a-", "a.", strings.Repeat("a", 64)} {
		if err := CheckDomainName(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if err := CheckHostname(strings.Repeat("a", 60) + ".bcd"); err != nil {
		t.Errorf("64-byte hostname: %v", err)
	}
	if err := CheckHostname(strings.Repeat("a", 61) + ".bcd"); err == nil {
		t.Error("65-byte hostname accepted")
	}
}

// optionalField reports whether a refusal concerns a field Sanitize
// removes rather than one that makes the lease.
func optionalField(err error) bool {
	var pe *PolicyError
	if !errors.As(err, &pe) {
		return false
	}
	for _, f := range []string{"dns", "domain", "search", "mtu", "hostname", "route"} {
		if pe.Field == f || strings.HasPrefix(pe.Field, f+" ") {
			return true
		}
	}
	return false
}

func TestSanitize(t *testing.T) {
	p := testPolicy()
	p.MaxDNS, p.MaxSearch = 2, 2
	c := &Configure{
		Interface: "eth0", Address: netip.MustParsePrefix("192.0.2.10/24"), Router: netip.MustParseAddr("192.0.2.1"),
		DNS:      []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("224.0.0.1"), netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("1.1.1.1")},
		Domain:   "bad_domain.example",
		Search:   []string{"good.example", "bad_one.example", "good.example", "other.example", "third.example"},
		MTU:      300,
		Hostname: strings.Repeat("h", 72),
		Valid:    3600, Preferred: 3600,
	}
	if err := p.Validate(c); err == nil || !optionalField(err) {
		t.Fatalf("the unsanitized request: %v, want an optional field refused", err)
	}
	dropped := p.Sanitize(c)
	if err := p.Validate(c); err != nil {
		t.Fatalf("after Sanitize: %v", err)
	}
	want := &Configure{
		Interface: "eth0", Address: c.Address, Router: c.Router,
		DNS:    []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("9.9.9.9")},
		Search: []string{"good.example", "other.example"},
		Valid:  3600, Preferred: 3600,
	}
	if d := cmp.Diff(want, c, addrCmp, prefixCmp); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	// Multicast, repeated and one over the limit; the domain; a bad, a
	// repeated and one over the limit; the MTU; the hostname.
	if len(dropped) != 9 {
		t.Errorf("%d fields dropped, want 9: %v", len(dropped), dropped)
	}
	for _, err := range dropped {
		if !optionalField(err) {
			t.Errorf("dropped %v, which is not optional", err)
		}
	}

	// What makes the lease is never touched: a bad address stays, and
	// Validate refuses it whole.
	bad := &Configure{Interface: "eth0", Address: netip.MustParsePrefix("127.0.0.5/8"), Valid: 60, Preferred: 60}
	if d := p.Sanitize(bad); len(d) != 0 || p.Validate(bad) == nil {
		t.Fatalf("loopback lease: dropped %v, validate %v", d, p.Validate(bad))
	}
}

// TestSanitizeRoutes: routes the policy does not take are dropped, one by
// one, and the rest of the lease stays.
func TestSanitizeRoutes(t *testing.T) {
	base := func() *Configure {
		return &Configure{
			Interface: "eth0", Address: netip.MustParsePrefix("192.0.2.10/24"), Valid: 600, Preferred: 600,
			Routes: []Route{
				{Dst: netip.MustParsePrefix("0.0.0.0/1"), Gateway: netip.MustParseAddr("192.0.2.66")},
				{Dst: netip.MustParsePrefix("128.0.0.0/1"), Gateway: netip.MustParseAddr("192.0.2.66")},
				{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
				{Dst: netip.MustParsePrefix("10.20.0.0/16"), Gateway: netip.MustParseAddr("192.0.2.1")},
				{Dst: netip.MustParsePrefix("10.20.0.0/16"), Gateway: netip.MustParseAddr("192.0.2.2")},
				{Dst: netip.MustParsePrefix("172.16.0.0/12"), Gateway: netip.MustParseAddr("203.0.113.9")},
			},
		}
	}
	for _, tc := range []struct {
		name string
		p    Policy
		want []string
	}{
		{"defaults", Policy{}, []string{"0.0.0.0/0", "10.20.0.0/16"}},
		{"no default", Policy{Classless: ClasslessNoDefault}, []string{"10.20.0.0/16"}},
		{"off", Policy{Classless: ClasslessOff}, nil},
		{"minimum /1", Policy{MinRoutePrefix: 1}, []string{"0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/0", "10.20.0.0/16"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Interfaces = []string{"eth0"}
			c := base()
			dropped := p.Sanitize(c)
			var got []string
			for _, r := range c.Routes {
				got = append(got, r.Dst.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("kept %v, want %v (dropped %v)", got, tc.want, dropped)
			}
			if len(dropped) != len(base().Routes)-len(tc.want) {
				t.Errorf("%d dropped, want %d", len(dropped), len(base().Routes)-len(tc.want))
			}
			if err := p.Validate(c); err != nil {
				t.Errorf("after Sanitize: %v", err)
			}
		})
	}
}

// FuzzParseClassless: the option 121 setting of ifchd's and ndhc's flags
// and configuration. Only on, off and no-default are accepted, and each
// renders back to its own text.
func FuzzParseClassless(f *testing.F) {
	for _, s := range []string{"on", "off", "no-default", "", "On", "off ", "no_default"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClassless(s)
		known := s == "on" || s == "off" || s == "no-default"
		if (err == nil) != known {
			t.Fatalf("%q: %q, %v", s, c, err)
		}
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("%q renders as %q", s, c)
		}
		var u Classless
		if err := u.UnmarshalText([]byte(s)); err != nil || u != c {
			t.Fatalf("%q: UnmarshalText %q, %v", s, u, err)
		}
	})
}
