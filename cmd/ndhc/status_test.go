package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"golang.org/x/sys/unix"
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

// TestStatusNoLeaseJSON: with --json, status prints JSON even without a
// lease, takes any valid interface name (a VLAN's has a dot), and says
// whether a client holds the interface's lock.
func TestStatusNoLeaseJSON(t *testing.T) {
	top := t.TempDir()
	var js bytes.Buffer
	if code := statusCmd([]string{"-i", "eth0.100", "--state-dir", top, "--json"}, &js); code != exitcode.Failure {
		t.Fatalf("status of a VLAN interface without a lease exits %d, want %d", code, exitcode.Failure)
	}
	var st statusJSON
	if err := json.Unmarshal(js.Bytes(), &st); err != nil {
		t.Fatalf("--json without a lease printed %q: %v", js.String(), err)
	}
	if st.Interface != "eth0.100" || st.Lease != nil && string(st.Lease) != "null" || st.Running == nil || *st.Running {
		t.Errorf("status = %+v, want eth0.100, no lease, not running", st)
	}
	// A client holds the lock: status says it runs.
	lock, err := os.OpenFile(filepath.Join(top, "eth0.100.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	js.Reset()
	statusCmd([]string{"-i", "eth0.100", "--state-dir", top, "--json"}, &js)
	st = statusJSON{}
	if err := json.Unmarshal(js.Bytes(), &st); err != nil || st.Running == nil || !*st.Running {
		t.Errorf("with the lock held: %q (%v), want running", js.String(), err)
	}
	for _, bad := range []string{"..", "a/b", "waytoolonginterfacename"} {
		if code := statusCmd([]string{"-i", bad, "--state-dir", top}, io.Discard); code != exitcode.Usage {
			t.Errorf("status -i %q exits %d, want %d", bad, code, exitcode.Usage)
		}
	}
}
