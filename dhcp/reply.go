package dhcp

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
)

// Capacities of a [Reply]. A list of addresses longer than MaxAddrs keeps
// its first MaxAddrs ([Reply.Cut]); any other list that does not fit is
// malformed.
const (
	MaxAddrs         = 16 // routers, DNS servers, NTP servers
	MaxSearchDomains = 16 // option 119 names
	MaxRoutes        = 32 // option 121 routes
)

// Reply is a validated BOOTREPLY (DHCPOFFER, DHCPACK or DHCPNAK): the
// message and the typed values of the options a client uses. Every option
// listed below that is present has been validated; a field is zero when its
// option is absent (use Has to tell a zero value from an absent one where
// that matters). All storage is fixed-size: [ParseReply] does not allocate.
// Reply is large (about 12 KiB); reuse one and pass it by pointer.
type Reply struct {
	Msg Message

	Type          MessageType // option 53
	ServerID      netip.Addr  // option 54
	SubnetMask    netip.Addr  // option 1, contiguous
	Broadcast     netip.Addr  // option 28
	MTU           uint16      // option 26, at least MinMTU
	LeaseTime     uint32      // option 51, seconds; 0xffffffff is infinite
	RenewalTime   uint32      // option 58, T1 in seconds
	RebindingTime uint32      // option 59, T2 in seconds
	DomainName    DomainName  // option 15
	Hostname      Hostname    // option 12

	nRouters, nDNS, nNTP, nSearch, nRoutes, nDropped, nCut uint8

	routers [MaxAddrs]netip.Addr
	dns     [MaxAddrs]netip.Addr
	ntp     [MaxAddrs]netip.Addr
	search  [MaxSearchDomains]DomainName
	routes  [MaxRoutes]Route
	dropped [maxDropped]OptionError
	cut     [3]OptionError
}

// maxDropped is the number of options a reply can drop: each droppable
// option appears at most once in a decoded message.
const maxDropped = 16

// Dropped returns the malformed options the reply dropped, in message
// order, each with the reason. A reply keeps what is valid: a malformed
// option the lease can do without (routers, DNS servers, NTP servers, host
// and domain names, the search list, classless routes, MTU, broadcast
// address, T1 and T2, and options 50 and 57, which a client does not use)
// is dropped and its field left as if absent, so that one bad optional
// field does not leave the machine without an address. A malformed message
// type, server identifier, lease time, subnet mask or client identifier
// still rejects the reply: without them the lease is unusable or not
// known to be ours.
func (r *Reply) Dropped() []OptionError { return r.dropped[:r.nDropped] }

// Cut lists the address options (routers, DNS and NTP servers) that held
// more than [MaxAddrs] addresses: the reply keeps the first MaxAddrs, as
// other clients keep the first few, rather than losing the whole list.
func (r *Reply) Cut() []OptionError { return r.cut[:r.nCut] }

// addrsUpTo decodes an address option into dst, keeping the first
// len(dst) addresses and noting a longer list in Cut.
func (r *Reply) addrsUpTo(d *OptionDecoder, dst []netip.Addr) uint8 {
	n, left := d.AddrsUpTo(dst)
	if left > 0 && int(r.nCut) < len(r.cut) {
		r.cut[r.nCut] = OptionError{Code: d.Code(), Err: errors.New(strconv.Itoa(n+left) + " addresses, kept the first " + strconv.Itoa(n))}
		r.nCut++
	}
	return uint8(n)
}

// droppable reports whether a malformed option code is dropped rather than
// rejecting the reply (see [Reply.Dropped]).
func droppable(code OptionCode) bool {
	switch code {
	case OptRouter, OptDNS, OptNTPServers, OptHostname, OptDomainName, OptInterfaceMTU,
		OptBroadcast, OptRenewalTime, OptRebindingTime, OptDomainSearch, OptClasslessRoutes,
		OptRequestedIP, OptMaxMessageSize:
		return true
	}
	return false
}

