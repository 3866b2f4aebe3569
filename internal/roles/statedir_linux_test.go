package roles

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadDUID: the supervisor reads the host's DUID from the state
// directory before it starts the engines. A file of 3 to 130 bytes (RFC
// 8415's bounds: a type and at most 128 bytes) is used as it is; any other
// is an error and stays as it is, never replaced.
func FuzzLoadDUID(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("loadDUID gives the file to root: needs root")
	}
	f.Add([]byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0, 1})
	f.Add(bytes.Repeat([]byte{7}, 131))
	f.Add([]byte{})
	path := filepath.Join(f.TempDir(), "duid")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := loadDUID(path)
		if ok := len(b) >= 3 && len(b) <= 130; (err == nil) != ok {
			t.Fatalf("%d bytes: %v", len(b), err)
		}
		if err == nil && !bytes.Equal(got, b) {
			t.Fatalf("%x loaded as %x", b, got)
		}
		if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, b) {
			t.Fatalf("%x: the file became %x (%v)", b, now, err)
		}
	})
}

// FuzzValidInterfaceName: the names the supervisor turns into state
// directory paths. An accepted name stays one path element inside the
// directory.
func FuzzValidInterfaceName(f *testing.F) {
	for _, s := range []string{"eth0", ".", "..", "a/b", "", "0123456789abcdef", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidInterfaceName(s) {
			return
		}
		top := "/var/lib/ndhc"
		p := filepath.Join(top, s)
		if filepath.Dir(p) != top || filepath.Base(p) != s || len(s) > 15 {
			t.Fatalf("%q accepted: %s", s, p)
		}
	})
}
