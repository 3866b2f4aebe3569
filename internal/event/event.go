// Package event is what ndhc reports about itself as typed values: the
// engine's state changes and outcomes, sent to the supervisor over the
// engine's control channel in a fixed binary form, and the records the
// supervisor writes, one JSON object a line, to the descriptor named by
// --event-fd, for service managers, scripts and the project's own tests.
//
// The engine parses everything the network sends, so the supervisor
// treats its messages as hostile: a message is exactly [Size] bytes, every
// field is checked, and a message that fails [Event.UnmarshalBinary] ends
// the engine.
package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

// Kind says what an engine event reports.
type Kind uint8

// Event kinds.
const (
	// State: the DHCP client moved from From to To, for Cause; Addr is
	// the lease's address and prefix when it holds one.
	State Kind = 1
	// Configured: ifch applied the lease (address Addr).
	Configured Kind = 2
	// Refused: ifch refused the lease (address Addr) with the code in
	// Cause; the interface keeps what it had.
	Refused Kind = 3
	// Exiting: the engine is about to exit; Reason says why.
	Exiting Kind = 4
	// Noted: the client noted Note, about Addr and MAC.
	Noted Kind = 5
	// Leased: the client bound or renewed the lease Addr; Lease carries
	// its server, router and timers (for the control socket's live
	// state).
	Leased Kind = 6
)

var kindNames = [...]string{State: "state", Configured: "configured", Refused: "refused", Exiting: "exiting", Noted: "note", Leased: "lease"}

// String returns the name records use for k.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Reason says why the engine exits.
type Reason uint8

// Exit reasons.
const (
	ReasonNone Reason = iota
	// ReasonStopped: asked to stop (SIGTERM, SIGINT, SIGHUP).
	ReasonStopped
	// ReasonOneShot: bound in one-shot mode.
	ReasonOneShot
	// ReasonInterfaceRemoved: the interface went away.
	ReasonInterfaceRemoved
	// ReasonSocketFailed: a socket sockd handed over failed.
	ReasonSocketFailed
	// ReasonPeerFailed: sockd, ifch or the supervisor broke its channel
	// or protocol.
	ReasonPeerFailed
	// ReasonClientFailed: the DHCP client could not go on (bad settings,
	// state directory).
	ReasonClientFailed
	maxReason
)

var reasonNames = [...]string{
	ReasonNone: "none", ReasonStopped: "stopped", ReasonOneShot: "one-shot", ReasonInterfaceRemoved: "interface-removed",
	ReasonSocketFailed: "socket-failed", ReasonPeerFailed: "peer-failed", ReasonClientFailed: "client-failed",
}

