package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/dnsrole"
)

// TestDecideDNS: ifchd writes its -resolv-conf in file and auto mode,
// nothing in none mode, and refuses resolved, and auto where the file is
// a running systemd-resolved's own.
func TestDecideDNS(t *testing.T) {
	root := t.TempDir()
	p := dnsrole.Paths{ResolvedDir: filepath.Join(root, "resolve"), ResolvedSocket: filepath.Join(root, "resolve", "io.systemd.Resolve")}
	if err := os.MkdirAll(p.ResolvedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", p.ResolvedSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stub := filepath.Join(p.ResolvedDir, "stub-resolv.conf")
	os.WriteFile(stub, nil, 0o644)
	link := filepath.Join(root, "resolv.conf")
	if err := os.Symlink(stub, link); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(root, "own.conf")

	for _, c := range []struct {
		dns, resolv, want string
		fails             bool
	}{
		{"auto", own, own, false},
		{"file", own, own, false},
		{"none", own, "", false},
		{"auto", "", "", false},
		{"auto", link, "", true},
		{"resolved", own, "", true},
		{"resolvconf", own, "", true},
	} {
		cfg := &config{dns: c.dns, resolvConf: c.resolv}
		err := cfg.decideDNS(p)
		if (err != nil) != c.fails {
			t.Errorf("-dns %s -resolv-conf %q: %v", c.dns, c.resolv, err)
			continue
		}
		if err == nil && cfg.resolvConf != c.want {
			t.Errorf("-dns %s: resolv-conf %q, want %q", c.dns, cfg.resolvConf, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ifchd: ") {
			t.Errorf("-dns %s: error %q does not name ifchd", c.dns, err)
		}
	}
}
