package linkev

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	var b []byte
	b = AppendMessage(b, 3, Event{Up: true, Carrier: true})
	b = AppendMessage(b, 4, Event{Up: true})
	b = AppendMessage(b, 3, Event{Up: true})
	b = AppendMessage(b, 3, Event{Removed: true})
	got, err := Parse(b, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Up: true, Carrier: true}, {Up: true}, {Removed: true}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestParseErrors(t *testing.T) {
	ok := AppendMessage(nil, 3, Event{Up: true})
	bad := func(f func([]byte)) []byte { b := append([]byte(nil), ok...); f(b); return b }
	for name, b := range map[string][]byte{
		"short header":   ok[:10],
		"length zero":    bad(func(b []byte) { b[0], b[1], b[2], b[3] = 0, 0, 0, 0 }),
		"length too big": bad(func(b []byte) { b[0] = 200 }),
		"short body":     bad(func(b []byte) { b[0] = 20 })[:20],
		"error message":  bad(func(b []byte) { b[4], b[5] = 2, 0 }),
	} {
		if _, err := Parse(b, 3); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParse: every event parsed re-encodes to a datagram that parses to
// the same events.
func FuzzParse(f *testing.F) {
	f.Add(AppendMessage(AppendMessage(nil, 3, Event{Up: true, Carrier: true}), 3, Event{Removed: true}))
	f.Add(AppendMessage(nil, 9, Event{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Parse(b, 3)
		if err != nil {
			return
		}
		var again []byte
		for _, e := range evs {
			again = AppendMessage(again, 3, e)
		}
		evs2, err := Parse(again, 3)
		if err != nil {
			t.Fatalf("re-encoded events do not parse: %v", err)
		}
		if d := cmp.Diff(evs, evs2); d != "" {
			t.Fatal(d)
		}
	})
}
