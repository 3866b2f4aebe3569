package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// ClientConfig is what a client puts in the messages it sends
// (RFC 2131 section 4.4.1, table 5). Its Append methods build one message
// each into a caller buffer without allocating; they differ in which of
// ciaddr, option 50 (requested address) and option 54 (server identifier)
// the message carries, exactly as table 5 says. Every message starts with
// option 53 and carries the client identifier when set; DISCOVER, REQUEST and
// INFORM also carry 57, 55, 60 and 12 when set. Messages are padded with
// zeros to 300 octets, the BOOTP minimum some relays insist on
// (RFC 951, RFC 1542 section 2.1).
type ClientConfig struct {
	MAC            MAC          // chaddr (htype 1, hlen 6)
	ClientID       ClientID     // option 61; zero: omitted
	Hostname       Hostname     // option 12; zero: omitted
	VendorClass    []byte       // option 60, 1 to 255 octets; nil: omitted
	ParamRequest   []OptionCode // option 55, 1 to 255 codes; nil: omitted
	MaxMessageSize uint16       // option 57, at least MinMaxMessageSize; 0: omitted
	Broadcast      bool         // set the BROADCAST flag while the client has no address
}

// DefaultParamRequest returns the parameter request list ndhc sends: every
// option the client uses, in order of preference (RFC 2132 section 9.8), so
// 121 comes before 3: with classless routes the router option is ignored
// anyway (RFC 3442 section 2).
func DefaultParamRequest() []OptionCode {
	return []OptionCode{
		OptSubnetMask, OptClasslessRoutes, OptRouter, OptDNS, OptHostname, OptDomainName,
		OptInterfaceMTU, OptBroadcast, OptNTPServers, OptLeaseTime, OptServerID,
		OptRenewalTime, OptRebindingTime, OptDomainSearch,
	}
}

// minBOOTPLen is the smallest BOOTP message (RFC 951: a 64-octet vend field).
const minBOOTPLen = 300

// Validate reports a configuration the builders would reject: a vendor
// class or parameter request list of the wrong length, a parameter request
// list holding pad or end, or a maximum message size below 576. Every
// Append method checks it first; a client checks it once when it is set up.
func (c *ClientConfig) Validate() error {
	if n := len(c.VendorClass); c.VendorClass != nil && (n < 1 || n > 255) {
		return errors.New("dhcp: vendor class of " + strconv.Itoa(n) + " octets, want 1 to 255")
	}
	if n := len(c.ParamRequest); c.ParamRequest != nil && (n < 1 || n > 255) {
		return errors.New("dhcp: parameter request list of " + strconv.Itoa(n) + " codes, want 1 to 255")
	}
	for _, p := range c.ParamRequest {
		if p == OptPad || p == OptEnd {
			return errors.New("dhcp: parameter request list holds pad or end")
		}
	}
	if c.MaxMessageSize != 0 && c.MaxMessageSize < MinMaxMessageSize {
		return errors.New("dhcp: maximum message size " + strconv.Itoa(int(c.MaxMessageSize)) + " below 576")
	}
	return nil
}

func need4(a netip.Addr, what string) error {
	if !a.Is4() || a.IsUnspecified() {
		return errors.New("dhcp: " + what + " " + a.String() + " is not a specified IPv4 address")
	}
	return nil
}

// message is one outgoing message: the table 5 choices for it.
type message struct {
	typ       MessageType
	xid       uint32
	secs      uint16
	ciaddr    netip.Addr // invalid: 0
	requested netip.Addr // option 50; invalid: omitted
	server    netip.Addr // option 54; invalid: omitted
	params    bool       // 57, 55, 60, 12 allowed
}

func (c *ClientConfig) build(b []byte, m *message) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return b, err
	}
	start := len(b)
	var flags uint16
	if c.Broadcast && !m.ciaddr.IsValid() && m.params {
		flags = FlagBroadcast
	}
	b = append(b, byte(BootRequest), HTypeEthernet, HLenEthernet, 0)
	b = binary.BigEndian.AppendUint32(b, m.xid)
	b = binary.BigEndian.AppendUint16(b, m.secs)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = appendAddr(b, m.ciaddr)
	b = append(b, make([]byte, 12)...) // yiaddr, siaddr, giaddr
	b = append(b, c.MAC[:]...)
	b = append(b, make([]byte, 10+64+128)...) // chaddr padding, sname, file
	b = binary.BigEndian.AppendUint32(b, MagicCookie)

	b = append(b, byte(OptMessageType), 1, byte(m.typ))
	if !c.ClientID.IsZero() {
		b = append(b, byte(OptClientID), byte(c.ClientID.Len()))
		b = append(b, c.ClientID.s...)
	}
	if m.requested.IsValid() {
		a := m.requested.As4()
		b = append(b, byte(OptRequestedIP), 4, a[0], a[1], a[2], a[3])
	}
	if m.server.IsValid() {
		a := m.server.As4()
		b = append(b, byte(OptServerID), 4, a[0], a[1], a[2], a[3])
	}
	if m.params {
		if c.MaxMessageSize != 0 {
			b = append(b, byte(OptMaxMessageSize), 2)
			b = binary.BigEndian.AppendUint16(b, c.MaxMessageSize)
		}
		if c.ParamRequest != nil {
			b = append(b, byte(OptParamRequest), byte(len(c.ParamRequest)))
			for _, p := range c.ParamRequest {
				b = append(b, byte(p))
			}
		}
		if c.VendorClass != nil {
			b = append(b, byte(OptVendorClass), byte(len(c.VendorClass)))
			b = append(b, c.VendorClass...)
		}
		if !c.Hostname.IsZero() {
			b = append(b, byte(OptHostname), c.Hostname.n)
			b = append(b, c.Hostname.b[:c.Hostname.n]...)
		}
	}
	b = append(b, byte(OptEnd))
	for len(b)-start < minBOOTPLen {
		b = append(b, 0)
	}
	return b, nil
}

