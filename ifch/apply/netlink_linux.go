package apply

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/ifch"
)

// NetlinkTimeout bounds every netlink request, so that a wedged kernel
// request cannot hold the applier's mutex forever.
const NetlinkTimeout = 5 * time.Second

// Netlink is the Kernel backed by one rtnetlink socket. Every request goes
// through that socket: after the sandbox is entered it needs sendto,
// recvfrom and getsockname and never creates a socket.
type Netlink struct {
	h *netlink.Handle
}

var _ Kernel = (*Netlink)(nil)

// OpenNetlink opens the NETLINK_ROUTE handle. Call it before entering the
// sandbox.
func OpenNetlink() (*Netlink, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("ifch: netlink: %w", err)
	}
	if err := h.SetSocketTimeout(NetlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("ifch: netlink: %w", err)
	}
	return &Netlink{h: h}, nil
}

// Close closes the handle.
func (n *Netlink) Close() { n.h.Close() }

func dev(l Link) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: l.Index, Name: l.Name}}
}

// LinkByName implements Kernel.
func (n *Netlink) LinkByName(name string) (Link, error) {
	nl, err := n.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return Link{}, fmt.Errorf("%w: %s: %v", ifch.ErrNoLink, name, err)
		}
		return Link{}, fmt.Errorf("ifch: link %s: %w", name, err)
	}
	at := nl.Attrs()
	return Link{
		Index:   at.Index,
		Name:    at.Name,
		MTU:     at.MTU,
		Up:      at.RawFlags&unix.IFF_UP != 0,
		Running: at.RawFlags&unix.IFF_RUNNING != 0,
	}, nil
}

// SetLinkUp implements Kernel.
func (n *Netlink) SetLinkUp(l Link) error { return n.h.LinkSetUp(dev(l)) }

// SetMTU implements Kernel.
func (n *Netlink) SetMTU(l Link, mtu int) error { return n.h.LinkSetMTU(dev(l), mtu) }

// OtherPrefixes implements Kernel.
func (n *Netlink) OtherPrefixes(l Link) ([]netip.Prefix, error) {
	nas, err := n.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var ps []netip.Prefix
	for _, na := range nas {
		if na.IPNet == nil || na.LinkIndex == l.Index {
			continue
		}
		ip, ok := netip.AddrFromSlice(na.IP.To4())
		bits, _ := na.Mask.Size()
		if !ok || ip.IsLoopback() {
			continue
		}
		ps = append(ps, netip.PrefixFrom(ip, bits).Masked())
	}
	return ps, nil
}

// Addrs implements Kernel.
func (n *Netlink) Addrs(l Link) ([]Addr, error) {
	nas, err := n.h.AddrList(dev(l), netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var as []Addr
	for _, na := range nas {
		if na.IPNet == nil || na.LinkIndex != l.Index {
			continue
		}
		ip, ok := netip.AddrFromSlice(na.IP.To4())
		bits, _ := na.Mask.Size()
		if !ok {
			continue
		}
		a := Addr{
			Prefix:    netip.PrefixFrom(ip, bits),
			Valid:     uint32(na.ValidLft),
			Preferred: uint32(na.PreferedLft),
			Permanent: na.Flags&unix.IFA_F_PERMANENT != 0,
		}
		if b, ok := netip.AddrFromSlice(na.Broadcast.To4()); ok && na.Broadcast != nil {
			a.Broadcast = b
		}
		as = append(as, a)
	}
	return as, nil
}

func ipnet(p netip.Prefix) *net.IPNet {
	a := p.Addr().As4()
	return &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}
}

func nlAddr(a Addr) *netlink.Addr {
	na := &netlink.Addr{IPNet: ipnet(a.Prefix), ValidLft: int(a.Valid), PreferedLft: int(a.Preferred)}
	if a.Broadcast.IsValid() {
		b := a.Broadcast.As4()
		na.Broadcast = net.IP(b[:])
	} else {
		na.Broadcast = net.IPv4zero // tells the library: no broadcast
	}
	return na
}

// ReplaceAddr implements Kernel.
func (n *Netlink) ReplaceAddr(l Link, a Addr) error { return n.h.AddrReplace(dev(l), nlAddr(a)) }

// DelAddr implements Kernel.
func (n *Netlink) DelAddr(l Link, a Addr) error { return n.h.AddrDel(dev(l), nlAddr(a)) }

// Routes implements Kernel.
func (n *Netlink) Routes(l Link, metric int) ([]Route, error) {
	filter := &netlink.Route{LinkIndex: l.Index, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_DHCP}
	nrs, err := n.h.RouteListFiltered(netlink.FAMILY_V4, filter,
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, err
	}
	var rs []Route
	for _, nr := range nrs {
		if nr.Priority != metric || nr.LinkIndex != l.Index || len(nr.MultiPath) > 0 {
			continue
		}
		r := Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), OnLink: nr.Flags&int(netlink.FLAG_ONLINK) != 0}
		if nr.Dst != nil {
			ip, ok := netip.AddrFromSlice(nr.Dst.IP.To4())
			if !ok {
				continue
			}
			bits, _ := nr.Dst.Mask.Size()
			r.Dst = netip.PrefixFrom(ip, bits)
		}
		if nr.Gw != nil {
			if gw, ok := netip.AddrFromSlice(nr.Gw.To4()); ok {
				r.Gateway = gw
			}
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func nlRoute(l Link, r Route, metric int) *netlink.Route {
	nr := &netlink.Route{
		LinkIndex: l.Index,
		Dst:       ipnet(r.Dst),
		Protocol:  unix.RTPROT_DHCP,
		Priority:  metric,
		Table:     unix.RT_TABLE_MAIN,
		Type:      unix.RTN_UNICAST,
		Scope:     netlink.SCOPE_UNIVERSE,
	}
	if r.Gateway.IsValid() {
		g := r.Gateway.As4()
		nr.Gw = net.IP(g[:])
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr
}

// ReplaceRoute implements Kernel.
func (n *Netlink) ReplaceRoute(l Link, r Route, metric int) error {
	return n.h.RouteReplace(nlRoute(l, r, metric))
}

// DelRoute implements Kernel.
func (n *Netlink) DelRoute(l Link, r Route, metric int) error {
	return n.h.RouteDel(nlRoute(l, r, metric))
}
