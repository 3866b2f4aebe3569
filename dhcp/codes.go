package dhcp

import "strconv"

// Opcode is the op field of a BOOTP/DHCP message (RFC 2131 section 2).
type Opcode uint8

// Opcodes (RFC 951, RFC 2131 section 2).
const (
	BootRequest Opcode = 1 // client to server
	BootReply   Opcode = 2 // server to client
)

// String returns the RFC name of o.
func (o Opcode) String() string {
	switch o {
	case BootRequest:
		return "BOOTREQUEST"
	case BootReply:
		return "BOOTREPLY"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// HTypeEthernet is the htype of 10 Mb (and every later) Ethernet, from the
// ARP hardware type registry (RFC 1700); HLenEthernet is its address length.
const (
	HTypeEthernet = 1
	HLenEthernet  = 6
)

// FlagBroadcast is the BROADCAST bit of the flags field (RFC 2131 section 2,
// figure 2): the client cannot receive unicast IP datagrams before it has an
// address.
const FlagBroadcast uint16 = 0x8000

// MagicCookie is the first four octets of the vendor/options field
// (RFC 2131 section 3; 99.130.83.99).
const MagicCookie uint32 = 0x63825363

// Ports of the DHCP server and client (RFC 2131 section 4.1).
const (
	ServerPort = 67
	ClientPort = 68
)

// MinMessageLen is the smallest message this package accepts: the fixed
// header (236 octets), the magic cookie and at least the End option.
const MinMessageLen = 241

// MessageType is the value of option 53 (RFC 2132 section 9.6).
type MessageType uint8

// DHCP message types (RFC 2132 section 9.6).
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

// String returns the RFC name of t.
func (t MessageType) String() string {
	switch t {
	case Discover:
		return "DHCPDISCOVER"
	case Offer:
		return "DHCPOFFER"
	case Request:
		return "DHCPREQUEST"
	case Decline:
		return "DHCPDECLINE"
	case Ack:
		return "DHCPACK"
	case Nak:
		return "DHCPNAK"
	case Release:
		return "DHCPRELEASE"
	case Inform:
		return "DHCPINFORM"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// OptionCode is a DHCP option tag (RFC 2132 section 2).
type OptionCode uint8

// Option codes handled by this package, with the section of the RFC that
// defines each. Codes 0 and 255 are framing (pad and end), never options.
const (
	OptPad             OptionCode = 0   // RFC 2132 3.1
	OptSubnetMask      OptionCode = 1   // RFC 2132 3.3
	OptRouter          OptionCode = 3   // RFC 2132 3.5
	OptDNS             OptionCode = 6   // RFC 2132 3.8, domain name servers
	OptHostname        OptionCode = 12  // RFC 2132 3.14
	OptDomainName      OptionCode = 15  // RFC 2132 3.17
	OptInterfaceMTU    OptionCode = 26  // RFC 2132 5.1
	OptBroadcast       OptionCode = 28  // RFC 2132 5.3
	OptNTPServers      OptionCode = 42  // RFC 2132 8.3
	OptRequestedIP     OptionCode = 50  // RFC 2132 9.1
	OptLeaseTime       OptionCode = 51  // RFC 2132 9.2
	OptOverload        OptionCode = 52  // RFC 2132 9.3
	OptMessageType     OptionCode = 53  // RFC 2132 9.6
	OptServerID        OptionCode = 54  // RFC 2132 9.7
	OptParamRequest    OptionCode = 55  // RFC 2132 9.8
	OptMessage         OptionCode = 56  // RFC 2132 9.9
	OptMaxMessageSize  OptionCode = 57  // RFC 2132 9.10
	OptRenewalTime     OptionCode = 58  // RFC 2132 9.11, T1
	OptRebindingTime   OptionCode = 59  // RFC 2132 9.12, T2
	OptVendorClass     OptionCode = 60  // RFC 2132 9.13
	OptClientID        OptionCode = 61  // RFC 2132 9.14, RFC 4361
	OptDomainSearch    OptionCode = 119 // RFC 3397
	OptClasslessRoutes OptionCode = 121 // RFC 3442
	OptEnd             OptionCode = 255 // RFC 2132 3.2
)

// String returns a short name for c, or its number.
func (c OptionCode) String() string {
	switch c {
	case OptPad:
		return "pad"
	case OptSubnetMask:
		return "subnet mask"
	case OptRouter:
		return "router"
	case OptDNS:
		return "domain name servers"
	case OptHostname:
		return "host name"
	case OptDomainName:
		return "domain name"
	case OptInterfaceMTU:
		return "interface mtu"
	case OptBroadcast:
		return "broadcast address"
	case OptNTPServers:
		return "ntp servers"
	case OptRequestedIP:
		return "requested ip address"
	case OptLeaseTime:
		return "lease time"
	case OptOverload:
		return "option overload"
	case OptMessageType:
		return "message type"
	case OptServerID:
		return "server identifier"
	case OptParamRequest:
		return "parameter request list"
	case OptMessage:
		return "message"
	case OptMaxMessageSize:
		return "maximum message size"
	case OptRenewalTime:
		return "renewal time"
	case OptRebindingTime:
		return "rebinding time"
	case OptVendorClass:
		return "vendor class identifier"
	case OptClientID:
		return "client identifier"
	case OptDomainSearch:
		return "domain search"
	case OptClasslessRoutes:
		return "classless static routes"
	case OptEnd:
		return "end"
	}
	return "option " + strconv.Itoa(int(c))
}
