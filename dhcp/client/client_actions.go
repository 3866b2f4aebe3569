package client

import (
	"log/slog"
	"net/netip"

	"github.com/ndhc-go/ndhc/dhcp"
)

// Action is a side effect the [Client] asks its caller to carry out, in the
// order returned. The set is closed: [SendDHCP], [SendARP], [Sockets],
// [Configure], [Deconfigure], [SaveLease], [ForgetLease], [Log] and [Exit].
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

// Sockets tells the engine which sockets it must hold from now on. The
// client emits it only when the set changes, and always before the first
// action that needs a socket of the new set.
type Sockets struct {
	// Raw is the AF_PACKET DHCP socket: receives replies while the client
	// has no address, and sends every broadcast.
	Raw bool
	// UDP is a UDP socket bound to the leased address, port 68: sends
	// unicast requests and releases and receives unicast replies
	// (RENEWING).
	UDP bool
	// ARP is the AF_PACKET ARP socket that sees every ARP packet: during
	// the conflict check and while the gateway's hardware address is
	// learned or checked.
	ARP bool
	// ARPDefense is the ARP socket that sees only conflicts for the leased
	// address (RFC 5227 section 2.4). It is open while the address is
	// configured and the ARP socket is not: the two are never open at once,
	// so no packet reaches the client twice.
	ARPDefense bool
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

// Exit asks the engine to exit with Code after carrying out the actions
// before it. Code is [ExitOK] for one-shot completion and for Stop, and
// [ExitFailure] when the client cannot continue (an invalid setting that
// [Settings.Validate] would have reported).
type Exit struct {
	Code   int
	Reason string
}

// Exit codes of [Exit].
const (
	ExitOK      = 0
	ExitFailure = 1
)

func (SendDHCP) isAction()    {}
func (SendARP) isAction()     {}
func (Sockets) isAction()     {}
func (Configure) isAction()   {}
func (Deconfigure) isAction() {}
func (SaveLease) isAction()   {}
func (ForgetLease) isAction() {}
func (Log) isAction()         {}
func (Exit) isAction()        {}

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
)
