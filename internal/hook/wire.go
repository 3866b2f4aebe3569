// Package hook is ndhc's hook role: it runs the operator's program (--hook)
// once per lease event, as an unprivileged user, with the event and the
// lease as one JSON object on its standard input, its argument vector and
// environment fixed by ndhc (nothing from the DHCP server in either), a
// timeout, and one run at a time from a bounded queue.
//
// The supervisor sends the role one fixed-size [Message] per event over
// the role's control channel and never reads anything from it; the role
// checks every message ([Message.UnmarshalBinary]) and exits on one that
// fails. The lease comes from the engine's lease file, through a read-only
// descriptor the supervisor opened at start-up; the engine writes that
// file, so it is decoded strictly (client.ParseLease) and a malformed one
// leaves the event without a lease.
package hook

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Kind is a lease event a hook is run for.
type Kind uint8

// The events, a stable set: hooks switch on their names.
const (
	// Bound: a new lease is configured on the interface.
	Bound Kind = 1 + iota
	// Renewed: the lease was renewed with its server (and configured
	// again).
	Renewed
	// Rebound: the lease was extended by another server (REBINDING).
	Rebound
	// Released: the lease was released (SIGUSR2, or on exit with
	// --release-on-exit).
	Released
	// Expired: the lease ended without a renewal.
	Expired
	// Lost: the lease was given up otherwise: a NAK, a changed gateway
	// after the carrier came back.
	Lost
	// Conflict: another host answered for the offered address; ndhc
	// declined it.
	Conflict
	// Stopped: ndhc is exiting (the last event of a run).
	Stopped
	numKinds
	// end is the supervisor's last message: run what is queued, then
	// exit. It is no hook event.
	end Kind = 255
)

var kindNames = [...]string{Bound: "bound", Renewed: "renewed", Rebound: "rebound", Released: "released",
	Expired: "expired", Lost: "lost", Conflict: "conflict", Stopped: "stopped"}

// String is the event's name: the hook's first argument and NDHC_EVENT.
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	if k == end {
		return "end"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Kinds lists every event, in order.
func Kinds() []Kind {
	out := make([]Kind, 0, numKinds-1)
	for k := Bound; k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// Message is one event from the supervisor.
type Message struct {
	Kind Kind
	// Addr is the address the event concerns (the lease's, the one in
	// conflict), or the zero value.
	Addr netip.Prefix
	// Time is when the supervisor saw the event.
	Time time.Time
}

// End is the message after which the role runs what it has queued and
// exits.
func End(t time.Time) Message { return Message{Kind: end, Time: t} }

// IsEnd reports whether m is the last message.
func (m Message) IsEnd() bool { return m.Kind == end }

// Size is the length of an encoded message:
//
//	 0     1      2      3   4      8                16
//	+-----+------+------+---+------+----------------+
//	| 'H' | kind | plen | 0 | IPv4 | unix time (ns) |
//	+-----+------+------+---+------+----------------+
//
// plen 255 means no address (and the address bytes are zero); the time
// is big-endian and positive.
const Size = 16

const (
	magic  = 'H'
	noAddr = 255
)

// MarshalBinary encodes m in Size bytes.
func (m Message) MarshalBinary() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	b := make([]byte, Size)
	b[0], b[1], b[2] = magic, byte(m.Kind), noAddr
	if m.Addr.IsValid() {
		b[2] = byte(m.Addr.Bits())
		a := m.Addr.Addr().As4()
		copy(b[4:8], a[:])
	}
	binary.BigEndian.PutUint64(b[8:], uint64(m.Time.UnixNano()))
	return b, nil
}

// UnmarshalBinary decodes exactly Size bytes and checks every field.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) != Size {
		return fmt.Errorf("hook: message of %d bytes, want %d", len(b), Size)
	}
	if b[0] != magic || b[3] != 0 {
		return errors.New("hook: bad magic or padding")
	}
	v := Message{Kind: Kind(b[1])}
	switch {
	case b[2] == noAddr:
		if [4]byte(b[4:8]) != ([4]byte{}) {
			return errors.New("hook: address bytes without a prefix length")
		}
	case b[2] <= 32:
		v.Addr = netip.PrefixFrom(netip.AddrFrom4([4]byte(b[4:8])), int(b[2]))
	default:
		return fmt.Errorf("hook: prefix length %d", b[2])
	}
	ns := int64(binary.BigEndian.Uint64(b[8:]))
	v.Time = time.Unix(0, ns)
	if ns <= 0 {
		return errors.New("hook: time out of range")
	}
	if err := v.check(); err != nil {
		return err
	}
	*m = v
	return nil
}

func (m Message) check() error {
	if (m.Kind == 0 || m.Kind >= numKinds) && m.Kind != end {
		return fmt.Errorf("hook: unknown event %d", uint8(m.Kind))
	}
	if m.Addr.IsValid() && (!m.Addr.Addr().Is4() || m.Kind == end) {
		return errors.New("hook: address")
	}
	if m.Time.UnixNano() <= 0 {
		return errors.New("hook: time out of range")
	}
	return nil
}