// AppendDiscover appends a DHCPDISCOVER to b. requested, if valid, is sent
// as option 50 (a previous address, RFC 2131 section 4.4.1).
func (c *ClientConfig) AppendDiscover(b []byte, xid uint32, secs uint16, requested netip.Addr) ([]byte, error) {
	if requested.IsValid() {
		if err := need4(requested, "requested address"); err != nil {
			return b, err
		}
	}
	return c.build(b, &message{typ: Discover, xid: xid, secs: secs, requested: requested, params: true})
}

// AppendRequestSelecting appends the DHCPREQUEST that accepts an offer
// (SELECTING state, RFC 2131 section 4.3.2): ciaddr 0, option 50 = offered,
// option 54 = server. Use the offer's xid.
func (c *ClientConfig) AppendRequestSelecting(b []byte, xid uint32, secs uint16, offered, server netip.Addr) ([]byte, error) {
	if err := need4(offered, "offered address"); err != nil {
		return b, err
	}
	if err := need4(server, "server identifier"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Request, xid: xid, secs: secs, requested: offered, server: server, params: true})
}

// AppendRequestInitReboot appends the DHCPREQUEST of the INIT-REBOOT state
// (RFC 2131 section 4.3.2): ciaddr 0, option 50 = the previous address, no
// server identifier. It is broadcast.
func (c *ClientConfig) AppendRequestInitReboot(b []byte, xid uint32, secs uint16, requested netip.Addr) ([]byte, error) {
	if err := need4(requested, "requested address"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Request, xid: xid, secs: secs, requested: requested, params: true})
}

// AppendRequestRenewing appends the DHCPREQUEST of the RENEWING state
// (RFC 2131 section 4.3.2): ciaddr = the leased address, no option 50 or 54.
// It is unicast to the server.
func (c *ClientConfig) AppendRequestRenewing(b []byte, xid uint32, secs uint16, ciaddr netip.Addr) ([]byte, error) {
	if err := need4(ciaddr, "client address"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Request, xid: xid, secs: secs, ciaddr: ciaddr, params: true})
}

// AppendRequestRebinding appends the DHCPREQUEST of the REBINDING state
// (RFC 2131 section 4.3.2): the same fields as renewing, but broadcast.
func (c *ClientConfig) AppendRequestRebinding(b []byte, xid uint32, secs uint16, ciaddr netip.Addr) ([]byte, error) {
	return c.AppendRequestRenewing(b, xid, secs, ciaddr)
}

// AppendDecline appends a DHCPDECLINE (RFC 2131 section 4.4.1): ciaddr 0,
// secs 0, option 50 = the declined address, option 54 = the server that
// offered it. No 55, 57, 60 or 12 (table 5: MUST NOT).
func (c *ClientConfig) AppendDecline(b []byte, xid uint32, declined, server netip.Addr) ([]byte, error) {
	if err := need4(declined, "declined address"); err != nil {
		return b, err
	}
	if err := need4(server, "server identifier"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Decline, xid: xid, requested: declined, server: server})
}

// AppendRelease appends a DHCPRELEASE (RFC 2131 section 4.4.6): ciaddr = the
// released address, secs 0, option 54 = the server, no option 50 (table 5:
// MUST NOT). It is unicast to the server.
func (c *ClientConfig) AppendRelease(b []byte, xid uint32, ciaddr, server netip.Addr) ([]byte, error) {
	if err := need4(ciaddr, "client address"); err != nil {
		return b, err
	}
	if err := need4(server, "server identifier"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Release, xid: xid, ciaddr: ciaddr, server: server})
}

// AppendInform appends a DHCPINFORM (RFC 2131 section 4.4.3): ciaddr = the
// client's externally configured address, no option 50 or 54.
func (c *ClientConfig) AppendInform(b []byte, xid uint32, secs uint16, ciaddr netip.Addr) ([]byte, error) {
	if err := need4(ciaddr, "client address"); err != nil {
		return b, err
	}
	return c.build(b, &message{typ: Inform, xid: xid, secs: secs, ciaddr: ciaddr, params: true})
}
