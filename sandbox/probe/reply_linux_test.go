package probe

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ndhc-go/ndhc/sandbox"
)

// FuzzReply: `ndhc audit` decodes what a probe child, running an attack,
// sends back. What parseReply accepts is a report alone or an outcome,
// and re-encodes to a reply that parses to the same.
func FuzzReply(f *testing.F) {
	rep := &sandbox.Report{Role: "engine", LandlockABI: 6, LandlockEnforced: []string{"fs"}, SeccompInstructions: 80}
	for _, r := range []childReply{{Report: rep}, {Err: "operation not permitted", Errno: 1}, {Setup: "prepare: no such file"}, {}} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"report":{"role":"x"},"errno":1}`))
	f.Add([]byte(`{"errno":-1}`))
	f.Add([]byte(`{"surprise":1}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(b)
		if err != nil {
			return
		}
		if r.Report != nil && (r.Err != "" || r.Errno != 0 || r.Setup != "") || r.Errno < 0 || r.Errno > 4095 {
			t.Fatalf("%q accepted as %+v", b, r)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%+v does not encode: %v", r, err)
		}
		r2, err := parseReply(again)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", again, err)
		}
		if d := cmp.Diff(r, r2, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%q: %s", b, d)
		}
	})
}
