package sandbox

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func readyBytes(t testing.TB, rep *Report) []byte {
	b, err := marshalReady(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseReady(t *testing.T) {
	rep := &Report{Role: "engine", LandlockABI: 7, LandlockEnforced: []string{"fs"}, SeccompInstructions: 52}
	rep.Status.NoNewPrivs, rep.Status.Seccomp = 1, 2
	got, err := ParseReady(readyBytes(t, rep))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rep, got); d != "" {
		t.Fatal(d)
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"wrong type":    []byte(`X{}`),
		"unknown field": []byte(`R{"role":"x","surprise":1}`),
		"trailing data": []byte(`R{"role":"x"}{}`),
		"not json":      []byte(`R{`),
	} {
		if _, err := ParseReady(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseReady: the ready notice is the first thing a parent reads from
// a child. A notice that parses re-encodes to one that parses to the same
// report.
func FuzzParseReady(f *testing.F) {
	f.Add(readyBytes(f, &Report{Role: "sockd", LandlockABI: 2, LandlockMissing: []string{"net.tcp (ABI 4)"}}))
	f.Add([]byte(`R{"role":"x","status":{"uid":[1,1,1,1]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := ParseReady(b)
		if err != nil {
			return
		}
		again, err := ParseReady(readyBytes(t, rep))
		if err != nil {
			t.Fatalf("re-encoded notice does not parse: %v", err)
		}
		// An empty list and an omitted one say the same: the encoder
		// omits empty lists, so "[]" comes back as none (the fuzzer's
		// first finding, seed empty-list-vs-omitted).
		if d := cmp.Diff(rep, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatal(d)
		}
	})
}
