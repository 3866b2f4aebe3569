package dnsrole

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/config"
)

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "file", "resolved", "none"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("%q: %q %v", s, m, err)
		}
	}
	if _, err := ParseMode("resolvconf"); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("resolvconf: %v, want a refusal that says why", err)
	}
	for _, s := range []string{"", "Auto", "systemd"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// fakeHost lays out a resolved directory with its socket (when running)
// and a resolv.conf that is a symlink to target (or a regular file when
// target is empty).
func fakeHost(t *testing.T, running bool, target string) Paths {
	t.Helper()
	root := t.TempDir()
	p := Paths{ResolvedDir: filepath.Join(root, "run/systemd/resolve"), ResolvConf: filepath.Join(root, "etc/resolv.conf")}
	p.ResolvedSocket = filepath.Join(p.ResolvedDir, "io.systemd.Resolve")
	for _, d := range []string{p.ResolvedDir, filepath.Dir(p.ResolvConf)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(p.ResolvedDir, "stub-resolv.conf"), []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if running {
		ln, err := net.Listen("unix", p.ResolvedSocket)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	if target == "" {
		if err := os.WriteFile(p.ResolvConf, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Symlink(filepath.Join(root, target), p.ResolvConf); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	stub := "run/systemd/resolve/stub-resolv.conf"
	for _, c := range []struct {
		name    string
		mode    config.DNSMode
		running bool
		target  string
		want    config.DNSMode
	}{
		{"auto, resolved runs and owns resolv.conf", config.DNSAuto, true, stub, config.DNSResolved},
		{"auto, resolved not running", config.DNSAuto, false, stub, config.DNSFile},
		{"auto, resolved runs, resolv.conf a plain file", config.DNSAuto, true, "", config.DNSFile},
		{"auto, resolved runs, resolv.conf links elsewhere", config.DNSAuto, true, "run/systemd/resolve/../../other", config.DNSFile},
		{"file stays file", config.DNSFile, true, stub, config.DNSFile},
		{"resolved stays resolved", config.DNSResolved, false, "", config.DNSResolved},
		{"none stays none", config.DNSNone, true, stub, config.DNSNone},
	} {
		p := fakeHost(t, c.running, c.target)
		if c.target != "" && c.target != stub {
			os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(p.ResolvConf)), "run/other"), []byte("x"), 0o644)
		}
		got, why := Decide(c.mode, p)
		if got != c.want || why == "" {
			t.Errorf("%s: %s (%s), want %s", c.name, got, why, c.want)
		}
	}
	if got, _ := Decide(config.DNSAuto, Paths{ResolvedSocket: "/nonexistent", ResolvedDir: "/nonexistent"}); got != config.DNSNone {
		t.Errorf("auto with no resolv.conf path: %s, want none", got)
	}
}
