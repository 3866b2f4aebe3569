package client

import (
	"log/slog"
	"net/netip"
	"strconv"

	"github.com/ndhc-go/ndhc/dhcp"
)

// Action is a side effect the [Client] asks its caller to carry out, in the
// order returned. The set is closed: [SendDHCP], [SendARP], [Sockets],
// [Configure], [Deconfigure], [SaveLease], [ForgetLease], [Log], [Transition], [Note] and [Exit].
// A caller switches on the type and treats any other type as a bug.
type Action interface{ isAction() }

// SendDHCP asks the engine to send one DHCP message (a BOOTREQUEST built by
// the [dhcp.ClientConfig] builders, padded to 300 octets).
//
// With Unicast zero, the message goes out on the raw socket as an IPv4/UDP
// broadcast: from Source:68 (0.0.0.0 when Source is zero) to
// 255.255.255.255:67, Ethernet destination ff:ff:ff:ff:ff:ff (RFC 2131
// section 4.1). Source is set only in REBINDING, when the client holds an
// address (RFC 1122 section 3.2.1.3).
//
// With Unicast set, it goes out on the UDP socket bound to the leased
// address, port 68, to Unicast:67 (RENEWING and DHCPRELEASE, RFC 2131
// sections 4.4.5 and 4.4.6). The client has asked for that socket with a
// [Sockets] action before.
type SendDHCP struct {
	Packet  []byte
	Unicast netip.Addr
	Source  netip.Addr
}

// SendARP asks the engine to send one ARP packet (RFC 826) to the Ethernet
// broadcast address, on whichever of the ARP and ARP defense sockets is
// open; the client makes sure one of them is (RFC 5227 sections 2.1 to 2.4,
// RFC 4436).
type SendARP struct {
	Frame dhcp.ARP
}

// Socket names one of the sockets the client works with. It is also the
// kind the engine asks sockd for, so the set has one spelling from the
// state machine to the broker's wire format.
type Socket uint8

// The client's sockets.
const (
	// SocketRaw is the AF_PACKET DHCP socket: receives replies while the
	// client has no address, and sends every broadcast.
	SocketRaw Socket = 1 + iota
	// SocketUDP is a UDP socket bound to the leased address, port 68:
	// sends unicast requests and releases and receives unicast replies
	// (RENEWING).
	SocketUDP
	// SocketARP is the AF_PACKET ARP socket that sees every ARP packet:
	// during the conflict check and while the gateway's hardware address
	// is learned or checked.
	SocketARP
	// SocketARPDefense is the ARP socket that sees only conflicts for the
	// leased address (RFC 5227 section 2.4). It is open while the address
	// is configured and SocketARP is not: the two are never open at once,
	// so no packet reaches the client twice.
	SocketARPDefense
	// NumSockets bounds the Socket values: arrays indexed by Socket have
	// this length.
	NumSockets
)

// String names k as logs and the sockd protocol documentation do.
func (k Socket) String() string {
	switch k {
	case SocketRaw:
		return "dhcp-raw"
	case SocketUDP:
		return "udp"
	case SocketARP:
		return "arp"
	case SocketARPDefense:
		return "arp-defense"
	}
	return "socket(" + strconv.Itoa(int(k)) + ")"
}

// Bound reports whether a socket of kind k is bound to the leased
// address (and so needs one).
func (k Socket) Bound() bool { return k == SocketUDP || k == SocketARPDefense }

// SocketSet is a set of sockets.
type SocketSet uint8

// SocketsOf returns the set holding ks.
func SocketsOf(ks ...Socket) SocketSet {
	var s SocketSet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s SocketSet) Has(k Socket) bool { return k < NumSockets && s&(1<<k) != 0 }

// String lists the set, for logs and test failures.
func (s SocketSet) String() string {
	out := "{"
	for k := SocketRaw; k < NumSockets; k++ {
		if s.Has(k) {
			if len(out) > 1 {
				out += " "
			}
			out += k.String()
		}
	}
	return out + "}"
}

// Sockets tells the engine which sockets it must hold from now on. The
// client emits it only when the set or the address changes, and always
// before the first action that needs a socket of the new set. Addr is
// the address the bound sockets (SocketUDP, SocketARPDefense) use: the
// lease's address when the action was emitted, even if the same call
// then releases the lease (a DHCPRELEASE goes out through the UDP
// socket of the address it releases). Server is the lease's server
// identifier when SocketUDP is open: the UDP socket reaches that server
// and no other (every unicast SendDHCP goes to it).
type Sockets struct {
	Open   SocketSet
	Addr   netip.Addr
	Server netip.Addr
}

// Configure asks the engine to make the interface match Lease: address,
// prefix, broadcast, routes, DNS and the rest, with the lease's lifetimes.
// It carries the whole desired state, never a change: it is emitted after
// every DHCPACK, including renewals, so that lifetimes and options the
// server changed take effect.
type Configure struct {
	Lease *Lease
}