// Routers returns the routers of option 3 (RFC 2132 section 3.5). If option
// 121 is present the client must ignore them (RFC 3442 section 2).
func (r *Reply) Routers() []netip.Addr { return r.routers[:r.nRouters] }

// DNS returns the domain name servers of option 6 (RFC 2132 section 3.8).
func (r *Reply) DNS() []netip.Addr { return r.dns[:r.nDNS] }

// NTPServers returns the NTP servers of option 42 (RFC 2132 section 8.3).
func (r *Reply) NTPServers() []netip.Addr { return r.ntp[:r.nNTP] }

// SearchList returns the domain search list of option 119 (RFC 3397).
func (r *Reply) SearchList() []DomainName { return r.search[:r.nSearch] }

// Routes returns the classless static routes of option 121 (RFC 3442).
func (r *Reply) Routes() []Route { return r.routes[:r.nRoutes] }

// Has reports whether the reply carries option code, and false for an
// option it dropped as malformed ([Reply.Dropped]).
func (r *Reply) Has(code OptionCode) bool {
	for _, oe := range r.Dropped() {
		if oe.Code == code {
			return false
		}
	}
	return r.Msg.Options.Has(code)
}

// PrefixLen returns the prefix length of the subnet mask, and false if the
// reply has no subnet mask.
func (r *Reply) PrefixLen() (int, bool) { return MaskBits(r.SubnetMask) }

// ParseReply decodes b, a DHCP message from a UDP payload, as a reply to an
// Ethernet client, into r. On top of the checks of [Message.UnmarshalBinary]
// it requires op BOOTREPLY, htype 1 and hlen 6 (RFC 2131 section 2), a
// message type of DHCPOFFER, DHCPACK or DHCPNAK, and a server identifier
// (RFC 2131 section 4.3.1, table 3), and it validates the options the typed
// fields of r hold, plus 50, 57 and 61 when present; a malformed optional
// option is dropped and listed in [Reply.Dropped] rather than failing the
// reply. Matching xid, chaddr
// and client identifier against the client's own is the caller's job.
//
// ParseReply does not allocate, except for the error it returns. On error
// *r is zeroed.
func ParseReply(b []byte, r *Reply) error {
	if err := r.parse(b); err != nil {
		*r = Reply{}
		return err
	}
	return nil
}

// FromMessage takes m, a message already decoded by
// [Message.UnmarshalBinary], as a reply: the checks and typed values of
// [ParseReply] without decoding the bytes again. On error *r is zeroed.
func (r *Reply) FromMessage(m *Message) error {
	r.Msg = *m
	if err := r.check(); err != nil {
		*r = Reply{}
		return err
	}
	return nil
}

func (r *Reply) parse(b []byte) error {
	if err := r.Msg.UnmarshalBinary(b); err != nil {
		return err
	}
	return r.check()
}

