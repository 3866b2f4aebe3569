package apply

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Link is what the applier needs to know about an interface.
type Link struct {
	Index   int
	Name    string
	MTU     int
	Up      bool // IFF_UP: administratively up
	Running bool // IFF_RUNNING: operationally up, i.e. it has carrier
}

// Addr is one IPv4 address on a link.
type Addr struct {
	Prefix    netip.Prefix // address and prefix length
	Broadcast netip.Addr   // zero: none (a /31 or /32)
	// Valid and Preferred are the remaining lifetimes in seconds, as the
	// kernel reports them and as they are installed.
	Valid, Preferred uint32
	// Permanent is IFA_F_PERMANENT: an address without lifetimes, which a
	// DHCP client never installs (see the package documentation).
	Permanent bool
}

// Route is one IPv4 route in the main table through a link, installed with
// protocol RTPROT_DHCP and the applier's metric.
type Route struct {
	Dst     netip.Prefix // 0.0.0.0/0 for the default route
	Gateway netip.Addr   // zero: directly on-link (scope link)
	OnLink  bool         // RTNH_F_ONLINK: gateway outside every local subnet
}

// Kernel is the small part of rtnetlink the applier uses. Every method acts
// on one link and IPv4 only. Netlink is the real one; tests use a fake that
// renders its state as text.
type Kernel interface {
	// LinkByName returns the link, or an error wrapping ifch.ErrNoLink.
	LinkByName(name string) (Link, error)
	SetLinkUp(l Link) error
	SetMTU(l Link, mtu int) error
	// Addrs lists the IPv4 addresses on l.
	Addrs(l Link) ([]Addr, error)
	// ReplaceAddr adds a, or refreshes its lifetimes if present.
	ReplaceAddr(l Link, a Addr) error
	DelAddr(l Link, a Addr) error
	// Routes lists the main-table IPv4 routes through l that have
	// protocol RTPROT_DHCP and priority metric: the ones ifch installs.
	Routes(l Link, metric int) ([]Route, error)
	// ReplaceRoute adds r, or atomically replaces the route to the same
	// destination with the same metric.
	ReplaceRoute(l Link, r Route, metric int) error
	DelRoute(l Link, r Route, metric int) error
	// OtherPrefixes lists the IPv4 subnets connected to every link but l.
	OtherPrefixes(l Link) ([]netip.Prefix, error)
}

// state is the part of a link's state the applier converges: what it owns
// plus the link settings it changes.
type state struct {
	Up     bool
	MTU    int
	Addrs  []Addr // every IPv4 address; only non-permanent ones are ours
	Routes []Route
}

// String renders a state as stable text, for errors and golden tests.
func (s state) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "up=%v mtu=%d", s.Up, s.MTU)
	for _, a := range sortedAddrs(s.Addrs) {
		b.WriteString("; addr " + a.String())
	}
	for _, r := range sortedRoutes(s.Routes) {
		b.WriteString("; route " + r.String())
	}
	return b.String()
}

// String renders a as "PREFIX [brd B] valid V preferred P [permanent]".
func (a Addr) String() string {
	s := a.Prefix.String()
	if a.Broadcast.IsValid() {
		s += " brd " + a.Broadcast.String()
	}
	if a.Permanent {
		return s + " permanent"
	}
	return fmt.Sprintf("%s valid %d preferred %d", s, a.Valid, a.Preferred)
}

// String renders r as "DST via GW [onlink]" or "DST dev".
func (r Route) String() string {
	dst := r.Dst.String()
	if r.Dst.Bits() == 0 {
		dst = "default"
	}
	if !r.Gateway.IsValid() {
		return dst + " dev"
	}
	s := dst + " via " + r.Gateway.String()
	if r.OnLink {
		s += " onlink"
	}
	return s
}

func sortedAddrs(as []Addr) []Addr {
	as = slices.Clone(as)
	slices.SortFunc(as, func(x, y Addr) int { return strings.Compare(x.String(), y.String()) })
	return as
}

