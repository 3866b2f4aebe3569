package apply

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/ndhc-go/ndhc/ifch"
)

// fakeKernel is an in-memory Kernel that logs every change and renders its
// state as text. It mimics the kernel where the applier depends on it:
// replacing an existing address refreshes only its lifetimes, a gateway
// route needs an on-link gateway unless flagged onlink, and deleting
// something absent fails.
type fakeKernel struct {
	links  map[string]*fakeLink
	ops    []string
	failOn string // a change whose text starts with this fails with EIO
}

type fakeLink struct {
	Link
	addrs  []Addr
	routes []fakeRoute
}

type fakeRoute struct {
	Route
	metric int
}

func newFakeKernel(links ...Link) *fakeKernel {
	k := &fakeKernel{links: make(map[string]*fakeLink)}
	for _, l := range links {
		k.links[l.Name] = &fakeLink{Link: l}
	}
	return k
}

func (k *fakeKernel) change(format string, args ...any) error {
	s := fmt.Sprintf(format, args...)
	if k.failOn != "" && strings.HasPrefix(s, k.failOn) {
		return fmt.Errorf("fake: %s: %w", s, syscall.EIO)
	}
	k.ops = append(k.ops, s)
	return nil
}

// takeOps returns and clears the change log.
func (k *fakeKernel) takeOps() string {
	s := strings.Join(k.ops, "\n")
	k.ops = nil
	return s
}

// String renders every link, its addresses and its routes, sorted.
func (k *fakeKernel) String() string {
	var names []string
	for n := range k.links {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		l := k.links[n]
		fmt.Fprintf(&b, "link %s mtu %d up %v running %v\n", n, l.MTU, l.Up, l.Running)
		for _, a := range sortedAddrs(l.addrs) {
			fmt.Fprintf(&b, "  addr %s\n", a)
		}
		var rs []string
		for _, r := range l.routes {
			rs = append(rs, fmt.Sprintf("  route %s metric %d\n", r.Route, r.metric))
		}
		slices.Sort(rs)
		b.WriteString(strings.Join(rs, ""))
	}
	return b.String()
}

func (k *fakeKernel) link(l Link) (*fakeLink, error) {
	fl := k.links[l.Name]
	if fl == nil || fl.Index != l.Index {
		return nil, syscall.ENODEV
	}
	return fl, nil
}

func (k *fakeKernel) LinkByName(name string) (Link, error) {
	fl := k.links[name]
	if fl == nil {
		return Link{}, fmt.Errorf("%w: %s", ifch.ErrNoLink, name)
	}
	return fl.Link, nil
}

func (k *fakeKernel) SetLinkUp(l Link) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	if err := k.change("link %s up", l.Name); err != nil {
		return err
	}
	fl.Up = true
	return nil
}

func (k *fakeKernel) SetMTU(l Link, mtu int) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	if err := k.change("link %s mtu %d", l.Name, mtu); err != nil {
		return err
	}
	fl.MTU = mtu
	return nil
}

func (k *fakeKernel) OtherPrefixes(l Link) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for name, fl := range k.links {
		if name == l.Name {
			continue
		}
		for _, a := range fl.addrs {
			ps = append(ps, a.Prefix.Masked())
		}
	}
	return ps, nil
}

func (k *fakeKernel) Addrs(l Link) ([]Addr, error) {
	fl, err := k.link(l)
	if err != nil {
		return nil, err
	}
	return slices.Clone(fl.addrs), nil
}

func (k *fakeKernel) ReplaceAddr(l Link, a Addr) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	if err := k.change("replace addr %s", a); err != nil {
		return err
	}
	i := slices.IndexFunc(fl.addrs, func(x Addr) bool { return x.Prefix == a.Prefix })
	if i < 0 {
		fl.addrs = append(fl.addrs, a)
		return nil
	}
	fl.addrs[i].Valid, fl.addrs[i].Preferred, fl.addrs[i].Permanent = a.Valid, a.Preferred, false
	return nil
}

func (k *fakeKernel) DelAddr(l Link, a Addr) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(fl.addrs, func(x Addr) bool { return x.Prefix == a.Prefix })
	if i < 0 {
		return syscall.EADDRNOTAVAIL
	}
	if err := k.change("del addr %s", a.Prefix); err != nil {
		return err
	}
	fl.addrs = slices.Delete(fl.addrs, i, i+1)
	return nil
}

func (k *fakeKernel) Routes(l Link, metric int) ([]Route, error) {
	fl, err := k.link(l)
	if err != nil {
		return nil, err
	}
	var rs []Route
	for _, r := range fl.routes {
		if r.metric == metric {
			rs = append(rs, r.Route)
		}
	}
	return rs, nil
}

func (k *fakeKernel) ReplaceRoute(l Link, r Route, metric int) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	if r.Gateway.IsValid() && !r.OnLink && !slices.ContainsFunc(fl.addrs, func(a Addr) bool { return a.Prefix.Masked().Contains(r.Gateway) }) {
		return syscall.ENETUNREACH
	}
	if err := k.change("replace route %s metric %d", r, metric); err != nil {
		return err
	}
	i := slices.IndexFunc(fl.routes, func(x fakeRoute) bool { return x.Dst == r.Dst && x.metric == metric })
	if i < 0 {
		fl.routes = append(fl.routes, fakeRoute{r, metric})
		return nil
	}
	fl.routes[i].Route = r
	return nil
}

func (k *fakeKernel) DelRoute(l Link, r Route, metric int) error {
	fl, err := k.link(l)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(fl.routes, func(x fakeRoute) bool {
		return x.Dst == r.Dst && x.metric == metric && x.Gateway == r.Gateway
	})
	if i < 0 {
		return syscall.ESRCH
	}
	if err := k.change("del route %s metric %d", r, metric); err != nil {
		return err
	}
	fl.routes = slices.Delete(fl.routes, i, i+1)
	return nil
}