// check validates r.Msg as a reply and fills the typed fields.
func (r *Reply) check() error {
	m := &r.Msg
	if m.Op != BootReply {
		return errors.New("dhcp: not a reply: op " + m.Op.String())
	}
	if m.HType != HTypeEthernet || m.HLen != HLenEthernet {
		return errors.New("dhcp: not an ethernet reply")
	}
	r.Type = 0
	r.ServerID, r.SubnetMask, r.Broadcast = netip.Addr{}, netip.Addr{}, netip.Addr{}
	r.MTU, r.LeaseTime, r.RenewalTime, r.RebindingTime = 0, 0, 0, 0
	r.DomainName.reset()
	r.Hostname.reset()
	r.nRouters, r.nDNS, r.nNTP, r.nSearch, r.nRoutes, r.nDropped, r.nCut = 0, 0, 0, 0, 0, 0, 0

	d := m.Options.Decoder()
	for d.Next() {
		switch d.Code() {
		case OptMessageType:
			r.Type = d.MessageType()
		case OptServerID:
			r.ServerID = d.Addr()
		case OptSubnetMask:
			r.SubnetMask = d.SubnetMask()
		case OptRouter:
			r.nRouters = r.addrsUpTo(&d, r.routers[:])
		case OptDNS:
			r.nDNS = r.addrsUpTo(&d, r.dns[:])
		case OptNTPServers:
			r.nNTP = r.addrsUpTo(&d, r.ntp[:])
		case OptHostname:
			d.hostnameInto(&r.Hostname)
		case OptDomainName:
			d.domainNameInto(&r.DomainName)
		case OptInterfaceMTU:
			r.MTU = d.MTU()
		case OptBroadcast:
			r.Broadcast = d.Addr()
		case OptLeaseTime:
			r.LeaseTime = d.Uint32()
		case OptRenewalTime:
			r.RenewalTime = d.Uint32()
		case OptRebindingTime:
			r.RebindingTime = d.Uint32()
		case OptDomainSearch:
			r.nSearch = uint8(d.DomainSearch(r.search[:]))
		case OptClasslessRoutes:
			r.nRoutes = uint8(d.Routes(r.routes[:]))
		case OptRequestedIP:
			d.Addr()
		case OptMaxMessageSize:
			d.MaxMessageSize()
		case OptClientID:
			if err := checkClientID(d.Bytes()); err != nil {
				d.fail(err)
			}
		}
		if d.Err() != nil && droppable(d.Code()) && int(r.nDropped) < maxDropped {
			r.drop(d.recover())
		}
	}
	if err := d.Err(); err != nil {
		return err
	}
	switch r.Type {
	case Offer, Ack, Nak:
	case 0:
		return errors.New("dhcp: reply without message type")
	default:
		return errors.New("dhcp: " + r.Type.String() + " is not a reply")
	}
	if !r.ServerID.IsValid() {
		return errors.New("dhcp: " + r.Type.String() + " without server identifier")
	}
	return nil
}

// drop records oe and clears the field of its option.
func (r *Reply) drop(oe *OptionError) {
	if oe == nil {
		return
	}
	r.dropped[r.nDropped] = *oe
	r.nDropped++
	switch oe.Code {
	case OptRouter:
		r.nRouters = 0
	case OptDNS:
		r.nDNS = 0
	case OptNTPServers:
		r.nNTP = 0
	case OptHostname:
		r.Hostname.reset()
	case OptDomainName:
		r.DomainName.reset()
	case OptInterfaceMTU:
		r.MTU = 0
	case OptBroadcast:
		r.Broadcast = netip.Addr{}
	case OptRenewalTime:
		r.RenewalTime = 0
	case OptRebindingTime:
		r.RebindingTime = 0
	case OptDomainSearch:
		r.nSearch = 0
	case OptClasslessRoutes:
		r.nRoutes = 0
	}
}

// Equal reports whether r and s hold the same message and values.
func (r *Reply) Equal(s *Reply) bool {
	return r.Msg.Equal(&s.Msg) && r.Type == s.Type && r.ServerID == s.ServerID &&
		r.SubnetMask == s.SubnetMask && r.Broadcast == s.Broadcast && r.MTU == s.MTU &&
		r.LeaseTime == s.LeaseTime && r.RenewalTime == s.RenewalTime && r.RebindingTime == s.RebindingTime &&
		r.DomainName == s.DomainName && r.Hostname == s.Hostname &&
		slices.Equal(r.Routers(), s.Routers()) && slices.Equal(r.DNS(), s.DNS()) &&
		slices.Equal(r.NTPServers(), s.NTPServers()) && slices.Equal(r.SearchList(), s.SearchList()) &&
		slices.Equal(r.Routes(), s.Routes()) &&
		slices.EqualFunc(r.Dropped(), s.Dropped(), func(a, b OptionError) bool { return a.Code == b.Code })
}
