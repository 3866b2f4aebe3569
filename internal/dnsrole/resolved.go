//go:build linux

package dnsrole

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

// systemd-resolved's bus interface, org.freedesktop.resolve1(5).
const (
	resolvedName   = "org.freedesktop.resolve1"
	resolvedPath   = "/org/freedesktop/resolve1"
	resolvedMgr    = "org.freedesktop.resolve1.Manager"
	methodDNS      = resolvedMgr + ".SetLinkDNS"
	methodDomains  = resolvedMgr + ".SetLinkDomains"
	methodDefRoute = resolvedMgr + ".SetLinkDefaultRoute"
	methodRevert   = resolvedMgr + ".RevertLink"
)

// CallTimeout bounds each call to resolved: a resolved (or polkit) that
// hangs fails the change instead of holding ifch.
const CallTimeout = 3 * time.Second

// linkAddr is SetLinkDNS's (iay): an address family and the address.
type linkAddr struct {
	Family  int32
	Address []byte
}

// linkDomain is SetLinkDomains's (sb): a domain and whether it is only
// for routing queries (never here: the lease's domains are search
// domains).
type linkDomain struct {
	Domain      string
	RoutingOnly bool
}

// Resolved is the Backend that calls systemd-resolved.
type Resolved struct {
	conn *dbus.Conn
	obj  dbus.BusObject
}

// DialResolved connects to the bus at socket, authenticates as the
// calling process's uid (EXTERNAL only: the cookie mechanism would read
// the home directory) and says Hello. Call it as the unprivileged user
// the connection is to be credited to.
func DialResolved(socket string) (*Resolved, error) {
	conn, err := dbus.Connect("unix:path="+socket, dbus.WithAuth(dbus.AuthExternal(strconv.Itoa(os.Getuid()))))
	if err != nil {
		return nil, err
	}
	return &Resolved{conn: conn, obj: conn.Object(resolvedName, resolvedPath)}, nil
}

// Close closes the bus connection.
func (r *Resolved) Close() error { return r.conn.Close() }

// SetLink sets the link's servers, its search domains, and makes it a
// default route for queries no other link's domains claim.
func (r *Resolved) SetLink(ifindex int, servers []netip.Addr, domains []string) error {
	addrs := make([]linkAddr, 0, len(servers))
	for _, s := range servers {
		a := s.As4()
		addrs = append(addrs, linkAddr{Family: syscall.AF_INET, Address: a[:]})
	}
	doms := make([]linkDomain, 0, len(domains))
	for _, d := range domains {
		doms = append(doms, linkDomain{Domain: d})
	}
	i := int32(ifindex)
	if err := r.call(methodDNS, i, addrs); err != nil {
		return err
	}
	if err := r.call(methodDomains, i, doms); err != nil {
		return err
	}
	return r.call(methodDefRoute, i, len(servers) > 0)
}

func (r *Resolved) call(method string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	return r.obj.CallWithContext(ctx, method, 0, args...).Err
}

// RevertLink drops what was set on the link.
func (r *Resolved) RevertLink(ifindex int) error {
	return r.call(methodRevert, int32(ifindex))
}
