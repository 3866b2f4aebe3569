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

// TestLabStateDirectory: the state directory is root's, the DUID is out
// of the engine's reach, each engine has a directory of its own, a second
// instance on the same interface is refused, and a directory that is not
// ndhc's is refused and left as it was.
func TestLabStateDirectory(t *testing.T) {
	l := newLab(t, "statedir")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	c := startClient(t, l, clientOpts{})
	c.boundAddr(20*time.Second, 0)
	c.waitLease(iface, "the lease", func(*dhcpclient.Lease) bool { return true })

	owner := func(p string) (uint32, os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid, fi.Mode()
	}
	if uid, mode := owner(c.stateDir); uid != 0 || mode.Perm() != 0o755 {
		t.Errorf("state directory uid %d mode %v, want root 0755", uid, mode)
	}
	if uid, mode := owner(filepath.Join(c.stateDir, "duid")); uid != 0 || !mode.IsRegular() {
		t.Errorf("duid uid %d mode %v, want a root file", uid, mode)
	}
	engineDir := filepath.Join(c.stateDir, iface)
	if uid, mode := owner(engineDir); uid != 61101 || mode.Perm() != 0o700 || !mode.IsDir() {
		t.Errorf("engine directory uid %d mode %v, want the engine's 0700", uid, mode)
	}
	ents, err := os.ReadDir(engineDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "iaid lease" {
		t.Errorf("engine directory holds %q, want its IAID and lease alone", got)
	}

	// A second instance on the same interface.
	c2 := startClient(t, l, clientOpts{stateDir: c.stateDir})
	if code := c2.wait(10 * time.Second); code != exitcode.Usage {
		t.Errorf("second instance on %s: exit %d, want %d", iface, code, exitcode.Usage)
	}
	select {
	case err := <-c.done:
		t.Fatalf("the first instance exited: %v", err)
	default:
	}

	// Directories that are not ndhc's.
	for name, setup := range map[string]func(dir string){
		"a foreign file": func(dir string) {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "shadow"), []byte("x\n"), 0o600)
		},
		"writable by others": func(dir string) {
			os.MkdirAll(dir, 0o755)
			os.Chmod(dir, 0o777)
		},
		"owned by another user": func(dir string) {
			os.MkdirAll(dir, 0o700)
			os.Chown(dir, 61999, 61999)
		},
	} {
		dir := filepath.Join(t.TempDir(), "foreign")
		setup(dir)
		uid, mode := owner(dir)
		before, _ := os.ReadDir(dir)
		c3 := startClient(t, l, clientOpts{stateDir: dir})
		if code := c3.wait(10 * time.Second); code != exitcode.Usage {
			t.Errorf("%s: exit %d, want %d", name, code, exitcode.Usage)
		}
		if u, m := owner(dir); u != uid || m != mode {
			t.Errorf("%s: the directory changed from uid %d %v to uid %d %v", name, uid, mode, u, m)
		}
		if after, _ := os.ReadDir(dir); len(after) != len(before) {
			t.Errorf("%s: %d entries before, %d after", name, len(before), len(after))
		}
	}
}
