package hook

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

func TestMessageRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	for _, m := range []Message{
		{Kind: Bound, Addr: netip.MustParsePrefix("10.0.0.5/24"), Time: now},
		{Kind: Stopped, Time: now},
		{Kind: Conflict, Addr: netip.MustParsePrefix("10.0.0.9/32"), Time: now},
		End(now),
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if got.Kind != m.Kind || got.Addr != m.Addr || !got.Time.Equal(m.Time) {
			t.Errorf("round trip %+v -> %+v", m, got)
		}
	}
	for _, k := range Kinds() {
		if k.String() == "" || bytes.HasPrefix([]byte(k.String()), []byte("kind(")) {
			t.Errorf("kind %d has no name", k)
		}
	}
}

func TestMessageRefused(t *testing.T) {
	good, _ := Message{Kind: Bound, Addr: netip.MustParsePrefix("10.0.0.5/24"), Time: time.Unix(1, 0)}.MarshalBinary()
	bad := map[string]func(b []byte) []byte{
		"short":          func(b []byte) []byte { return b[:Size-1] },
		"long":           func(b []byte) []byte { return append(b, 0) },
		"magic":          func(b []byte) []byte { b[0] = 'X'; return b },
		"kind 0":         func(b []byte) []byte { b[1] = 0; return b },
		"kind unknown":   func(b []byte) []byte { b[1] = byte(numKinds); return b },
		"prefix 33":      func(b []byte) []byte { b[2] = 33; return b },
		"padding":        func(b []byte) []byte { b[3] = 1; return b },
		"addr no prefix": func(b []byte) []byte { b[2] = noAddr; return b },
		"time zero":      func(b []byte) []byte { clear(b[8:]); return b },
		"time negative":  func(b []byte) []byte { b[8] = 0x80; return b },
		"end with addr":  func(b []byte) []byte { b[1] = byte(end); return b },
	}
	for name, f := range bad {
		var m Message
		if err := m.UnmarshalBinary(f(bytes.Clone(good))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzMessage: the decoder never panics, and what it accepts encodes back
// to the same bytes.
func FuzzMessage(f *testing.F) {
	for _, m := range []Message{
		{Kind: Bound, Addr: netip.MustParsePrefix("10.0.0.5/24"), Time: time.Unix(1700000000, 1)},
		{Kind: Stopped, Time: time.Unix(1, 0)},
		End(time.Unix(2, 0)),
	} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add(make([]byte, Size))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted %x but cannot encode %+v: %v", b, m, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, m, again)
		}
	})
}
