package event

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

var goodEvents = []Event{
	{Kind: State, From: client.StateRequesting, To: client.StateBound, Addr: netip.MustParsePrefix("10.0.0.5/24"), Cause: "lease obtained"},
	{Kind: State, From: client.StateInit, To: client.StateSelecting},
	{Kind: Configured, Addr: netip.MustParsePrefix("192.0.2.7/32")},
	{Kind: Refused, Addr: netip.MustParsePrefix("192.0.2.7/8"), Cause: "out-of-range"},
	{Kind: Exiting, Reason: ReasonInterfaceRemoved},
	{Kind: Noted, Note: client.NoteConflict, Addr: netip.MustParsePrefix("10.0.0.9/32"), MAC: dhcp.MAC{2, 0, 0, 0, 0, 9}},
	{Kind: Noted, Note: client.NoteCarrierDown},
	{Kind: State, From: client.StateBound, To: client.StateInitReboot, Cause: "carrier up, gateway does not answer arp"},
	{Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{
		Acquired: 1_780_000_000_123, Seconds: 3600, T1: 1800, T2: 3150,
		Server: netip.MustParseAddr("10.0.0.1"), Router: netip.MustParseAddr("10.0.0.254"),
	}},
	{Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{Acquired: 1, Seconds: Infinite, T1: Infinite, T2: Infinite}},
}

func TestEventRoundTrip(t *testing.T) {
	for _, e := range goodEvents {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if len(b) != Size {
			t.Fatalf("%d bytes", len(b))
		}
		var got Event
		if err := got.UnmarshalBinary(b); err != nil || got != e {
			t.Fatalf("%+v -> %+v, %v", e, got, err)
		}
	}
}

