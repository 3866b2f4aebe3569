package apply

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/ndhc-go/ndhc/ifch"
)

// DefaultMetric is the route priority used when Config.Metric is zero.
const DefaultMetric = 1024

// maxInstalledLifetime caps the lifetimes handed to the kernel. An infinite
// lease is installed with this finite lifetime (about 68 years) rather than
// as a permanent address, because "not permanent" is how ifch recognises the
// addresses it owns; the cap also fits netlink's int fields on 32-bit hosts.
const maxInstalledLifetime = math.MaxInt32

// maxPasses bounds the converge loop: one pass normally suffices; a second is
// needed when the kernel itself removed something during the first (deleting
// a primary address drops its secondaries unless promote_secondaries is set).
const maxPasses = 3

// HostnameSetter sets the system hostname. It is implemented by the separate
// hostname role; a nil HostnameSetter disables hostname setting.
type HostnameSetter interface {
	SetHostname(name string) error
}

// LinkDNS takes DNS servers and search domains per link, as
// systemd-resolved does; RevertLink drops what was set on a link.
type LinkDNS interface {
	SetLinkDNS(ifindex int, servers []netip.Addr, search []string) error
	RevertLink(ifindex int) error
}

// Config configures an Applier. Every field is optional.
type Config struct {
	// Metric is the priority of every route ifch installs, and part of
	// how it recognises them; zero means DefaultMetric.
	Metric int
	// Resolv, when not nil, receives the DNS servers and search list.
	Resolv *ResolvConf
	// Hostname, when not nil, receives validated hostnames.
	Hostname HostnameSetter
	// LinkDNS, when not nil, receives each link's DNS servers and search
	// list (systemd-resolved through the dns role).
	LinkDNS LinkDNS
	// Log receives one line per change; nil discards.
	Log *slog.Logger
}

// Applier converges interfaces to the states the engine asks for. It is safe
// for concurrent use: every method holds one mutex for its whole duration,
// so commands from several peers are applied one at a time.
type Applier struct {
	mu    sync.Mutex
	k     Kernel
	cfg   Config
	links map[string]*linkMemo
}

// linkMemo is what ifch remembers about a link between commands.
type linkMemo struct {
	origMTU  int // the MTU before ifch first changed it, 0 if it never did
	dns      []netip.Addr
	search   []string
	hostname string
}

// New returns an Applier that changes the kernel through k.
func New(k Kernel, cfg Config) *Applier {
	if cfg.Metric == 0 {
		cfg.Metric = DefaultMetric
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Applier{k: k, cfg: cfg, links: make(map[string]*linkMemo)}
}

// An ApplyError is a kernel refusal while converging a link. RolledBack
// says whether the link was returned to its state before the command; State
// is what was read back from the kernel afterwards, so that the peer knows
// precisely what is in place.
type ApplyError struct {
	Link       string
	Step       string
	Err        error
	RolledBack bool
	State      string
}

// Error describes the failed step and what is in place.
func (e *ApplyError) Error() string {
	s := fmt.Sprintf("ifch: %s: %s: %v", e.Link, e.Step, e.Err)
	if e.RolledBack {
		return s + "; rolled back"
	}
	return s + "; rollback failed, in place: " + e.State
}

// Unwrap returns the kernel error and ifch.ErrApply.
func (e *ApplyError) Unwrap() []error { return []error{e.Err, ifch.ErrApply} }

// Do carries out a command that the caller has already validated against
// its policy, and returns the reply to send.
func (a *Applier) Do(c ifch.Command) ifch.Reply {
	var err error
	switch c := c.(type) {
	case *ifch.Configure:
		err = a.Configure(c)
	case *ifch.Deconfigure:
		err = a.Deconfigure(c.Interface)
	case *ifch.Up:
		err = a.Up(c.Interface)
	case *ifch.Carrier:
		var up bool
		if up, err = a.Carrier(c.Interface); err == nil {
			if up {
				return ifch.Reply{Carrier: ifch.CarrierUp}
			}
			return ifch.Reply{Carrier: ifch.CarrierDown}
		}
	default:
		err = fmt.Errorf("ifch: unknown command %T", c)
	}
	if err != nil {
		a.cfg.Log.Warn("command failed", "iface", c.Iface(), "err", err)
	}
	return ifch.ReplyFor(err)
}

// Configure converges the link to c. The caller must have validated c.
func (a *Applier) Configure(c *ifch.Configure) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, err := a.k.LinkByName(c.Interface)
	if err != nil {
		return err
	}
	m := a.memo(c.Interface)
	routes, err := a.awayFromOthers(l, desiredRoutes(c))
	if err != nil {
		return err
	}
	want := state{Up: true, MTU: int(c.MTU), Addrs: []Addr{desiredAddr(c)}, Routes: routes}
	if want.MTU == 0 {
		want.MTU = m.origMTU // back to the original when the lease stops asking
	} else if m.origMTU == 0 && want.MTU != l.MTU {
		m.origMTU = l.MTU
	}
	if err := a.converge(l, want); err != nil {
		return err
	}
	if want.MTU == m.origMTU {
		m.origMTU = 0
	}
	// The search list is the request's: the engine decides what it holds
	// (engine.ConfigureFor); the domain field is informational.
	if err := a.setResolv(l, m, c.DNS, c.Search); err != nil {
		return err
	}
	if c.Hostname != "" && a.cfg.Hostname != nil && c.Hostname != m.hostname {
		if err := a.cfg.Hostname.SetHostname(c.Hostname); err != nil {
			return fmt.Errorf("%w: %v (the interface is configured)", ifch.ErrHostname, err)
		}
		m.hostname = c.Hostname
		a.cfg.Log.Info("hostname set", "iface", c.Interface, "hostname", c.Hostname)
	}
	return nil
}

