package ifch

import (
	"fmt"
	"net/netip"
	"slices"
)

// Defaults used for the zero value of the corresponding Policy fields.
const (
	DefaultMinPrefixLen = 8
	DefaultMaxRoutes    = 32
	// DefaultMinRoutePrefix is the shortest classless route taken, the
	// default route (/0) apart: TunnelVision-style routes (0/1 and 128/1,
	// or any short prefix that outranks a VPN's default route) are
	// dropped, while site routes of a /8 or longer still work.
	DefaultMinRoutePrefix = 8
	DefaultMaxDNS         = 8
	DefaultMaxSearch      = 8
	// DefaultMinMTU is the smallest datagram every IPv4 host must accept
	// (RFC 791); smaller MTUs exist but are not what a DHCP server should
	// hand out to a stranger.
	DefaultMinMTU = 576
)

// MinMTU and MaxMTU bound any MTU ifch sets (RFC 2132 section 5.1 says 68 is
// the minimum legal value; 65535 is the IPv4 maximum).
const (
	MinMTU = 68
	MaxMTU = 65535
)

// Policy is what an ifch allows one peer to ask for. It is checked by
// Validate before anything is changed. Zero numeric fields take the Default*
// values; a zero Policy allows no interface at all.
type Policy struct {
	// Interfaces are the interfaces the peer may change or query.
	Interfaces []string
	// AllowedRanges, when not empty, must contain the leased address.
	AllowedRanges []netip.Prefix
	// MinPrefixLen is the shortest subnet prefix accepted.
	MinPrefixLen int
	// AllowLinkLocal accepts 169.254/16 leases.
	AllowLinkLocal bool
	// AllowOffLinkRouter accepts a router or route gateway outside the
	// leased subnet (it is then installed with the onlink flag), as some
	// cloud providers do with /32 leases.
	AllowOffLinkRouter bool
	// Classless says which classless static routes (option 121) are
	// taken: ClasslessOn (the zero value), ClasslessOff or
	// ClasslessNoDefault.
	Classless Classless
	// MinRoutePrefix is the shortest prefix of a classless route other
	// than the default route; zero means DefaultMinRoutePrefix.
	MinRoutePrefix int
	// MaxRoutes bounds the classless static routes.
	MaxRoutes int
	// MaxDNS bounds the DNS servers.
	MaxDNS int
	// MaxSearch bounds the search domains.
	MaxSearch int
	// MinMTU is the MTU floor, at least the package MinMTU.
	MinMTU int
	// NoDNS, NoRoutes and NoMTU withhold from the peer the permission to
	// set DNS servers and search domains (resolv.conf), routes (the
	// router and classless routes) and the MTU: Sanitize drops them.
	NoDNS, NoRoutes, NoMTU bool
}

// Policies is a peer's policies, one per allow entry, each for its own
// interfaces.
type Policies []*Policy

// For returns the policy that serves interface name, or nil.
func (ps Policies) For(name string) *Policy {
	for _, p := range ps {
		if p.Allows(name) {
			return p
		}
	}
	return nil
}

// Classless is a policy for classless static routes (RFC 3442).
type Classless string

// Classless route policies.
const (
	// ClasslessOn takes the routes, within MinRoutePrefix and away from
	// other interfaces' subnets.
	ClasslessOn Classless = ""
	// ClasslessOff takes none: option 121 is ignored (and option 3 is
	// then the default route, as the engine decides).
	ClasslessOff Classless = "off"
	// ClasslessNoDefault takes the routes but not a default route among
	// them.
	ClasslessNoDefault Classless = "no-default"
)

// ParseClassless reads on, off or no-default.
func ParseClassless(s string) (Classless, error) {
	switch s {
	case "on":
		return ClasslessOn, nil
	case string(ClasslessOff), string(ClasslessNoDefault):
		return Classless(s), nil
	}
	return "", fmt.Errorf("classless routes %q: want on, off or no-default", s)
}

// String returns on, off or no-default.
func (c Classless) String() string {
	if c == ClasslessOn {
		return "on"
	}
	return string(c)
}

