package dhcp

import (
	"errors"
	"net/netip"
	"strconv"
	"time"
)

// clientReply is a BOOTREPLY that passed the client's checks, with the
// values it needs.
type clientReply struct {
	typ        MessageType
	server     netip.Addr
	yiaddr     netip.Addr
	shortLease bool // the lease time was raised to minLeaseSeconds

	mask                   netip.Addr
	hasLease, hasT1, hasT2 bool
	leaseSecs, t1, t2      uint32
	broadcast              netip.Addr
	mtu                    uint16
	domain                 DomainName
	hostname               Hostname
	nRouters, nDNS, nNTP   int
	nSearch, nRoutes       int
	routers, dns, ntp      [MaxAddrs]netip.Addr
	search                 [MaxSearchDomains]DomainName
	routes                 [MaxRoutes]Route
}

// parseReply checks m as a reply to the client's current exchange:
// BOOTREPLY, Ethernet, our xid and chaddr (RFC 2131 section 4.4.1), a
// message type of DHCPOFFER, DHCPACK or DHCPNAK, a unicast server
// identifier (RFC 2131 section 4.3.1, table 3), a client identifier equal
// to ours if it echoes one (RFC 6842 section 3), and, for an offer or ack, a
// unicast yiaddr and a lease time. Every option the lease uses is decoded
// and validated; a malformed one drops the message.
func (c *Client) parseReply(m *Message) (*clientReply, error) {
	if m.Op != BootReply {
		return nil, errors.New("dhcp: not a reply: op " + m.Op.String())
	}
	if m.HType != HTypeEthernet || m.HLen != HLenEthernet {
		return nil, errors.New("dhcp: not an ethernet reply")
	}
	if m.XID != c.xid {
		return nil, errors.New("dhcp: xid " + strconv.FormatUint(uint64(m.XID), 16) + " is not ours")
	}
	if MAC(m.CHAddr[:6]) != c.s.MAC {
		return nil, errors.New("dhcp: chaddr " + MAC(m.CHAddr[:6]).String() + " is not ours")
	}
	r := new(clientReply)
	r.yiaddr = m.YIAddr
	d := m.Options.Decoder()
	for d.Next() {
		switch d.Code() {
		case OptMessageType:
			r.typ = d.MessageType()
		case OptServerID:
			r.server = d.Addr()
		case OptClientID:
			if !c.s.ClientID.IsZero() && !c.s.ClientID.Matches(d.Bytes()) {
				return nil, errors.New("dhcp: client identifier is not ours")
			}
		case OptSubnetMask:
			r.mask = d.SubnetMask()
		case OptRouter:
			r.nRouters = d.Addrs(r.routers[:])
		case OptDNS:
			r.nDNS = d.Addrs(r.dns[:])
		case OptNTPServers:
			r.nNTP = d.Addrs(r.ntp[:])
		case OptHostname:
			r.hostname = d.Hostname()
		case OptDomainName:
			r.domain = d.DomainName()
		case OptInterfaceMTU:
			r.mtu = d.MTU()
		case OptBroadcast:
			r.broadcast = d.Addr()
		case OptLeaseTime:
			r.leaseSecs, r.hasLease = d.Uint32(), true
		case OptRenewalTime:
			r.t1, r.hasT1 = d.Uint32(), true
		case OptRebindingTime:
			r.t2, r.hasT2 = d.Uint32(), true
		case OptDomainSearch:
			r.nSearch = d.DomainSearch(r.search[:])
		case OptClasslessRoutes:
			r.nRoutes = d.Routes(r.routes[:])
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	switch r.typ {
	case Offer, Ack, Nak:
	case 0:
		return nil, errors.New("dhcp: reply without message type")
	default:
		return nil, errors.New("dhcp: " + r.typ.String() + " is not a reply")
	}
	if !r.server.IsValid() {
		return nil, errors.New("dhcp: " + r.typ.String() + " without server identifier")
	}
	if !usableUnicast(r.server) {
		return nil, errors.New("dhcp: server identifier " + r.server.String() + " is not unicast")
	}
	if r.typ == Nak {
		return r, nil
	}
	if !usableUnicast(r.yiaddr) {
		return nil, errors.New("dhcp: yiaddr " + r.yiaddr.String() + " is not unicast")
	}
	if !r.hasLease {
		return nil, errors.New("dhcp: " + r.typ.String() + " without lease time")
	}
	if r.leaseSecs == 0 {
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
	lease = r.leaseSecs
	if lease == infiniteSeconds {
		if r.hasT1 && r.hasT2 && 0 < r.t1 && r.t1 < r.t2 && r.t2 < infiniteSeconds {
			return lease, r.t1, r.t2
		}
		return lease, infiniteSeconds, infiniteSeconds
	}
	if lease < minLeaseSeconds {
		lease = minLeaseSeconds
		r.shortLease = true
	}
	d1, d2 := lease/2, uint32(uint64(lease)*7/8)
	t1, t2 = d1, d2
	if r.hasT1 && 0 < r.t1 && r.t1 < lease {
		t1 = r.t1
	}
	if r.hasT2 && 0 < r.t2 && r.t2 < lease {
		t2 = r.t2
	}
	if t1 >= t2 {
		t1, t2 = d1, d2
	}
	return lease, t1, t2
}

// lease builds the lease an offer or ack describes, starting at acquired,
// and validates it.
func (r *clientReply) lease(acquired time.Time) (*Lease, error) {
	bits := classfulBits(r.yiaddr)
	if r.mask.IsValid() {
		bits, _ = MaskBits(r.mask)
	}
	lease, t1, t2 := r.times()
	l := &Lease{
		Addr:      netip.PrefixFrom(r.yiaddr, bits),
		Broadcast: r.broadcast,
		DNS:       cloneAddrs(r.dns[:r.nDNS]),
		Domain:    r.domain,
		MTU:       r.mtu,
		Hostname:  r.hostname,
		NTP:       cloneAddrs(r.ntp[:r.nNTP]),
		ServerID:  r.server,
		LeaseTime: fromSeconds(lease),
		T1:        fromSeconds(t1),
		T2:        fromSeconds(t2),
		Acquired:  acquired,
	}
	if r.nRoutes > 0 {
		l.Routes = append([]Route(nil), r.routes[:r.nRoutes]...)
	} else {
		l.Routers = cloneAddrs(r.routers[:r.nRouters])
	}
	if r.nSearch > 0 {
		l.Search = append([]DomainName(nil), r.search[:r.nSearch]...)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

func cloneAddrs(a []netip.Addr) []netip.Addr {
	if len(a) == 0 {
		return nil
	}
	return append([]netip.Addr(nil), a...)
}