// Deconfigure asks the engine to remove everything the last Configure set.
type Deconfigure struct{}

// SaveLease asks the engine to write Lease to the lease file.
type SaveLease struct {
	Lease *Lease
}

// ForgetLease asks the engine to remove the lease file.
type ForgetLease struct{}

// Log is one log line. Msg is a fixed string of the client's own; values,
// including anything the server sent, are in Attrs, for the logger to
// quote.
type Log struct {
	Level slog.Level
	Msg   string
	Attrs []slog.Attr
}

// Transition reports that the client changed state, with the lease's
// address when it holds one and the cause: a short fixed phrase of the
// client's own ("t1", "dhcpnak", "lease obtained"), never server data.
// It follows the Log line that says the same for people; the engine turns
// it into a typed event for the supervisor.
type Transition struct {
	From, To State
	Addr     netip.Prefix
	Cause    string
}

// Note reports something notable that is not a state change, with the
// address and hardware address it concerns, for the same typed event
// stream as Transition.
type Note struct {
	Kind NoteKind
	Addr netip.Addr
	MAC  dhcp.MAC
}

// NoteKind says what a Note reports.
type NoteKind uint8

// Notes.
const (
	// NoteConflict: another host (MAC) answered for the address being
	// checked (Addr); the client declines it.
	NoteConflict NoteKind = 1 + iota
	// NoteGateway: the gateway (Addr) answered ARP from MAC after binding.
	NoteGateway
	// NoteGatewaySame: after the carrier came back, the gateway answered
	// from the same MAC: the lease is kept (RFC 4436).
	NoteGatewaySame
	// NoteGatewayChanged: after the carrier came back, the gateway
	// answered from another MAC: the client reboots the lease.
	NoteGatewayChanged
	// NoteCarrierDown and NoteCarrierUp: the link's carrier changed.
	NoteCarrierDown
	NoteCarrierUp
	// NoteLeaseExpired: the lease of Addr ended without a renewal.
	NoteLeaseExpired
	// NumNotes bounds the NoteKind values.
	NumNotes
)

// String names k as the event stream does.
func (k NoteKind) String() string {
	switch k {
	case NoteConflict:
		return "conflict"
	case NoteGateway:
		return "gateway"
	case NoteGatewaySame:
		return "gateway-same"
	case NoteGatewayChanged:
		return "gateway-changed"
	case NoteCarrierDown:
		return "carrier-down"
	case NoteCarrierUp:
		return "carrier-up"
	case NoteLeaseExpired:
		return "lease-expired"
	}
	return "note(" + strconv.Itoa(int(k)) + ")"
}

// Exit asks the engine to exit after carrying out the actions before it.
// Why says whether the client finished ([ExitStopped], [ExitOneShot]) or
// cannot continue ([ExitFailed], with Err saying why: an invalid setting
// that [Settings.Validate] would have reported). The engine turns it
// into the process's exit status.
type Exit struct {
	Why ExitReason
	Err error
}

// ExitReason says why the client asks to exit.
type ExitReason uint8

// Exit reasons.
const (
	ExitStopped ExitReason = iota // Stop was called
	ExitOneShot                   // bound in one-shot mode
	ExitFailed                    // the client cannot continue
)

// String names r for logs.
func (r ExitReason) String() string {
	switch r {
	case ExitStopped:
		return "stopped"
	case ExitOneShot:
		return "one-shot lease obtained"
	case ExitFailed:
		return "failed"
	}
	return "exitreason(" + strconv.Itoa(int(r)) + ")"
}

func (SendDHCP) isAction()    {}
func (SendARP) isAction()     {}
func (Sockets) isAction()     {}
func (Configure) isAction()   {}
func (Deconfigure) isAction() {}
func (SaveLease) isAction()   {}
func (ForgetLease) isAction() {}
func (Log) isAction()         {}
func (Exit) isAction()        {}
func (Transition) isAction()  {}
func (Note) isAction()        {}

var (
	_ Action = SendDHCP{}
	_ Action = SendARP{}
	_ Action = Sockets{}
	_ Action = Configure{}
	_ Action = Deconfigure{}
	_ Action = SaveLease{}
	_ Action = ForgetLease{}
	_ Action = Log{}
	_ Action = Exit{}
	_ Action = Transition{}
	_ Action = Note{}
)

// MaxCause bounds a Transition's cause.
const MaxCause = 48

// ValidCause reports whether s can be a Transition's cause: at most
// MaxCause bytes of lower-case letters, digits, spaces, hyphens and
// commas. The engine sends causes to the supervisor, which checks them
// with this function too.
func ValidCause(s string) bool {
	if len(s) > MaxCause {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ' ' || c == '-' || c == ',') {
			return false
		}
	}
	return true
}
