package ifch

import (
	"net/netip"
	"strconv"
)

// MaxMessageSize bounds every message in both directions, in bytes, the
// final LF included. A receiver reads at most MaxMessageSize+1 bytes per
// datagram so that it can tell an oversized message from a full one.
const MaxMessageSize = 4096

// MaxReasonLen bounds the reason text of an error reply, in bytes.
const MaxReasonLen = 200

// MaxIfnameLen is the longest interface name Linux accepts (IFNAMSIZ-1).
const MaxIfnameLen = 15

// A Command is one request to ifch. The set is closed: Configure,
// Deconfigure, Carrier and Up.
type Command interface {
	isCommand()
	// Iface returns the interface the command is about.
	Iface() string
	// MarshalText encodes the command in its one canonical form, or fails
	// when a field cannot be written in the grammar.
	MarshalText() ([]byte, error)
}

var (
	_ Command = (*Configure)(nil)
	_ Command = (*Deconfigure)(nil)
	_ Command = (*Carrier)(nil)
	_ Command = (*Up)(nil)
)

// Lifetime is an address lifetime in seconds. Forever is the infinite
// lifetime of RFC 2131 section 3.3 (a lease time of 0xffffffff); on the wire
// it is the keyword "infinite". Any other value above MaxLifetime cannot be
// handed to the kernel and is refused by Policy.Validate.
type Lifetime uint64

// Forever is the infinite lifetime.
const Forever Lifetime = 1<<64 - 1

// MaxLifetime is the longest finite lifetime the kernel can represent: its
// 32-bit lifetime fields reserve 0xffffffff for "infinite".
const MaxLifetime Lifetime = 0xfffffffe

// String returns "infinite" or the number of seconds.
func (l Lifetime) String() string {
	if l == Forever {
		return "infinite"
	}
	return strconv.FormatUint(uint64(l), 10)
}

// A Route is one classless static route (RFC 3442). A zero (0.0.0.0)
// Gateway means the destination is on-link.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// Configure is the whole desired IPv4 state of an interface. The engine
// always sends all of it; ifch converges to it. Optional fields are absent
// when they hold their zero value.
type Configure struct {
	Interface string
	// Address is the leased address with the subnet's prefix length
	// (RFC 2131 yiaddr, RFC 2132 option 1).
	Address netip.Prefix
	// Broadcast is RFC 2132 option 28; zero: derived from Address.
	Broadcast netip.Addr
	// Router is the default gateway (RFC 2132 option 3, first entry);
	// zero: no default route unless Routes has one.
	Router netip.Addr
	// Routes are the classless static routes (RFC 3442, option 121).
	Routes []Route
	// DNS are the name servers (RFC 2132 option 6), in order.
	DNS []netip.Addr
	// Domain is RFC 2132 option 15; empty: none.
	Domain string
	// Search is the domain search list (RFC 3397, option 119).
	Search []string
	// MTU is RFC 2132 option 26; 0: the interface keeps its own MTU.
	MTU uint32
	// Hostname is RFC 2132 option 12; empty: none.
	Hostname string
	// Valid and Preferred are the remaining address lifetimes, counted
	// from when the message is sent.
	Valid, Preferred Lifetime
}

// Deconfigure removes everything ifch installed on the interface.
type Deconfigure struct {
	Interface string
}

// Carrier asks whether the interface has carrier (IFF_UP and IFF_RUNNING).
type Carrier struct {
	Interface string
}

// Up sets the interface administratively up, which the engine needs before
// its first DHCPDISCOVER. It changes nothing else.
type Up struct {
	Interface string
}

func (*Configure) isCommand()   {}
func (*Deconfigure) isCommand() {}
func (*Carrier) isCommand()     {}
func (*Up) isCommand()          {}

// Iface returns c.Interface.
func (c *Configure) Iface() string { return c.Interface }

// Iface returns c.Interface.
func (c *Deconfigure) Iface() string { return c.Interface }

// Iface returns c.Interface.
func (c *Carrier) Iface() string { return c.Interface }

// Iface returns c.Interface.
func (c *Up) Iface() string { return c.Interface }

// CarrierState is the answer to a Carrier query.
type CarrierState uint8

// The carrier states. CarrierNone marks a reply that is not about carrier.
const (
	CarrierNone CarrierState = iota
	CarrierUp
	CarrierDown
)

// Reply is ifch's answer to one command: success (Code == CodeOK, with
// Carrier set for a Carrier query) or a refusal with a reason.
type Reply struct {
	Code    Code
	Reason  string       // empty on success
	Carrier CarrierState // CarrierNone except in the reply to Carrier
}

// Err returns nil for a successful reply, else an error wrapping the code.
func (r *Reply) Err() error {
	if r.Code == CodeOK {
		return nil
	}
	return &ReplyError{Code: r.Code, Reason: r.Reason}
}

// A ReplyError is a refusal received from ifch.
type ReplyError struct {
	Code   Code
	Reason string
}

// Error returns "ifch: refused: CODE: REASON".
func (e *ReplyError) Error() string { return "ifch: refused: " + e.Code.String() + ": " + e.Reason }

// Unwrap returns the code.
func (e *ReplyError) Unwrap() error { return e.Code }

// ReplyFor builds the reply for the outcome err of a command: CodeOK for nil,
// else the code of err (see CodeOf) and a reason made from err's text, cut to
// MaxReasonLen and with every byte outside printable ASCII replaced by '?'.
func ReplyFor(err error) Reply {
	if err == nil {
		return Reply{}
	}
	return Reply{Code: CodeOf(err), Reason: sanitizeReason(err.Error())}
}

func sanitizeReason(s string) string {
	if len(s) > MaxReasonLen {
		s = s[:MaxReasonLen]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) == 0 {
		return "no reason given"
	}
	return string(b)
}
