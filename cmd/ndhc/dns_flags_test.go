package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/config"
)

// TestDNSFlags: --dns is parsed and refused as documented, and the
// decision reaches ifch's and the dns role's configuration: only file
// mode gives ifch a resolv.conf, and the dns role connects to the
// socket's name inside its chroot.
func TestDNSFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"--dns", "resolvconf"},
		{"--dns", "systemd"},
		{"--dns", "resolved", "--ifchd", "/run/ifchd.sock"},
		{"--dbus-socket", "relative/bus"},
		{"--dbus-socket", "/bus"},
	} {
		c := newClientFlags()
		if err := c.parse(append([]string{"-i", "eth0"}, bad...)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	ifi := &net.Interface{Index: 7, Name: "eth0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	for _, c := range []struct {
		mode       string
		wantMode   config.DNSMode
		wantResolv string
	}{
		{"file", config.DNSFile, resolv},
		{"resolved", config.DNSResolved, ""},
		{"none", config.DNSNone, ""},
		{"auto", config.DNSFile, resolv}, // no systemd-resolved socket in tests' paths
	} {
		f := newClientFlags()
		if err := f.parse([]string{"-i", "eth0", "--dns", c.mode, "--resolv-conf", resolv, "--dbus-socket", "/run/bus/sock"}); err != nil {
			t.Fatal(err)
		}
		sc, err := f.instance(ifi, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Ifch.DNS != c.wantMode || sc.DNS.Mode != c.wantMode || sc.Ifch.ResolvConf != c.wantResolv || sc.DNS.Why == "" {
			t.Errorf("--dns %s: ifch %s %q, dns %s (%s); want %s %q", c.mode, sc.Ifch.DNS, sc.Ifch.ResolvConf, sc.DNS.Mode, sc.DNS.Why, c.wantMode, c.wantResolv)
		}
		if sc.DNS.Socket != "/sock" {
			t.Errorf("dns role socket %q, want /sock", sc.DNS.Socket)
		}
		p, err := f.roles.settings.Policy("dns")
		if err != nil || p.Chroot != "/run/bus" || strings.Join(p.Landlock.ConnectUnix, ",") != "/sock" {
			t.Errorf("dns policy chroot %q connect %v (%v), want /run/bus and /sock", p.Chroot, p.Landlock.ConnectUnix, err)
		}
	}
}
