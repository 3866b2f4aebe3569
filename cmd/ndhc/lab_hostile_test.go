package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/hostile"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/vishvananda/netlink"
)

// The hostile-server suite (make hostile): the real daemon against the
// rogue server of internal/hostile, one scenario at a time per lab, a few
// labs at once. Each outcome is classified from typed state (event
// records, the kernel's addresses and routes, resolv.conf, the host name,
// the exit status) as safe, applied-invalid, crash or hang; where the
// offered address is valid, whether the client bound is counted too.

// hostileLabs is how many labs run scenarios at once; the daemons mostly
// wait on timers, so more labs than cores is fine.
const hostileLabs = 4

// otherSubnet is connected to a second interface of the client namespace
// (one end of a veth pair inside it), so that routes over another interface's subnet can be tried.
var otherSubnet = netip.MustParsePrefix("192.168.50.0/24")

type hostileResult struct {
	name   string
	class  hostile.Class
	avail  hostile.Avail
	bound  bool
	detail string
	took   time.Duration
}

func TestHostile(t *testing.T) {
	lab.Require(t, "unshare", "nsenter")
	scs := hostile.Scenarios()
	if f := os.Getenv("NDHC_HOSTILE_RUN"); f != "" {
		re := regexp.MustCompile(f)
		var keep []hostile.Scenario
		for _, s := range scs {
			if re.MatchString(s.Name) {
				keep = append(keep, s)
			}
		}
		scs = keep
	}
	var labs []hostileLab
	for i := 0; i < min(hostileLabs, len(scs)); i++ {
		hl, err := newHostileLab(t, i)
		if err != nil {
			t.Fatal(err)
		}
		labs = append(labs, hl)
	}

	var wg sync.WaitGroup

	work := make(chan hostile.Scenario)
	var (
		mu      sync.Mutex
		results = map[string]hostileResult{}
	)
	for _, hl := range labs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sc := range work {
				t.Run(sc.Name, func(t *testing.T) {
					r := runHostile(t, hl, sc, nil)
					mu.Lock()
					results[sc.Name] = r
					mu.Unlock()
					if r.class != hostile.Safe {
						t.Errorf("%s: %s", r.class, r.detail)
					}
					if sc.Avail == hostile.PeersBind && !r.bound {
						t.Errorf("not bound where other clients bind: %s", r.detail)
					}
				})
			}
		}()
	}
	for _, sc := range scs {
		work <- sc
	}
	close(work)
	wg.Wait()

	var b strings.Builder
	count := map[hostile.Class]int{}
	var want, got, peers, peersGot int
	fmt.Fprintf(&b, "\n%-28s %-16s %-6s %-6s %s\n", "SCENARIO", "CLASS", "AVAIL", "BOUND", "DETAIL")
	for _, sc := range scs {
		r, ok := results[sc.Name]
		if !ok {
			continue
		}
		count[r.class]++
		if r.avail != hostile.NoBind {
			want++
			if r.bound {
				got++
			}
		}
		if r.avail == hostile.PeersBind {
			peers++
			if r.bound {
				peersGot++
			}
		}
		fmt.Fprintf(&b, "%-28s %-16s %-6s %-6s %s\n", r.name, r.class, r.avail, yesNo(r.bound), r.detail)
	}
	fmt.Fprintf(&b, "\nscenarios %d: safe %d, applied-invalid %d, crash %d, hang %d; bound when possible %d/%d (where peers bind %d/%d)\n",
		len(results), count[hostile.Safe], count[hostile.AppliedInvalid], count[hostile.Crash], count[hostile.Hang], got, want, peersGot, peers)
	t.Log(b.String())
	if p := os.Getenv("NDHC_HOSTILE_TABLE"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// TestHostileDetects: the suite's judgement bites end to end. With the
// route policy opened up by the operator (--min-route-prefix 1), a /2
// route that covers neither the server nor another interface's subnet
// reaches the kernel, and the run is classified applied-invalid, with the
// lease.
func TestHostileDetects(t *testing.T) {
	lab.Require(t)
	sc := hostile.Scenario{Name: "detect/route-64-2", Sends: "64.0.0.0/2 via the server", Avail: hostile.WantBind,
		Edit: func(_ *hostile.Env, m *hostile.Msg, typ byte) {
			if typ != hostile.Nak {
				m.Set(hostile.O(121, 2, 64, 10, 77, 0, 1))
			}
		}}
	hl, err := newHostileLab(t, 9)
	if err != nil {
		t.Fatal(err)
	}
	r := runHostile(t, hl, sc, []string{"--min-route-prefix", "1"})
	if r.class != hostile.AppliedInvalid || !r.bound {
		t.Errorf("class %s, bound %v (%s); want applied-invalid with a lease", r.class, r.bound, r.detail)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

type hostileLab struct {
	l   *lab.Lab
	env hostile.Env
}

func newHostileLab(t *testing.T, i int) (hostileLab, error) {
	l := lab.NewT(t, lab.Config{Name: "hostile" + strconv.Itoa(i)})
	mac, err := l.Server.MAC()
	if err != nil {
		return hostileLab{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gw := netip.PrefixFrom(otherSubnet.Addr().Next(), otherSubnet.Bits())
	for _, argv := range [][]string{
		{"ip", "link", "add", "oth0", "type", "veth", "peer", "name", "oth1"},
		{"ip", "addr", "add", gw.String(), "dev", "oth0"},
		{"ip", "link", "set", "oth1", "up"},
		{"ip", "link", "set", "oth0", "up"},
	} {
		if _, err := l.Client.Run(ctx, argv...); err != nil {
			return hostileLab{}, err
		}
	}
	return hostileLab{l: l, env: hostile.Env{
		ServerIP: l.Net.Gateway(), ServerMAC: mac, Subnet: l.Net.Subnet,
		Offer: l.Net.Host(50), Other: otherSubnet,
	}}, nil
}

// Time bounds of one scenario.
const (
	hostileStart  = 15 * time.Second       // from start to the first DISCOVER
	hostileNoBind = 7 * time.Second        // after the first reply, when no bind is expected
	hostileBind   = 9 * time.Second        // after the first reply, when one is
	hostileSettle = 700 * time.Millisecond // after configured or refused
)

// runHostile runs one scenario on hl with ndhc's flags plus args.
func runHostile(t *testing.T, hl hostileLab, sc hostile.Scenario, args []string) hostileResult {
	l := hl.l
	env := hl.env
	env.Start = time.Now()
	res := hostileResult{name: sc.Name, avail: sc.Avail, class: hostile.Safe}
	defer func() { res.took = time.Since(env.Start) }()
	defer resetClient(t, l)

	rogue, err := hostile.Start(l.Server, sc.Responder(&env))
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Stop()
	stop := make(chan struct{})
	var bg sync.WaitGroup
	if sc.Background != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			sc.Background(&env, func(f ...[]byte) { _ = rogue.Send(f...) }, stop)
		}()
	}
	defer func() { close(stop); bg.Wait() }()

	o := clientOpts{args: args}
	if sc.Hostname {
		o.wrap = []string{"unshare", "--uts", "--"}
		o.args = append(o.args, "--set-hostname")
	}
	c := startClient(t, l, o)

	var problems []string
	bad := func(class hostile.Class, f string, a ...any) {
		// The first class found stands; every detail is kept.
		if res.class == hostile.Safe {
			res.class = class
		}
		problems = append(problems, fmt.Sprintf(f, a...))
	}

	// Run until configured (or refused) and settled, the daemon dies, or
	// the time is up.
	var (
		first      time.Time // the first client message, answered at once
		settled    time.Time
		configured time.Time
		exited     bool
	)
	for {
		now := time.Now()
		reqs := rogue.Requests()
		if first.IsZero() && len(reqs) > 0 {
			first = reqs[0].Time
		}
		if r, _, ok := c.find(0, func(r event.Record) bool { return r.Event == "configured" || r.Event == "refused" }); ok && settled.IsZero() {
			settled = now.Add(hostileSettle)
			if r.Event == "configured" {
				configured = r.Time
			}
		}
		if !settled.IsZero() && now.After(settled) {
			break
		}
		if _, _, ok := c.find(0, func(r event.Record) bool { return r.Event == "exit" || r.Event == "exiting" || r.Crash != "" }); ok {
			break
		}
		select {
		case err := <-c.done:
			c.done <- err
			exited = true
		default:
		}
		if exited {
			break
		}
		if first.IsZero() && now.Sub(env.Start) > hostileStart {
			break
		}
		if !first.IsZero() {
			limit := hostileNoBind
			if sc.Avail != hostile.NoBind {
				limit = hostileBind
			}
			if now.Sub(first) > limit {
				break
			}
			// Nothing to bind to: one more client message after the
			// first reply, and time to answer it, is enough.
			if sc.Avail == hostile.NoBind && settled.IsZero() {
				if n := len(reqs); n >= 2 && now.Sub(reqs[n-1].Time) > 1500*time.Millisecond {
					break
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}

	// What reached the kernel, resolv.conf and the host name.
	st, err := snapshot(l)
	if err != nil {
		t.Fatal(err)
	}
	res.bound = !configured.IsZero() && len(st.addrs) > 0
	for _, p := range invalidState(env, st) {
		bad(hostile.AppliedInvalid, "%s", p)
	}
	if rc, err := os.ReadFile(c.resolv); err == nil {
		for _, p := range invalidResolv(string(rc)) {
			bad(hostile.AppliedInvalid, "resolv.conf: %s", p)
		}
	}
	if sc.Hostname && !exited {
		out, err := exec.Command("nsenter", "--target", strconv.Itoa(c.cmd.Process.Pid), "--uts", "hostname").Output()
		if err == nil {
			if h := strings.TrimRight(string(out), "\n"); !validHostname(h) {
				bad(hostile.AppliedInvalid, "host name set to %q", h)
			}
		}
	}
	if res.bound && sc.Lease > 0 && !exited {
		for _, p := range watchLease(l, rogue, configured, sc.Lease, st) {
			bad(hostile.AppliedInvalid, "%s", p)
		}
	}

	// Crashes: a role's exit or the engine's giving up before SIGTERM.
	for _, r := range c.records() {
		if r.Event == "exit" || r.Event == "exiting" || r.Crash != "" {
			bad(hostile.Crash, "%s record before SIGTERM: role=%s status=%q reason=%q crash=%q", r.Event, r.Role, r.Status, r.Reason, r.Crash)
		}
	}
	// Hang: no DISCOVER at all, or nothing from the client (no message,
	// no state change) after the first reply, without a lease.
	if !exited && res.class == hostile.Safe && !res.bound {
		if first.IsZero() {
			bad(hostile.Hang, "no DHCPDISCOVER within %v", hostileStart)
		} else {
			// Every client message is answered at once, so a second one
			// means the client went on after the first reply.
			after := len(rogue.Requests()) - 1
			states := c.count(0, func(r event.Record) bool { return r.Event == "state" && r.From != "INIT" })
			if after == 0 && states == 0 {
				bad(hostile.Hang, "no message and no state change in %v after the first reply", time.Since(first).Round(time.Second))
			}
		}
	}

	// A clean stop: SIGTERM, and status 0 within a bounded time.
	if !exited {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-c.done:
		c.done <- err
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		if exited {
			bad(hostile.Crash, "daemon exited by itself with status %d", code)
		} else if code != 0 {
			bad(hostile.Crash, "status %d after SIGTERM", code)
		}
	case <-time.After(10 * time.Second):
		bad(hostile.Hang, "still running 10 s after SIGTERM")
	}

	if os.Getenv("NDHC_HOSTILE_VERBOSE") != "" {
		t.Logf("ndhc output:\n%s", c.out.String())
	}

	// The detail: what was wrong, else what the client did.
	reqs := rogue.Requests()
	var types []string
	for _, r := range reqs {
		if len(types) >= 6 {
			types = append(types, "...")
			break
		}
		types = append(types, msgName(r.Type))
	}
	summary := fmt.Sprintf("client sent %d (%s), rogue %d frames; states %s", len(reqs), strings.Join(types, ","), rogue.Sent(), strings.Join(c.states(0), " "))
	if res.bound {
		summary = fmt.Sprintf("bound %v; ", st.addrs) + summary
	}
	if r, _, ok := c.find(0, is("refused")); ok {
		summary = "refused by ifch: " + r.Cause + "; " + summary
	}
	if len(problems) > 0 {
		res.detail = strings.Join(problems, "; ") + " [" + summary + "]"
	} else {
		res.detail = summary
	}
	return res
}

func msgName(t byte) string {
	switch t {
	case hostile.Discover:
		return "DISCOVER"
	case hostile.Request:
		return "REQUEST"
	case hostile.Decline:
		return "DECLINE"
	case hostile.Release:
		return "RELEASE"
	}
	return "type" + strconv.Itoa(int(t))
}

// clientState is what the kernel holds for the client's interface.
type clientState struct {
	addrs  []netip.Prefix
	valid  []int // valid lifetimes, seconds, by address
	routes []lab.Route
	mtu    int
}

func snapshot(l *lab.Lab) (clientState, error) {
	var st clientState
	err := l.Client.Do(func() error {
		lk, err := netlink.LinkByName(l.Client.IfName())
		if err != nil {
			return err
		}
		st.mtu = lk.Attrs().MTU
		as, err := netlink.AddrList(lk, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range as {
			ip, ok := netip.AddrFromSlice(a.IP.To4())
			if !ok {
				continue
			}
			bits, _ := a.Mask.Size()
			st.addrs = append(st.addrs, netip.PrefixFrom(ip, bits))
			st.valid = append(st.valid, a.ValidLft)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	rs, err := l.Client.Routes()
	if err != nil {
		return st, err
	}
	for _, r := range rs {
		if r.Dev == l.Client.IfName() {
			st.routes = append(st.routes, r)
		}
	}
	return st, nil
}

// usable reports whether a is an address a host may hold or route to:
// IPv4 unicast, not 0/8, loopback, link-local, multicast, class E or the
// limited broadcast.
func usable(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] != 0 && !a.IsLoopback() && !a.IsLinkLocalUnicast() && b[0] < 224
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// invalidState lists what the kernel holds that no valid lease gives.
func invalidState(env hostile.Env, st clientState) []string {
	var out []string
	for _, p := range st.addrs {
		a := p.Addr()
		switch {
		case !usable(a):
			out = append(out, fmt.Sprintf("address %v of a bad class", p))
		case p.Bits() < 8:
			out = append(out, fmt.Sprintf("address %v with a prefix shorter than /8", p))
		case p.Bits() <= 30 && (a == p.Masked().Addr() || a == lastAddr(p)):
			out = append(out, fmt.Sprintf("address %v is its subnet's network or broadcast address", p))
		case a == env.ServerIP:
			out = append(out, fmt.Sprintf("address %v is the server's own", p))
		}
	}
	if len(st.addrs) > 0 && st.mtu < 576 {
		out = append(out, fmt.Sprintf("MTU %d", st.mtu))
	}
	onLink := func(gw netip.Addr) bool {
		for _, p := range st.addrs {
			if p.Masked().Contains(gw) {
				return true
			}
		}
		return false
	}
	for _, r := range st.routes {
		d := r.Dst
		switch {
		case d.Bits() > 0 && d.Bits() < 8:
			out = append(out, fmt.Sprintf("route %v shorter than /8 (TunnelVision)", r))
		case d.Bits() > 0 && d.Overlaps(env.Other):
			out = append(out, fmt.Sprintf("route %v over another interface's subnet", r))
		case d.Bits() > 0 && d.Contains(env.ServerIP) && r.Gateway.IsValid():
			out = append(out, fmt.Sprintf("route %v covers the DHCP server", r))
		case d.Bits() > 0 && !usable(d.Addr()) && d.Addr().As4()[0] != 0:
			out = append(out, fmt.Sprintf("route %v to a destination of a bad class", r))
		case r.Gateway.IsValid() && (!usable(r.Gateway) || !onLink(r.Gateway)):
			out = append(out, fmt.Sprintf("route %v via a gateway that is not an on-link unicast address", r))
		}
	}
	return out
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validName(n string) bool {
	n = strings.TrimSuffix(n, ".")
	if n == "" || len(n) > 253 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func validHostname(h string) bool { return len(h) <= 64 && validName(h) }

// invalidResolv lists the lines of a resolv.conf that a valid lease does
// not produce: anything but comments, nameserver lines with usable
// addresses and search lines of valid names.
func invalidResolv(rc string) []string {
	var out []string
	if strings.ContainsRune(rc, 0) {
		out = append(out, "a NUL octet")
	}
	for _, line := range strings.Split(rc, "\n") {
		f := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case len(f) == 2 && f[0] == "nameserver":
			if a, err := netip.ParseAddr(f[1]); err != nil || !usable(a) || a.String() != f[1] {
				out = append(out, fmt.Sprintf("nameserver %q", f[1]))
			}
		case len(f) >= 2 && f[0] == "search" && line == strings.Join(f, " "):
			for _, n := range f[1:] {
				if !validName(n) {
					out = append(out, fmt.Sprintf("search name %q", n))
				}
			}
		default:
			out = append(out, fmt.Sprintf("line %q", line))
		}
	}
	return out
}

// watchLease checks a short lease: the kernel's lifetime of the address
// is no longer than the lease, and by the lease's end the client has
// asked to renew it or the address is gone.
func watchLease(l *lab.Lab, rogue *hostile.Rogue, bound time.Time, lease uint32, st clientState) []string {
	var out []string
	for i, p := range st.addrs {
		if st.valid[i] > int(lease) {
			out = append(out, fmt.Sprintf("address %v valid for %d s in the kernel, lease %d s", p, st.valid[i], lease))
		}
	}
	end := bound.Add(time.Duration(lease) * time.Second)
	time.Sleep(time.Until(end.Add(time.Second)))
	renewed := false
	for _, r := range rogue.Requests() {
		if r.Type == hostile.Request && r.Time.After(bound) && r.Time.Before(end) {
			renewed = true
		}
	}
	now, err := snapshot(l)
	if err == nil && len(now.addrs) > 0 && !renewed {
		out = append(out, fmt.Sprintf("address %v kept 1 s past the %d s lease without a renewal", now.addrs, lease))
	}
	return out
}

// resetClient leaves the client's interface as the lab made it: no
// address, no routes, MTU 1500.
func resetClient(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "addr", "flush", "dev", l.Client.IfName()},
		{"ip", "route", "flush", "dev", l.Client.IfName()},
		{"ip", "link", "set", l.Client.IfName(), "mtu", "1500"},
	} {
		if _, err := l.Client.Run(ctx, argv...); err != nil {
			t.Error(err)
		}
	}
}
