package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/lab"
	"golang.org/x/sys/unix"
)

// TestLabInheritedDescriptor: a root-only file left open by whoever
// started ndhc (fd 4 here) is visible to no process of ndhc's, sandboxed
// role or supervisor.
func TestLabInheritedDescriptor(t *testing.T) {
	l := newLab(t, "inherit")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := startClient(t, l, clientOpts{inherit: []*os.File{f}})
	c.boundAddr(20*time.Second, 0)
	ready := c.ready()
	for _, role := range []string{"supervisor", "engine", "sockd", "ifch"} {
		r, ok := ready[role]
		if !ok {
			t.Fatalf("no ready record for %s", role)
		}
		dir := "/proc/" + strconv.Itoa(r.Pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			t.Fatalf("%s: no descriptors listed in %s", role, dir)
		}
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == secret {
				t.Errorf("%s (pid %d) holds the inherited file on fd %s", role, r.Pid, e.Name())
			}
		}
	}
}

// TestLabOneShotTimeout: -q with no server gives up after --timeout with
// its own exit status, having configured nothing.
func TestLabOneShotTimeout(t *testing.T) {
	l := newLab(t, "noserver")
	c := startClient(t, l, clientOpts{args: []string{"-q", "--timeout", "3s", "--arp-mode", "off"}})
	if code := c.wait(15 * time.Second); code != exitcode.NoLease {
		t.Fatalf("exit %d, want %d", code, exitcode.NoLease)
	}
	<-c.evDone
	if d, _, ok := c.find(0, is("done")); !ok || d.Code == nil || *d.Code != exitcode.NoLease {
		t.Errorf("done record %+v, want code %d", d, exitcode.NoLease)
	}
	if r, _, ok := c.find(0, is("exiting")); !ok || r.Reason != "stopped" {
		t.Errorf("exiting record %+v, want the engine stopped", r)
	}
	if n := c.count(0, is("configured")); n != 0 {
		t.Errorf("%d leases configured", n)
	}
	if a := clientAddr(t, l); a.IsValid() {
		t.Errorf("address %v on the interface", a)
	}
}

// TestLabGroupSignals: Ctrl-C in a terminal and `systemctl stop` signal
// every process of ndhc's group. The roles must not die of it: ndhc exits
// 0 once, every role exits cleanly, and --release-on-exit releases.
func TestLabGroupSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, release := range []bool{false, true} {
			name := unix.SignalName(sig)
			if release {
				name += "/release"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				l := newLab(t, "grp"+strconv.Itoa(int(sig))+strconv.FormatBool(release)[:1])
				srv, err := l.StartDnsmasq(richServer(l))
				if err != nil {
					t.Fatal(err)
				}
				var args []string
				if release {
					args = append(args, "--release-on-exit")
				}
				c := startClient(t, l, clientOpts{args: args})
				addr, _ := c.boundAddr(20*time.Second, 0)
				c.waitLease(l.Client.IfName(), "the lease", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
				off := len(srv.Log())
				// ip netns exec made ndhc the leader of its own group.
				if err := syscall.Kill(-c.cmd.Process.Pid, sig); err != nil {
					t.Fatal(err)
				}
				if code := c.wait(10 * time.Second); code != 0 {
					t.Fatalf("exit %d after %s to the group", code, name)
				}
				<-c.evDone
				for _, r := range c.records() {
					if r.Event == "exit" && r.Status != "exit 0" {
						t.Errorf("%s exited with %q", r.Role, r.Status)
					}
				}
				if n := c.count(0, is("signal")); n != 1 {
					t.Errorf("%d signal records, want 1", n)
				}
				if release {
					waitServer(t, srv, off, 5*time.Second, "DHCPRELEASE", addr.Addr().String())
				}
				releases := countMsgs(serverMsgs(srv, off), "DHCPRELEASE", addr.Addr().String())
				kept := clientKernelAddr(t, l).prefix == addr
				if release && (releases != 1 || kept) {
					t.Errorf("with --release-on-exit: %d DHCPRELEASEs, address kept %v; want 1 and removed", releases, kept)
				}
				if !release && (releases != 0 || !kept) {
					t.Errorf("without --release-on-exit: %d DHCPRELEASEs, address kept %v; want none and kept", releases, kept)
				}
			})
		}
	}
}

// TestLabBadOptionalFields: a domain name with an underscore and a 72-byte
// host name are each a reason to drop that field, not the lease: the
// address, the router and the DNS server are configured, the bad names
// are nowhere.
func TestLabBadOptionalFields(t *testing.T) {
	// Valid labels, 72 bytes in all: more than sethostname takes.
	longHost := strings.Repeat("h", 35) + "." + strings.Repeat("h", 36)
	l := newLab(t, "badopts")
	cfg := lab.ServerConfig{Router: l.Net.Gateway(), DNS: []netip.Addr{l.Net.Gateway()},
		Extra: "dhcp-option=option:domain-name,bad_domain.example\ndhcp-option=12," + longHost + "\n"}
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}})
	r, _ := c.waitRec(20*time.Second, "the lease configured", 0, func(r event.Record) bool { return r.Event == "configured" || r.Event == "refused" })
	if r.Event != "configured" {
		t.Fatalf("%+v, want the lease configured without the bad fields", r)
	}
	ls := c.lease(t, l.Client.IfName())
	if ls.Domain.String() != "bad_domain.example" || len(ls.Hostname.String()) != 72 {
		t.Fatalf("saved lease domain %q hostname %q: the server did not send the bad fields", ls.Domain, ls.Hostname)
	}
	if a := clientKernelAddr(t, l); a.prefix != ls.Addr {
		t.Errorf("interface has %+v, want %v", a, ls.Addr)
	}
	if !hasDefaultVia(t, l, l.Net.Gateway()) {
		t.Error("no default route")
	}
	rc, err := os.ReadFile(c.resolv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rc), "nameserver "+l.Net.Gateway().String()) || strings.Contains(string(rc), "bad_domain") {
		t.Errorf("resolv.conf:\n%s", rc)
	}
}