// String returns the name records use for r.
func (r Reason) String() string {
	if r < maxReason {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Event is one engine event.
type Event struct {
	Kind   Kind
	From   client.State // State: the state left
	To     client.State // State: the state entered
	Cause  string       // State: why; Refused: ifch's code (client.ValidCause)
	Reason Reason       // Exiting
	Note   client.NoteKind
	// Addr is the lease's address with its prefix length, or for a note
	// the address it concerns (a /32), or the zero value.
	Addr netip.Prefix
	MAC  dhcp.MAC // Noted: the hardware address concerned, or zero
	// Lease is a Leased event's lease: zero for every other kind.
	Lease LeaseInfo
}

// LeaseInfo is what a Leased event says about the lease beyond its
// address: whole seconds and milliseconds, so that an Event stays
// comparable and its encoding exact.
type LeaseInfo struct {
	// Acquired is when the lease starts, in Unix milliseconds (> 0).
	Acquired int64
	// Seconds, T1 and T2 are the lease time and the renewal and
	// rebinding times in seconds from Acquired; Infinite for an
	// infinite lease (and, for T1 and T2, for no renewal). T1 <= T2 <=
	// Seconds.
	Seconds, T1, T2 uint32
	// Server is the server identifier; Router the default gateway, or
	// the zero Addr.
	Server, Router netip.Addr
}

// Infinite is LeaseInfo's value of an infinite time.
const Infinite = ^uint32(0)

// NewLeaseInfo describes l for a Leased event.
func NewLeaseInfo(l *client.Lease) LeaseInfo {
	secs := func(d time.Duration) uint32 {
		if d == client.InfiniteLease || d/time.Second >= time.Duration(Infinite) {
			return Infinite
		}
		return uint32(max(d, 0) / time.Second)
	}
	li := LeaseInfo{Acquired: max(l.Acquired.UnixMilli(), 1), Seconds: secs(l.LeaseTime), T1: secs(l.T1), T2: secs(l.T2), Server: l.ServerID, Router: l.Gateway()}
	// The client keeps T1 <= T2 <= the lease time; clamped all the same,
	// so that an event never fails to encode.
	li.T2 = min(li.T2, li.Seconds)
	li.T1 = min(li.T1, li.T2)
	if !li.Server.Is4() || li.Server.IsUnspecified() {
		li.Server = netip.Addr{}
	}
	if !li.Router.Is4() || li.Router.IsUnspecified() {
		li.Router = netip.Addr{}
	}
	return li
}

// Time returns t seconds after the lease was acquired, or the zero Time
// for Infinite.
func (li LeaseInfo) Time(t uint32) time.Time {
	if t == Infinite {
		return time.Time{}
	}
	return time.UnixMilli(li.Acquired).Add(time.Duration(t) * time.Second)
}

func (li LeaseInfo) check() error {
	if li.Acquired <= 0 {
		return errors.New("event: lease acquired at or before 1970")
	}
	if li.T1 > li.T2 || li.T2 > li.Seconds && li.T2 != Infinite {
		return errors.New("event: lease timers out of order")
	}
	for _, a := range []netip.Addr{li.Server, li.Router} {
		if a.IsValid() && (!a.Is4() || a.IsUnspecified()) {
			return errors.New("event: lease server or router")
		}
	}
	return nil
}

// Size is the length of an encoded event:
//
//	 0     1      2      3    4       5     6      7     8      12     18    20
//	+-----+------+------+----+-------+-----+------+-----+------+------+-----+-------------+
//	| 'E' | kind | from | to |reason |note | plen | 0   | IPv4 | MAC  | 0 0 | cause (48)  |
//	+-----+------+------+----+-------+-----+------+-----+------+------+-----+-------------+
//
// plen 255 means no address (and the address bytes are zero); the cause
// is NUL-padded. A Leased event has no cause: its 48 bytes hold the
// lease, big-endian, zero-padded:
//
//	20         28      32   36   40       44       48
//	| acquired | secs  | t1 | t2 | server | router | 0 (20) |
//
// with a zero server or router meaning none.
const Size = 20 + client.MaxCause

const (
	magic  = 'E'
	noAddr = 255
)

// MarshalBinary encodes e in Size bytes.
func (e Event) MarshalBinary() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := make([]byte, Size)
	b[0], b[1], b[2], b[3], b[4], b[5] = magic, byte(e.Kind), byte(e.From), byte(e.To), byte(e.Reason), byte(e.Note)
	b[6] = noAddr
	if e.Addr.IsValid() {
		a := e.Addr.Addr().As4()
		copy(b[8:12], a[:])
		b[6] = byte(e.Addr.Bits())
	}
	copy(b[12:18], e.MAC[:])
	copy(b[20:], e.Cause)
	if e.Kind == Leased {
		l := e.Lease
		binary.BigEndian.PutUint64(b[20:], uint64(l.Acquired))
		binary.BigEndian.PutUint32(b[28:], l.Seconds)
		binary.BigEndian.PutUint32(b[32:], l.T1)
		binary.BigEndian.PutUint32(b[36:], l.T2)
		if l.Server.IsValid() {
			a := l.Server.As4()
			copy(b[40:44], a[:])
		}
		if l.Router.IsValid() {
			a := l.Router.As4()
			copy(b[44:48], a[:])
		}
	}
	return b, nil
}

// UnmarshalBinary decodes exactly Size bytes and checks every field.
func (e *Event) UnmarshalBinary(b []byte) error {
	if len(b) != Size {
		return fmt.Errorf("event: %d bytes, want %d", len(b), Size)
	}
	if b[0] != magic || b[7] != 0 || b[18] != 0 || b[19] != 0 {
		return errors.New("event: bad magic or padding")
	}
	v := Event{Kind: Kind(b[1]), From: client.State(b[2]), To: client.State(b[3]), Reason: Reason(b[4]), Note: client.NoteKind(b[5])}
	switch {
	case b[6] == noAddr:
		if [4]byte(b[8:12]) != ([4]byte{}) {
			return errors.New("event: address bytes without a prefix length")
		}
	case b[6] <= 32:
		v.Addr = netip.PrefixFrom(netip.AddrFrom4([4]byte(b[8:12])), int(b[6]))
	default:
		return fmt.Errorf("event: prefix length %d", b[6])
	}
	v.MAC = dhcp.MAC(b[12:18])
	if v.Kind == Leased {
		if err := v.unmarshalLease(b[20:]); err != nil {
			return err
		}
		*e = v
		return nil
	}
	cause, pad, _ := bytes.Cut(b[20:], []byte{0})
	if len(bytes.Trim(pad, "\x00")) != 0 {
		return errors.New("event: bytes after the cause")
	}
	v.Cause = string(cause)
	if err := v.check(); err != nil {
		return err
	}
	*e = v
	return nil
}

// unmarshalLease decodes and checks a Leased event's lease, the rest of v
// being decoded already.
func (v *Event) unmarshalLease(b []byte) error {
	if len(bytes.Trim(b[28:], "\x00")) != 0 {
		return errors.New("event: lease padding")
	}
	addr := func(x []byte) netip.Addr {
		if [4]byte(x) == ([4]byte{}) {
			return netip.Addr{}
		}
		return netip.AddrFrom4([4]byte(x))
	}
	acq := binary.BigEndian.Uint64(b)
	if acq > math.MaxInt64 {
		return errors.New("event: lease acquired time")
	}
	v.Lease = LeaseInfo{
		Acquired: int64(acq), Seconds: binary.BigEndian.Uint32(b[8:]), T1: binary.BigEndian.Uint32(b[12:]), T2: binary.BigEndian.Uint32(b[16:]),
		Server: addr(b[20:24]), Router: addr(b[24:28]),
	}
	return v.check()
}

// check enforces what each kind may carry.
func (e Event) check() error {
	if e.Addr.IsValid() && !e.Addr.Addr().Is4() {
		return errors.New("event: address is not IPv4")
	}
	if e.Kind != Leased && e.Lease != (LeaseInfo{}) {
		return errors.New("event: lease outside a lease event")
	}
	if !client.ValidCause(e.Cause) || (e.Cause != "" && e.Kind != State && e.Kind != Refused) {
		return fmt.Errorf("event: cause %q", e.Cause)
	}
	if e.MAC != (dhcp.MAC{}) && e.Kind != Noted {
		return errors.New("event: hardware address outside a note")
	}
	if e.Kind != State && (e.From != 0 || e.To != 0) {
		return fmt.Errorf("event: states in a %s event", e.Kind)
	}
	if (e.Kind == Exiting) != (e.Reason != ReasonNone) || e.Reason >= maxReason {
		return errors.New("event: exit reason")
	}
	if (e.Kind == Noted) != (e.Note != 0) || e.Note >= client.NumNotes {
		return errors.New("event: note")
	}
	switch e.Kind {
	case State:
		if !e.From.Valid() || !e.To.Valid() || e.From == e.To {
			return errors.New("event: state out of range")
		}
	case Leased:
		if !e.Addr.IsValid() {
			return errors.New("event: lease without an address")
		}
		return e.Lease.check()
	case Configured, Refused:
		if !e.Addr.IsValid() {
			return fmt.Errorf("event: %s without an address", e.Kind)
		}
	case Exiting:
		if e.Addr.IsValid() {
			return errors.New("event: address in an exiting event")
		}
	case Noted:
		if e.Addr.IsValid() && e.Addr.Bits() != 32 {
			return errors.New("event: a note's address is a host")
		}
	default:
		return fmt.Errorf("event: unknown kind %d", uint8(e.Kind))
	}
	return nil
}

// Command is a one-byte command from the supervisor to the engine.
type Command byte

// Commands, one per signal the supervisor relays.
const (
	Renew   Command = 'U' // SIGUSR1: renew now
	Release Command = 'L' // SIGUSR2: release the lease
	Stop    Command = 'T' // SIGTERM, SIGINT, SIGHUP: exit
	Rebind  Command = 'B' // the control socket's rebind: REBINDING now
)

// ParseCommand decodes a command message: exactly one known byte.
func ParseCommand(b []byte) (Command, error) {
	if len(b) == 1 {
		switch c := Command(b[0]); c {
		case Renew, Release, Stop, Rebind:
			return c, nil
		}
	}
	return 0, fmt.Errorf("event: malformed command %q", b)
}
