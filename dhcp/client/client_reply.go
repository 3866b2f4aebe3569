package client

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// clientReply is a BOOTREPLY that passed the client's checks.
type clientReply struct {
	dhcp.Reply
	shortLease bool // the lease is shorter than shortLeaseSeconds
}

// parseReply checks m as a reply to the client's current exchange: the
// codec's reply checks ([dhcp.Reply.FromMessage]: BOOTREPLY, Ethernet, a message
// type of DHCPOFFER, DHCPACK or DHCPNAK, a server identifier, every option
// the lease uses decoded and validated), then our xid and chaddr (RFC 2131
// section 4.4.1), a unicast server identifier (RFC 2131 section 4.3.1,
// table 3), a client identifier equal to ours if it echoes one (RFC 6842
// section 3), and, for an offer or ack, a unicast yiaddr and a non-zero
// lease time. A malformed option the lease can do without is dropped and
// the rest of the reply kept ([dhcp.Reply.Dropped]); any other malformed
// option drops the message.
//
// The reply returned is the client's own scratch space, valid until the
// next call.
func (c *Client) parseReply(m *dhcp.Message) (*clientReply, error) {
	if m.XID != c.xid {
		return nil, errors.New("dhcp: xid " + strconv.FormatUint(uint64(m.XID), 16) + " is not ours")
	}
	if dhcp.MAC(m.CHAddr[:6]) != c.s.MAC {
		return nil, errors.New("dhcp: chaddr " + dhcp.MAC(m.CHAddr[:6]).String() + " is not ours")
	}
	// The reply lives only while the message is handled (a lease copies
	// what it keeps), so the client decodes every one into the same 12 kB.
	r := &c.reply
	*r = clientReply{}
	if err := r.FromMessage(m); err != nil {
		return nil, err
	}
	if id, ok := r.Msg.Options.Get(dhcp.OptClientID); ok && !c.s.ClientID.IsZero() && !c.s.ClientID.Matches(id) {
		return nil, errors.New("dhcp: client identifier is not ours")
	}
	if !usableUnicast(r.ServerID) {
		return nil, errors.New("dhcp: server identifier " + r.ServerID.String() + " is not unicast")
	}
	if r.Type == dhcp.Nak {
		return r, nil
	}
	if !usableUnicast(r.Msg.YIAddr) {
		return nil, errors.New("dhcp: yiaddr " + r.Msg.YIAddr.String() + " is not unicast")
	}
	if !r.Has(dhcp.OptLeaseTime) {
		return nil, errors.New("dhcp: " + r.Type.String() + " without lease time")
	}
	if r.LeaseTime == 0 {
		return nil, errors.New("dhcp: lease time 0")
	}
	return r, nil
}

// classfulBits returns the prefix length of the class of a (RFC 791
// section 2.3), used when a reply has no subnet mask.
func classfulBits(a netip.Addr) int {
	switch b := a.As4(); {
	case b[0] < 128:
		return 8
	case b[0] < 192:
		return 16
	}
	return 24
}

// times returns the lease time, T1 and T2 in seconds. T1 and T2 default to
// 0.5 and 0.875 of the lease (RFC 2131 section 4.4.5). A T1 or T2 from
// options 58 and 59 is used when it is in (0, lease); one that is absent or
// outside takes its default; and if the result does not have T1 < T2, both
// take their defaults. So a lone T1 is used if it is below 0.875 of the
// lease, and a lone T2 if it is above half of it. An infinite lease gets
// infinite T1 and T2 unless the server sent both, finite and ordered.
func (r *clientReply) times() (lease, t1, t2 uint32) {
	lease = r.LeaseTime
	if lease == infiniteSeconds {
		if r.Has(dhcp.OptRenewalTime) && r.Has(dhcp.OptRebindingTime) && 0 < r.RenewalTime && r.RenewalTime < r.RebindingTime && r.RebindingTime < infiniteSeconds {
			return lease, r.RenewalTime, r.RebindingTime
		}
		return lease, infiniteSeconds, infiniteSeconds
	}
	if lease < shortLeaseSeconds {
		r.shortLease = true
	}
	d1, d2 := lease/2, uint32(uint64(lease)*7/8)
	t1, t2 = d1, d2
	if r.Has(dhcp.OptRenewalTime) && 0 < r.RenewalTime && r.RenewalTime < lease {
		t1 = r.RenewalTime
	}
	if r.Has(dhcp.OptRebindingTime) && 0 < r.RebindingTime && r.RebindingTime < lease {
		t2 = r.RebindingTime
	}
	if t1 >= t2 {
		t1, t2 = d1, d2
	}
	return lease, t1, t2
}

// lease builds the lease an offer or ack describes, starting at acquired,
// and validates it. A router, DNS or NTP server or broadcast address that
// is not a usable unicast (or, for broadcast, IPv4) address is left out and
// passed to drop, with the list it came from, so that one bad entry does
// not cost the lease; the other entries are kept.
func (r *clientReply) lease(acquired time.Time, ignoreClassless bool, drop func(what string, a netip.Addr)) (*Lease, error) {
	bits := classfulBits(r.Msg.YIAddr)
	if r.SubnetMask.IsValid() {
		bits, _ = dhcp.MaskBits(r.SubnetMask)
	}
	lease, t1, t2 := r.times()
	l := &Lease{
		Addr:      netip.PrefixFrom(r.Msg.YIAddr, bits),
		Broadcast: r.Broadcast,
		DNS:       unicastOnly("dns", r.DNS(), drop),
		Domain:    r.DomainName,
		MTU:       r.MTU,
		Hostname:  r.Hostname,
		NTP:       unicastOnly("ntp", r.NTPServers(), drop),
		ServerID:  r.ServerID,
		LeaseTime: fromSeconds(lease),
		T1:        fromSeconds(t1),
		T2:        fromSeconds(t2),
		Acquired:  acquired,
	}
	if rs := r.Routes(); len(rs) > 0 && !ignoreClassless {
		l.Routes = append([]dhcp.Route(nil), rs...)
	} else {
		l.Routers = unicastOnly("router", r.Routers(), drop)
	}
	if b := l.Broadcast; b.IsValid() && (!b.Is4() || b.IsUnspecified()) {
		drop("broadcast", b)
		l.Broadcast = netip.Addr{}
	}
	if ss := r.SearchList(); len(ss) > 0 {
		l.Search = append([]dhcp.DomainName(nil), ss...)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// unicastOnly returns a copy of as without the addresses that are not
// usable unicast IPv4 (0.0.0.0, loopback, multicast, broadcast), each of
// which it passes to drop.
func unicastOnly(what string, as []netip.Addr, drop func(string, netip.Addr)) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		if usableUnicast(a) {
			out = append(out, a)
		} else {
			drop(what, a)
		}
	}
	return out
}