// Deconfigure removes exactly what ifch installs on the link: its
// non-permanent IPv4 addresses and its routes (protocol dhcp, the
// configured metric), and restores the MTU it changed. The link stays up.
func (a *Applier) Deconfigure(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, err := a.k.LinkByName(name)
	if err != nil {
		return err
	}
	m := a.memo(name)
	if err := a.converge(l, state{MTU: m.origMTU}); err != nil {
		return err
	}
	m.origMTU = 0
	return a.setResolv(l, m, nil, nil)
}

// Up sets the link administratively up.
func (a *Applier) Up(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, err := a.k.LinkByName(name)
	if err != nil {
		return err
	}
	if l.Up {
		return nil
	}
	if err := a.k.SetLinkUp(l); err != nil {
		return &ApplyError{Link: name, Step: "link up", Err: err, RolledBack: true, State: "link down"}
	}
	return nil
}

// Carrier reports whether the link is up and running (IFF_UP|IFF_RUNNING).
func (a *Applier) Carrier(name string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, err := a.k.LinkByName(name)
	if err != nil {
		return false, err
	}
	return l.Up && l.Running, nil
}

func (a *Applier) memo(name string) *linkMemo {
	m := a.links[name]
	if m == nil {
		m = &linkMemo{}
		a.links[name] = m
	}
	return m
}

// read returns the link's current state as the applier sees it.
func (a *Applier) read(l Link) (state, error) {
	l, err := a.k.LinkByName(l.Name)
	if err != nil {
		return state{}, err
	}
	addrs, err := a.k.Addrs(l)
	if err != nil {
		return state{}, err
	}
	routes, err := a.k.Routes(l, a.cfg.Metric)
	if err != nil {
		return state{}, err
	}
	return state{Up: l.Up, MTU: l.MTU, Addrs: addrs, Routes: routes}, nil
}

// converge drives the link to want, re-reading the kernel after each pass.
// On a failed step it rolls back to the state read before the first pass.
func (a *Applier) converge(l Link, want state) error {
	before, err := a.read(l)
	if err != nil {
		return fmt.Errorf("ifch: %s: read state: %w", l.Name, err)
	}
	cur := before
	for range maxPasses {
		ops := plan(cur, want)
		if len(ops) == 0 {
			return nil
		}
		if step, err := a.run(l, ops); err != nil {
			return a.rollback(l, before, step, err)
		}
		if cur, err = a.read(l); err != nil {
			return fmt.Errorf("ifch: %s: read state: %w", l.Name, err)
		}
	}
	return a.rollback(l, before, "converge", fmt.Errorf("not converged after %d passes: %v", maxPasses, cur))
}

// rollback tries to put back the state before, whose routes and addresses
// were read from the kernel and so are exactly restorable (lifetimes aside,
// which have only counted down).
func (a *Applier) rollback(l Link, before state, step string, cause error) error {
	e := &ApplyError{Link: l.Name, Step: step, Err: cause}
	back := before
	back.Up = false // never set a link down that was down before
	var rerr error
	for range maxPasses {
		cur, err := a.read(l)
		if err != nil {
			rerr = err
			break
		}
		ops := plan(cur, back)
		if len(ops) == 0 {
			e.RolledBack = true
			break
		}
		if _, rerr = a.run(l, ops); rerr != nil {
			break
		}
	}
	if cur, err := a.read(l); err == nil {
		e.State = cur.String()
	} else {
		e.State = "unknown: " + err.Error()
	}
	a.cfg.Log.Error("apply failed", "iface", l.Name, "step", step, "err", cause,
		"rolled_back", e.RolledBack, "rollback_err", rerr, "state", e.State)
	return e
}