func TestEventRefuses(t *testing.T) {
	for name, e := range map[string]Event{
		"unknown kind":            {Kind: 9},
		"same state":              {Kind: State, From: client.StateBound, To: client.StateBound},
		"state out of range":      {Kind: State, From: client.StateBound, To: 99},
		"cause with a capital":    {Kind: State, From: client.StateInit, To: client.StateSelecting, Cause: "Offer"},
		"cause with a newline":    {Kind: State, From: client.StateInit, To: client.StateSelecting, Cause: "a\nb"},
		"cause on a note":         {Kind: Noted, Note: client.NoteCarrierUp, Cause: "x"},
		"configured without addr": {Kind: Configured},
		"exiting without reason":  {Kind: Exiting},
		"reason on a state":       {Kind: State, From: client.StateInit, To: client.StateSelecting, Reason: ReasonStopped},
		"mac on a state":          {Kind: State, From: client.StateInit, To: client.StateSelecting, MAC: dhcp.MAC{1}},
		"note out of range":       {Kind: Noted, Note: client.NumNotes},
		"note with a subnet":      {Kind: Noted, Note: client.NoteGateway, Addr: netip.MustParsePrefix("10.0.0.0/8")},
		"IPv6 address":            {Kind: Configured, Addr: netip.MustParsePrefix("2001:db8::1/64")},
		"lease without address":   {Kind: Leased, Lease: LeaseInfo{Acquired: 1, Seconds: 10, T1: 5, T2: 8}},
		"lease t1 after t2":       {Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{Acquired: 1, Seconds: 10, T1: 9, T2: 8}},
		"lease t2 after expiry":   {Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{Acquired: 1, Seconds: 10, T1: 5, T2: 11}},
		"lease not acquired":      {Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{Seconds: 10, T1: 5, T2: 8}},
		"lease on a state":        {Kind: State, From: client.StateInit, To: client.StateSelecting, Lease: LeaseInfo{Acquired: 1}},
		"lease IPv6 server":       {Kind: Leased, Addr: netip.MustParsePrefix("10.0.0.5/24"), Lease: LeaseInfo{Acquired: 1, Server: netip.MustParseAddr("::1")}},
	} {
		if _, err := e.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	good, _ := goodEvents[0].MarshalBinary()
	for name, mutate := range map[string]func([]byte) []byte{
		"short":          func(b []byte) []byte { return b[:Size-1] },
		"long":           func(b []byte) []byte { return append(b, 0) },
		"magic":          func(b []byte) []byte { b[0] = 'X'; return b },
		"padding":        func(b []byte) []byte { b[19] = 1; return b },
		"prefix 33":      func(b []byte) []byte { b[6] = 33; return b },
		"no prefix":      func(b []byte) []byte { b[6] = noAddr; return b },
		"after cause":    func(b []byte) []byte { b[Size-1] = 'x'; return b },
		"cause not text": func(b []byte) []byte { b[21] = 0xff; return b },
	} {
		var e Event
		if err := e.UnmarshalBinary(mutate(bytes.Clone(good))); err == nil {
			t.Errorf("%s: decoded %+v", name, e)
		}
	}
	lease, _ := goodEvents[8].MarshalBinary()
	for name, mutate := range map[string]func([]byte) []byte{
		"lease padding":   func(b []byte) []byte { b[Size-1] = 1; return b },
		"lease t1 > t2":   func(b []byte) []byte { b[32] = 0xff; return b },
		"lease negative":  func(b []byte) []byte { b[20] = 0x80; return b },
		"lease with mac":  func(b []byte) []byte { b[12] = 1; return b },
		"lease no prefix": func(b []byte) []byte { b[6] = noAddr; return b },
	} {
		var e Event
		if err := e.UnmarshalBinary(mutate(bytes.Clone(lease))); err == nil {
			t.Errorf("%s: decoded %+v", name, e)
		}
	}
}

func TestNewLeaseInfo(t *testing.T) {
	at := time.UnixMilli(1_780_000_000_000)
	l := &client.Lease{
		Addr: netip.MustParsePrefix("10.0.0.5/24"), ServerID: netip.MustParseAddr("10.0.0.1"), Routers: []netip.Addr{netip.MustParseAddr("10.0.0.254")},
		LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 2 * time.Hour, Acquired: at,
	}
	li := NewLeaseInfo(l)
	want := LeaseInfo{Acquired: at.UnixMilli(), Seconds: 3600, T1: 1800, T2: 3600, Server: l.ServerID, Router: l.Routers[0]}
	if li != want {
		t.Fatalf("%+v, want %+v (T2 clamped to the lease time)", li, want)
	}
	if !li.Time(li.T1).Equal(at.Add(30*time.Minute)) || !li.Time(Infinite).IsZero() {
		t.Fatalf("times %v %v", li.Time(li.T1), li.Time(Infinite))
	}
	if _, err := (Event{Kind: Leased, Addr: l.Addr, Lease: li}).MarshalBinary(); err != nil {
		t.Fatal(err)
	}
}

func TestParseCommand(t *testing.T) {
	for _, c := range []Command{Renew, Release, Stop, Rebind} {
		if got, err := ParseCommand([]byte{byte(c)}); err != nil || got != c {
			t.Errorf("%q: %v, %v", c, got, err)
		}
	}
	for _, b := range [][]byte{nil, {'X'}, {'U', 'U'}} {
		if _, err := ParseCommand(b); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

// FuzzEvent: the supervisor decodes what a possibly compromised engine
// sends. An event that decodes encodes back to the same bytes.
func FuzzEvent(f *testing.F) {
	for _, e := range goodEvents {
		b, _ := e.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", e, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
	})
}

// FuzzParseCommand: the engine decodes the supervisor's one-byte commands.
// Exactly one known byte is accepted, and it is the command.
func FuzzParseCommand(f *testing.F) {
	for _, c := range []Command{Renew, Release, Stop, Rebind} {
		f.Add([]byte{byte(c)})
	}
	f.Add([]byte("UL"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		known := len(b) == 1 && (b[0] == byte(Renew) || b[0] == byte(Release) || b[0] == byte(Stop) || b[0] == byte(Rebind))
		if (err == nil) != known {
			t.Fatalf("%q: %v, %v", b, c, err)
		}
		if err == nil && byte(c) != b[0] {
			t.Fatalf("%q decoded as %q", b, c)
		}
	})
}
