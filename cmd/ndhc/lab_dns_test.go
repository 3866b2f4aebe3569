package main

import (
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/ndhc-go/ndhc/internal/lab"
)

// dnsUser is the dns role's user in the lab. The other roles run as
// numeric uids without a passwd entry, but dbus-daemon refuses a
// connection whose uid it cannot look up (it reads the user's groups for
// its policy), so this one is a user every Debian system has.
const dnsUser = "nobody"

// resolvedCall is one call the fake systemd-resolved received.
type resolvedCall struct {
	Method   string
	Ifindex  int32
	Servers  []netip.Addr
	Domains  []string
	Routing  []bool
	Default  bool
	UID      uint32
	UIDError error
}

// fakeResolved exports org.freedesktop.resolve1.Manager's per-link
// methods on a bus and records each call with its caller's uid, asked of
// the bus (GetConnectionUnixUser).
type fakeResolved struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	calls []resolvedCall
}

func (f *fakeResolved) record(sender dbus.Sender, c resolvedCall) *dbus.Error {
	c.UIDError = f.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, string(sender)).Store(&c.UID)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return nil
}

func (f *fakeResolved) SetLinkDNS(sender dbus.Sender, ifindex int32, addrs []struct {
	Family  int32
	Address []byte
}) *dbus.Error {
	c := resolvedCall{Method: "SetLinkDNS", Ifindex: ifindex}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.Address)
		if !ok || a.Family != syscall.AF_INET {
			return dbus.MakeFailedError(os.ErrInvalid)
		}
		c.Servers = append(c.Servers, ip)
	}
	return f.record(sender, c)
}

func (f *fakeResolved) SetLinkDomains(sender dbus.Sender, ifindex int32, doms []struct {
	Domain      string
	RoutingOnly bool
}) *dbus.Error {
	c := resolvedCall{Method: "SetLinkDomains", Ifindex: ifindex}
	for _, d := range doms {
		c.Domains = append(c.Domains, d.Domain)
		c.Routing = append(c.Routing, d.RoutingOnly)
	}
	return f.record(sender, c)
}

func (f *fakeResolved) SetLinkDefaultRoute(sender dbus.Sender, ifindex int32, enable bool) *dbus.Error {
	return f.record(sender, resolvedCall{Method: "SetLinkDefaultRoute", Ifindex: ifindex, Default: enable})
}

func (f *fakeResolved) RevertLink(sender dbus.Sender, ifindex int32) *dbus.Error {
	return f.record(sender, resolvedCall{Method: "RevertLink", Ifindex: ifindex})
}

func (f *fakeResolved) snapshot() []resolvedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// waitCall waits for the first call of method at index from or later.
func (f *fakeResolved) waitCall(t *testing.T, from int, method string) (resolvedCall, int) {
	t.Helper()
	var got resolvedCall
	n := 0
	waitFor(t, 20*time.Second, "a "+method+" call", func() bool {
		cs := f.snapshot()
		for i := from; i < len(cs); i++ {
			if cs[i].Method == method {
				got, n = cs[i], i+1
				return true
			}
		}
		return false
	})
	return got, n
}

// startBus runs a private dbus-daemon on a socket in a root-owned
// directory of mode 0755 (the dns role's chroot), and a fake
// systemd-resolved on it.
func startBus(t *testing.T) (string, *fakeResolved) {
	t.Helper()
	conf, err := os.ReadFile("testdata/dbus-lab.conf")
	if err != nil {
		t.Fatal(err)
	}
	sock, conn := lab.StartBus(t, conf)
	f := &fakeResolved{conn: conn}
	if err := conn.Export(f, "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.resolve1", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning org.freedesktop.resolve1: %v %v", r, err)
	}
	return sock, f
}