// run executes ops in order and returns the failed step.
func (a *Applier) run(l Link, ops []op) (string, error) {
	for _, o := range ops {
		var err error
		switch o.kind {
		case opLinkUp:
			err = a.k.SetLinkUp(l)
		case opMTU:
			err = a.k.SetMTU(l, o.mtu)
		case opAddAddr:
			err = a.k.ReplaceAddr(l, o.addr)
		case opReAddAddr:
			if err = a.k.DelAddr(l, o.addr); err == nil {
				err = a.k.ReplaceAddr(l, o.addr)
			}
		case opAddRoute:
			err = a.k.ReplaceRoute(l, o.route, a.cfg.Metric)
		case opDelRoute:
			err = a.k.DelRoute(l, o.route, a.cfg.Metric)
		case opDelAddr:
			err = a.k.DelAddr(l, o.addr)
		}
		if err != nil {
			return o.String(), err
		}
		a.cfg.Log.Info("changed", "iface", l.Name, "op", o.String())
	}
	return "", nil
}

func installLifetime(l ifch.Lifetime) uint32 {
	if l > maxInstalledLifetime {
		return maxInstalledLifetime
	}
	return uint32(l)
}

func desiredAddr(c *ifch.Configure) Addr {
	a := Addr{Prefix: c.Address, Valid: installLifetime(c.Valid), Preferred: installLifetime(c.Preferred)}
	if c.Address.Bits() <= 30 {
		// Validate made sure a given broadcast equals this one.
		a.Broadcast = broadcastOf(c.Address)
	}
	return a
}

func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	for i := range 4 {
		b[i] |= byte(host >> (24 - 8*i))
	}
	return netip.AddrFrom4(b)
}

// awayFromOthers drops the routes whose destination overlaps a subnet
// connected to another interface (other than a default route): a server
// on this link must not take over the traffic of another link, a VPN's
// say (TunnelVision, CVE-2024-3661). Each drop is logged.
func (a *Applier) awayFromOthers(l Link, rs []Route) ([]Route, error) {
	others, err := a.k.OtherPrefixes(l)
	if err != nil {
		return nil, err
	}
	var kept []Route
	for _, r := range rs {
		i := slices.IndexFunc(others, func(o netip.Prefix) bool { return r.Dst.Bits() > 0 && r.Dst.Overlaps(o) })
		if i >= 0 {
			a.cfg.Log.Warn("route dropped: it overlaps another interface's subnet", "iface", l.Name, "route", r.String(), "subnet", others[i])
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}

func desiredRoutes(c *ifch.Configure) []Route {
	subnet := c.Address.Masked()
	var rs []Route
	if c.Router.IsValid() {
		rs = append(rs, Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: c.Router, OnLink: !subnet.Contains(c.Router)})
	}
	for _, r := range c.Routes {
		if r.Gateway == netip.IPv4Unspecified() {
			rs = append(rs, Route{Dst: r.Dst})
			continue
		}
		rs = append(rs, Route{Dst: r.Dst, Gateway: r.Gateway, OnLink: !subnet.Contains(r.Gateway)})
	}
	return rs
}

// setResolv records the link's DNS data and, when it changed, hands it to
// LinkDNS and rewrites resolv.conf from all links.
func (a *Applier) setResolv(l Link, m *linkMemo, dns []netip.Addr, search []string) error {
	if slices.Equal(m.dns, dns) && slices.Equal(m.search, search) {
		return nil
	}
	m.dns, m.search = slices.Clone(dns), slices.Clone(search)
	if a.cfg.LinkDNS != nil {
		var err error
		if len(dns) == 0 && len(search) == 0 {
			err = a.cfg.LinkDNS.RevertLink(l.Index)
		} else {
			err = a.cfg.LinkDNS.SetLinkDNS(l.Index, dns, search)
		}
		if err != nil {
			m.dns, m.search = nil, nil // unknown: send again next time
			return errors.Join(ifch.ErrApply, fmt.Errorf("ifch: DNS not handed to systemd-resolved (the interface is configured): %w", err))
		}
		a.cfg.Log.Info("DNS handed to systemd-resolved", "iface", l.Name, "servers", len(dns), "search", len(search))
	}
	if a.cfg.Resolv == nil {
		return nil
	}
	names := make([]string, 0, len(a.links))
	for n := range a.links {
		names = append(names, n)
	}
	sort.Strings(names)
	var allDNS []netip.Addr
	var allSearch []string
	for _, n := range names {
		for _, d := range a.links[n].dns {
			if !slices.Contains(allDNS, d) {
				allDNS = append(allDNS, d)
			}
		}
		for _, s := range a.links[n].search {
			if !slices.Contains(allSearch, s) {
				allSearch = append(allSearch, s)
			}
		}
	}
	if err := a.cfg.Resolv.Write(allDNS, allSearch); err != nil {
		m.dns, m.search = nil, nil // unknown: rewrite next time
		return errors.Join(ifch.ErrApply, fmt.Errorf("ifch: resolv.conf not written (the interface is configured): %w", err))
	}
	a.cfg.Log.Info("resolv.conf written", "servers", len(allDNS), "search", len(allSearch))
	return nil
}