// MarshalText returns String's form.
func (c Classless) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses ParseClassless's forms.
func (c *Classless) UnmarshalText(b []byte) error {
	v, err := ParseClassless(string(b))
	if err == nil {
		*c = v
	}
	return err
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Allows reports whether the policy lets its peer act on interface name.
func (p *Policy) Allows(name string) bool { return slices.Contains(p.Interfaces, name) }

// Validate checks c against the policy and the rules every configuration
// must follow whatever the policy. It returns nil or a *PolicyError whose
// Code says which rule was broken. It never changes anything and is cheap
// enough to call on every message; the engine may call it too, to refuse
// a lease before it reaches ifch.
func (p *Policy) Validate(c Command) error {
	if c == nil {
		return refuse(ErrSyntax, "command", "no command")
	}
	if !p.Allows(c.Iface()) {
		return refuse(ErrWrongInterface, "interface", "%q is not served to this peer", c.Iface())
	}
	if cfg, ok := c.(*Configure); ok {
		return p.validateConfigure(cfg)
	}
	return nil
}

func (p *Policy) validateConfigure(c *Configure) error {
	if err := p.checkAddress(c.Address); err != nil {
		return err
	}
	subnet := c.Address.Masked()
	if c.Broadcast.IsValid() {
		want, ok := directedBroadcast(c.Address)
		switch {
		case !c.Broadcast.Is4():
			return refuse(ErrBadBroadcast, "broadcast", "not IPv4")
		case !ok:
			return refuse(ErrBadBroadcast, "broadcast", "a /%d has no broadcast address", c.Address.Bits())
		case c.Broadcast != want:
			return refuse(ErrBadBroadcast, "broadcast", "%v is not %v, the broadcast of %v", c.Broadcast, want, subnet)
		}
	}
	if c.Router.IsValid() {
		if err := p.checkGateway("router", c.Router, c.Address); err != nil {
			return err
		}
	}
	if err := p.checkRoutes(c); err != nil {
		return err
	}
	if len(c.DNS) > orDefault(p.MaxDNS, DefaultMaxDNS) {
		return refuse(ErrTooManyServers, "dns", "%d servers, at most %d", len(c.DNS), orDefault(p.MaxDNS, DefaultMaxDNS))
	}
	for i, a := range c.DNS {
		if err := checkDNS(c.DNS[:i], a, i); err != nil {
			return err
		}
	}
	if c.Domain != "" {
		if err := CheckDomainName(c.Domain); err != nil {
			return refuse(ErrBadName, "domain", "%v", err)
		}
	}
	if len(c.Search) > orDefault(p.MaxSearch, DefaultMaxSearch) {
		return refuse(ErrTooManyNames, "search", "%d domains, at most %d", len(c.Search), orDefault(p.MaxSearch, DefaultMaxSearch))
	}
	for i, s := range c.Search {
		if err := checkSearch(c.Search[:i], s, i); err != nil {
			return err
		}
	}
	if err := p.checkMTU(c.MTU); err != nil {
		return err
	}
	if (p.NoDNS && (len(c.DNS) > 0 || len(c.Search) > 0 || c.Domain != "")) || (p.NoRoutes && (c.Router.IsValid() || len(c.Routes) > 0)) || (p.NoMTU && c.MTU != 0) {
		return refuse(ErrNotPermitted, "configure", "a field this peer may not set")
	}
	if c.Hostname != "" {
		if err := CheckHostname(c.Hostname); err != nil {
			return refuse(ErrBadName, "hostname", "%v", err)
		}
	}
	for _, l := range []struct {
		f string
		v Lifetime
	}{{"valid lifetime", c.Valid}, {"preferred lifetime", c.Preferred}} {
		if l.v > MaxLifetime && l.v != Forever {
			return refuse(ErrBadLifetime, l.f, "%d s overflows the kernel's 32-bit lifetime; use infinite", uint64(l.v))
		}
	}
	if c.Valid == 0 {
		return refuse(ErrBadLifetime, "valid lifetime", "zero")
	}
	if c.Preferred > c.Valid {
		return refuse(ErrBadLifetime, "preferred lifetime", "%v is longer than the valid lifetime %v", c.Preferred, c.Valid)
	}
	return nil
}

func (p *Policy) checkAddress(pf netip.Prefix) error {
	if !isPrefix4(pf) {
		return refuse(ErrNotUnicast, "address", "not an IPv4 address with a prefix length")
	}
	a, bits := pf.Addr(), pf.Bits()
	if lo := orDefault(p.MinPrefixLen, DefaultMinPrefixLen); bits < lo {
		return refuse(ErrPrefixLength, "address", "/%d is shorter than /%d", bits, lo)
	}
	if why := notUnicast(a); why != "" {
		return refuse(ErrNotUnicast, "address", "%v is %s", a, why)
	}
	if bits <= 30 {
		if a == pf.Masked().Addr() {
			return refuse(ErrNotUnicast, "address", "%v is the network address of %v", a, pf.Masked())
		}
		if b, _ := directedBroadcast(pf); a == b {
			return refuse(ErrNotUnicast, "address", "%v is the broadcast address of %v", a, pf.Masked())
		}
	}
	if a.IsLinkLocalUnicast() && !p.AllowLinkLocal {
		return refuse(ErrLinkLocal, "address", "%v is link-local", a)
	}
	if len(p.AllowedRanges) > 0 && !slices.ContainsFunc(p.AllowedRanges, func(r netip.Prefix) bool { return r.Contains(a) }) {
		return refuse(ErrOutOfRange, "address", "%v is outside the allowed ranges", a)
	}
	return nil
}

// checkGateway checks a router or a route's gateway against the lease addr.
func (p *Policy) checkGateway(field string, gw netip.Addr, addr netip.Prefix) error {
	if !gw.Is4() {
		return refuse(ErrNotUnicast, field, "not IPv4")
	}
	if why := notUnicast(gw); why != "" {
		return refuse(ErrNotUnicast, field, "%v is %s", gw, why)
	}
	if gw == addr.Addr() {
		return refuse(ErrNotOnLink, field, "%v is our own address", gw)
	}
	subnet := addr.Masked()
	if subnet.Contains(gw) && subnet.Bits() <= 30 {
		if b, _ := directedBroadcast(addr); gw == subnet.Addr() || gw == b {
			return refuse(ErrNotUnicast, field, "%v is the network or broadcast address of %v", gw, subnet)
		}
	}
	if !subnet.Contains(gw) && !p.AllowOffLinkRouter {
		return refuse(ErrNotOnLink, field, "%v is outside %v", gw, subnet)
	}
	return nil
}

func (p *Policy) checkRoutes(c *Configure) error {
	if n, limit := len(c.Routes), orDefault(p.MaxRoutes, DefaultMaxRoutes); n > limit {
		return refuse(ErrTooManyRoutes, "route", "%d routes, at most %d", n, limit)
	}
	for i := range c.Routes {
		if err := p.checkRoute(c, c.Routes[:i], i); err != nil {
			return err
		}
	}
	return nil
}

// checkRoute checks route i of c after the routes before it: its form,
// the policy's rules for classless routes, and its gateway.
func (p *Policy) checkRoute(c *Configure, before []Route, i int) error {
	r := c.Routes[i]
	f := fmt.Sprintf("route %d", i+1)
	if !isPrefix4(r.Dst) {
		return refuse(ErrBadRoute, f, "destination is not an IPv4 prefix")
	}
	if r.Dst != r.Dst.Masked() {
		return refuse(ErrBadRoute, f, "destination %v has host bits set", r.Dst)
	}
	if p.Classless == ClasslessOff {
		return refuse(ErrRoutePolicy, f, "classless static routes are off")
	}
	d := r.Dst.Addr()
	if r.Dst.Bits() > 0 {
		// A prefix of /8 or longer lies in one /8, which the network
		// address classifies; a shorter one spans unicast space unless it
		// starts in multicast or class E (224/3).
		if r.Dst.Bits() >= 8 || d.As4()[0] >= 224 {
			if why := notUnicast(d); why != "" {
				return refuse(ErrBadRoute, f, "destination %v is not a unicast network", r.Dst)
			}
		}
		if min := orDefault(p.MinRoutePrefix, DefaultMinRoutePrefix); r.Dst.Bits() < min {
			return refuse(ErrRoutePolicy, f, "%v is shorter than /%d (it would outrank other interfaces' default routes)", r.Dst, min)
		}
	} else {
		if p.Classless == ClasslessNoDefault {
			return refuse(ErrDefaultRoute, f, "classless default routes are forbidden")
		}
		if c.Router.IsValid() {
			return refuse(ErrDuplicate, f, "a classless default route and a router")
		}
	}
	for _, b := range before {
		if b.Dst == r.Dst {
			return refuse(ErrDuplicate, f, "destination %v listed twice", r.Dst)
		}
	}
	if r.Gateway == netip.IPv4Unspecified() {
		return nil // on-link route, RFC 3442 section 3
	}
	return p.checkGateway(f+" gateway", r.Gateway, c.Address)
}

// notUnicast says why a is not usable as a unicast host address anywhere,
// or returns "".
func notUnicast(a netip.Addr) string {
	if !a.Is4() {
		return "not IPv4"
	}
	b := a.As4()
	switch {
	case b[0] == 0:
		return "in 0.0.0.0/8"
	case b[0] == 127:
		return "loopback"
	case a.IsMulticast():
		return "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the limited broadcast address"
	case b[0] >= 240:
		return "in class E (240.0.0.0/4)"
	}
	return ""
}

// directedBroadcast returns the broadcast address of p's subnet, and false
// for /31 and /32, which have none (RFC 3021).
func directedBroadcast(p netip.Prefix) (netip.Addr, bool) {
	if p.Bits() > 30 {
		return netip.Addr{}, false
	}
	b := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// checkDNS checks server a, the i-th, after the servers before it.
func checkDNS(before []netip.Addr, a netip.Addr, i int) error {
	f := fmt.Sprintf("dns %d", i+1)
	if why := notUnicast(a); why != "" {
		return refuse(ErrNotUnicast, f, "%v is %s", a, why)
	}
	if slices.Contains(before, a) {
		return refuse(ErrDuplicate, f, "%v listed twice", a)
	}
	return nil
}

// checkSearch checks search domain s, the i-th, after those before it.
func checkSearch(before []string, s string, i int) error {
	f := fmt.Sprintf("search %d", i+1)
	if err := CheckDomainName(s); err != nil {
		return refuse(ErrBadName, f, "%v", err)
	}
	if slices.Contains(before, s) {
		return refuse(ErrDuplicate, f, "listed twice")
	}
	return nil
}

func (p *Policy) checkMTU(mtu uint32) error {
	if mtu == 0 {
		return nil
	}
	floor := max(orDefault(p.MinMTU, DefaultMinMTU), MinMTU)
	if mtu < MinMTU || mtu > MaxMTU {
		return refuse(ErrBadMTU, "mtu", "%d is outside %d..%d", mtu, MinMTU, MaxMTU)
	}
	if int(mtu) < floor {
		return refuse(ErrBadMTU, "mtu", "%d is below the floor %d", mtu, floor)
	}
	return nil
}

// Sanitize removes from c, in place, the optional fields that p would
// refuse: DNS servers that are not unicast, repeat, or exceed the limit;
// a domain or search domains that are not letter-digit-hyphen names, that
// repeat or exceed the limit; an MTU out of range or below the floor; a
// host name that is not a valid one; classless routes the policy does not
// take (option 121 off, a default route with no-default, a prefix shorter
// than MinRoutePrefix), malformed ones, ones with an unacceptable gateway,
// and those over the limit. The address, broadcast, router and lifetimes
// are left alone: they make the lease, and Validate refuses them whole. It returns one error (a *PolicyError) per field removed, so
// that the caller can log what it dropped.
//
// The engine calls it before it asks, so that one bad optional field
// from a server does not leave the machine without an address; ifch still
// validates everything it receives with Validate.
func (p *Policy) Sanitize(c *Configure) []error {
	var dropped []error
	if p.NoDNS && (len(c.DNS) > 0 || len(c.Search) > 0 || c.Domain != "") {
		dropped = append(dropped, refuse(ErrNotPermitted, "dns", "this peer may not set DNS servers or search domains"))
		c.DNS, c.Search, c.Domain = nil, nil, ""
	}
	if p.NoRoutes && (c.Router.IsValid() || len(c.Routes) > 0) {
		dropped = append(dropped, refuse(ErrNotPermitted, "route", "this peer may not set routes"))
		c.Router, c.Routes = netip.Addr{}, nil
	}
	if p.NoMTU && c.MTU != 0 {
		dropped = append(dropped, refuse(ErrNotPermitted, "mtu", "this peer may not set the MTU"))
		c.MTU = 0
	}
	var dns []netip.Addr
	for i, a := range c.DNS {
		if err := checkDNS(dns, a, i); err != nil {
			dropped = append(dropped, err)
			continue
		}
		if len(dns) == orDefault(p.MaxDNS, DefaultMaxDNS) {
			dropped = append(dropped, refuse(ErrTooManyServers, fmt.Sprintf("dns %d", i+1), "%v over the limit of %d", a, len(dns)))
			continue
		}
		dns = append(dns, a)
	}
	c.DNS = dns
	if c.Domain != "" {
		if err := CheckDomainName(c.Domain); err != nil {
			dropped = append(dropped, refuse(ErrBadName, "domain", "%v", err))
			c.Domain = ""
		}
	}
	var search []string
	for i, s := range c.Search {
		if err := checkSearch(search, s, i); err != nil {
			dropped = append(dropped, err)
			continue
		}
		if len(search) == orDefault(p.MaxSearch, DefaultMaxSearch) {
			dropped = append(dropped, refuse(ErrTooManyNames, fmt.Sprintf("search %d", i+1), "over the limit of %d", len(search)))
			continue
		}
		search = append(search, s)
	}
	c.Search = search
	if err := p.checkMTU(c.MTU); err != nil {
		dropped = append(dropped, err)
		c.MTU = 0
	}
	if c.Hostname != "" {
		if err := CheckHostname(c.Hostname); err != nil {
			dropped = append(dropped, refuse(ErrBadName, "hostname", "%v", err))
			c.Hostname = ""
		}
	}
	var routes []Route
	all := c.Routes
	for i := range all {
		c.Routes = append(routes, all[i])
		if err := p.checkRoute(c, routes, len(routes)); err != nil {
			dropped = append(dropped, err)
			continue
		}
		if len(routes) == orDefault(p.MaxRoutes, DefaultMaxRoutes) {
			dropped = append(dropped, refuse(ErrTooManyRoutes, fmt.Sprintf("route %d", i+1), "over the limit of %d", len(routes)))
			continue
		}
		routes = append(routes, all[i])
	}
	c.Routes = routes
	return dropped
}