// TestLabDNSResolved: with --dns resolved, the lease's DNS servers and
// search list reach systemd-resolved (a fake on a private bus) for the
// lab interface's index, from a connection the bus credits to the dns
// role's uid, never root's; a release and a stop give the link back
// (RevertLink); no resolv.conf is written.
func TestLabDNSResolved(t *testing.T) {
	l := newLab(t, "dnsres")
	sock, f := startBus(t)
	srv := richServer(l)
	if _, err := l.StartDnsmasq(srv); err != nil {
		t.Fatal(err)
	}
	var ifindex int
	if err := l.Client.Do(func() error {
		ifi, err := net.InterfaceByName(l.Client.IfName())
		if err == nil {
			ifindex = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(dnsUser)
	if err != nil {
		t.Skipf("needs the user %s: %v", dnsUser, err)
	}
	dnsUID, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil || dnsUID == 0 {
		t.Fatalf("uid of %s: %q %v", dnsUser, u.Uid, err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--dns", "resolved", "--dbus-socket", sock, "--dns-user", u.Uid}})
	_, at := c.boundAddr(30*time.Second, 0)
	if _, ok := c.ready()["dns"]; !ok {
		t.Fatal("no dns role reported ready")
	}

	dnsCall, n := f.waitCall(t, 0, "SetLinkDNS")
	if dnsCall.Ifindex != int32(ifindex) || !slices.Equal(dnsCall.Servers, srv.DNS) {
		t.Errorf("SetLinkDNS(%d, %v), want (%d, %v)", dnsCall.Ifindex, dnsCall.Servers, ifindex, srv.DNS)
	}
	domCall, n := f.waitCall(t, n, "SetLinkDomains")
	if domCall.Ifindex != int32(ifindex) || !slices.Equal(domCall.Domains, srv.SearchList) || slices.Contains(domCall.Routing, true) {
		t.Errorf("SetLinkDomains(%d, %v routing-only %v), want (%d, %v, none routing-only)", domCall.Ifindex, domCall.Domains, domCall.Routing, ifindex, srv.SearchList)
	}
	defCall, n := f.waitCall(t, n, "SetLinkDefaultRoute")
	if defCall.Ifindex != int32(ifindex) || !defCall.Default {
		t.Errorf("SetLinkDefaultRoute(%d, %v), want (%d, true)", defCall.Ifindex, defCall.Default, ifindex)
	}

	// Release: the lease's servers leave resolved.
	c.cmd.Process.Signal(syscall.SIGUSR2)
	c.waitRec(20*time.Second, "state RELEASED", at, state("RELEASED"))
	rev, n := f.waitCall(t, n, "RevertLink")
	if rev.Ifindex != int32(ifindex) {
		t.Errorf("RevertLink(%d) on release, want %d", rev.Ifindex, ifindex)
	}
	// A new lease, then a stop: the link is given back at exit.
	c.cmd.Process.Signal(syscall.SIGUSR1)
	_, n = f.waitCall(t, n, "SetLinkDNS")
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(20 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	rev, _ = f.waitCall(t, n, "RevertLink")
	if rev.Ifindex != int32(ifindex) {
		t.Errorf("RevertLink(%d) at stop, want %d", rev.Ifindex, ifindex)
	}

	for _, call := range f.snapshot() {
		if call.UIDError != nil || uint64(call.UID) != dnsUID {
			t.Errorf("%s came from uid %d (%v), want the dns role's %d", call.Method, call.UID, call.UIDError, dnsUID)
		}
	}
	if _, err := os.Lstat(c.resolv); !os.IsNotExist(err) {
		t.Errorf("resolv.conf %s touched in resolved mode: %v", c.resolv, err)
	}
}

// TestLabDNSFileSymlink: in file mode, a --resolv-conf that is a symlink
// is refused at start-up (exit status 1, ifch reports it) and its target
// is left as it was.
func TestLabDNSFileSymlink(t *testing.T) {
	l := newLab(t, "dnslink")
	dir := t.TempDir()
	target := filepath.Join(dir, "stub-resolv.conf")
	const orig = "nameserver 127.0.0.53\n"
	if err := os.WriteFile(target, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"-q", "--dns", "file", "--resolv-conf", link}})
	if code := c.wait(20 * time.Second); code == 0 {
		t.Fatal("ndhc started with a symlinked resolv.conf")
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != orig {
		t.Errorf("symlink target now %q (%v), want %q untouched", b, err, orig)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("the symlink itself changed: %v %v", fi, err)
	}
	<-c.evDone
	exited := false
	for _, r := range c.records() {
		if r.Event == "exit" && r.Role == "ifch" {
			exited = true
		}
	}
	if !exited {
		t.Error("no exit record of ifch, the role that refuses the symlink")
	}
}
