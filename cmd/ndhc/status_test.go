package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ndhc-go/ndhc/internal/engine"
)

// FuzzStatus: `ndhc status` prints, on the operator's terminal, a lease
// file that the engine (the role that parses the network's bytes) wrote.
// Whatever the file holds, the text is valid UTF-8 with no control
// character but newline and tab (no terminal escape gets through), and
// --json prints one valid JSON value.
func FuzzStatus(f *testing.F) {
	f.Add([]byte(`{}`))
	min := `{"version":1,"address":"10.0.0.5/8","server_id":"10.0.0.1","lease_seconds":600,"t1_seconds":300,"t2_seconds":525,"acquired":"2025-03-01T12:00:00Z"`
	f.Add([]byte(min + `}`))
	f.Add([]byte(min + `,"domain":"ex\u001b[31mample","hostname":"box\u009b"}`))
	f.Add([]byte(min + `,"domain":"example.org","search":["eng.example.org"],"hostname":"box","dns":["192.0.2.53"],"mtu":1400}`))
	top := f.TempDir()
	if err := os.Mkdir(filepath.Join(top, "eth0"), 0o700); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(top, "eth0", engine.LeaseFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		if statusCmd([]string{"-i", "eth0", "--state-dir", top}, &text) != 0 {
			return
		}
		out := text.Bytes()
		if !utf8.Valid(out) {
			t.Fatalf("%q: invalid UTF-8 in %q", b, out)
		}
		for _, r := range string(out) {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == utf8.RuneError) {
				t.Fatalf("%q: control character %U in %q", b, r, out)
			}
		}
		if statusCmd([]string{"-i", "eth0", "--state-dir", top, "--json"}, &js) != 0 {
			t.Fatalf("%q: text but no JSON", b)
		}
		if !json.Valid(js.Bytes()) {
			t.Fatalf("%q: --json printed %q", b, js.Bytes())
		}
	})
}
