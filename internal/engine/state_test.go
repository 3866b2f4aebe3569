package engine

import (
	"bytes"
	"log/slog"
	"os"
	"testing"

	"github.com/ndhc-go/ndhc/dhcp/client"
)

// FuzzStateFiles: the engine reads its saved lease and IAID from its state
// directory, which an earlier (possibly compromised) run of the engine
// wrote. A lease is used only when it parses, an IAID only when it has four
// bytes, a malformed file is left as it is, never replaced, and only an
// empty IAID file (not made yet) is filled.
func FuzzStateFiles(f *testing.F) {
	f.Add([]byte(`{}`), []byte{1, 2, 3, 4})
	f.Add([]byte("not json"), []byte{1, 2, 3})
	f.Add([]byte{}, []byte{})
	f.Add([]byte(`{"address":"192.0.2.7"}`), []byte{0, 0, 0, 0, 0})
	st := stateDir{dir: f.TempDir()}
	f.Fuzz(func(t *testing.T, lease, iaid []byte) {
		for name, b := range map[string][]byte{LeaseFile: lease, IAIDFile: iaid} {
			if err := os.WriteFile(st.path(name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		l := st.loadLease(slog.New(slog.DiscardHandler))
		want, werr := client.ParseLease(lease)
		if (l != nil) != (werr == nil) {
			t.Fatalf("lease %q: loaded %v, parse error %v", lease, l != nil, werr)
		}
		if l != nil && !l.Equal(want) {
			t.Fatalf("lease %q: loaded %+v, parses to %+v", lease, l, want)
		}
		made := false
		got, err := st.loadOrCreate(IAIDFile, func() ([]byte, error) {
			made = true
			return []byte{9, 9, 9, 9}, nil
		}, func(b []byte) bool { return len(b) == 4 })
		if made != (len(iaid) == 0) {
			t.Fatalf("iaid %x: made %v, want a new one only for an empty file", iaid, made)
		}
		if made {
			iaid = []byte{9, 9, 9, 9}
		}
		if (err == nil) != (len(iaid) == 4) || err == nil && !bytes.Equal(got, iaid) {
			t.Fatalf("iaid %x: got %x, %v", iaid, got, err)
		}
		for name, b := range map[string][]byte{LeaseFile: lease, IAIDFile: iaid} {
			now, err := os.ReadFile(st.path(name))
			if err != nil || !bytes.Equal(now, b) {
				t.Fatalf("%s changed: %q -> %q, %v", name, b, now, err)
			}
		}
		if ents, _ := os.ReadDir(st.dir); len(ents) != 2 {
			t.Fatalf("%d files in the state directory, want 2", len(ents))
		}
	})
}