func sortedRoutes(rs []Route) []Route {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(x, y Route) int { return strings.Compare(x.String(), y.String()) })
	return rs
}

// opKind orders the steps of a plan: every addition comes before every
// removal, so that the interface never loses connectivity it keeps.
type opKind int

const (
	opLinkUp opKind = iota
	opMTU
	opAddAddr
	opReAddAddr // same address, other broadcast: the kernel cannot replace it
	opAddRoute
	opDelRoute
	opDelAddr
)

type op struct {
	kind  opKind
	mtu   int
	addr  Addr
	route Route
}

func (o op) String() string {
	switch o.kind {
	case opLinkUp:
		return "link up"
	case opMTU:
		return fmt.Sprintf("set mtu %d", o.mtu)
	case opAddAddr:
		return "replace addr " + o.addr.String()
	case opReAddAddr:
		return "re-add addr " + o.addr.String()
	case opAddRoute:
		return "replace route " + o.route.String()
	case opDelRoute:
		return "del route " + o.route.String()
	case opDelAddr:
		return "del addr " + o.addr.Prefix.String()
	}
	return "unknown op"
}

// lifetimeSlack is how far the kernel's remaining lifetimes may be from the
// desired ones without a refresh: the engine sends remaining times, and the
// kernel counts down in whole seconds between two sends of the same state.
const lifetimeSlack = 2

func near(a, b uint32) bool {
	if a > b {
		a, b = b, a
	}
	return b-a <= lifetimeSlack
}

// plan returns the steps that turn cur into want, additions first. It only
// removes non-permanent addresses (ours) and only touches the routes in cur,
// which Kernel.Routes already restricted to ours. want.Up false means "leave
// the link's administrative state alone"; want.MTU 0 means "leave the MTU".
func plan(cur, want state) []op {
	var ops []op
	if want.Up && !cur.Up {
		ops = append(ops, op{kind: opLinkUp})
	}
	if want.MTU != 0 && want.MTU != cur.MTU {
		ops = append(ops, op{kind: opMTU, mtu: want.MTU})
	}
	for _, w := range want.Addrs {
		i := slices.IndexFunc(cur.Addrs, func(c Addr) bool { return c.Prefix == w.Prefix })
		switch {
		case i < 0:
			ops = append(ops, op{kind: opAddAddr, addr: w})
		case cur.Addrs[i].Permanent:
			// An administrator's static address: not ours to change.
		case cur.Addrs[i].Broadcast != w.Broadcast:
			ops = append(ops, op{kind: opReAddAddr, addr: w})
		case !near(cur.Addrs[i].Valid, w.Valid) || !near(cur.Addrs[i].Preferred, w.Preferred):
			ops = append(ops, op{kind: opAddAddr, addr: w})
		}
	}
	for _, w := range want.Routes {
		if !slices.Contains(cur.Routes, w) {
			ops = append(ops, op{kind: opAddRoute, route: w})
		}
	}
	for i, c := range cur.Routes {
		// A route whose destination is wanted was replaced in place;
		// a second one to the same destination is stale.
		wanted := slices.ContainsFunc(want.Routes, func(w Route) bool { return w.Dst == c.Dst })
		dupe := slices.ContainsFunc(cur.Routes[:i], func(p Route) bool { return p.Dst == c.Dst })
		if !wanted || dupe {
			ops = append(ops, op{kind: opDelRoute, route: c})
		}
	}
	for _, c := range cur.Addrs {
		if c.Permanent {
			continue
		}
		if !slices.ContainsFunc(want.Addrs, func(w Addr) bool { return w.Prefix == c.Prefix }) {
			ops = append(ops, op{kind: opDelAddr, addr: c})
		}
	}
	slices.SortStableFunc(ops, func(x, y op) int { return int(x.kind) - int(y.kind) })
	return ops
}
