package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/lab"
)

// client is one ndhc supervisor running in the lab's client namespace.
type client struct {
	t        *testing.T
	cmd      *exec.Cmd
	out      *syncBuffer
	stateDir string
	resolv   string
	done     chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type clientOpts struct {
	stateDir string
	args     []string
	// wrap runs ndhc under another command in the namespace (unshare).
	wrap []string
}

// startClient runs the test binary as ndhc in the client namespace.
func startClient(t *testing.T, l *lab.Lab, o clientOpts) *client {
	t.Helper()
	dir := t.TempDir()
	if o.stateDir == "" {
		o.stateDir = filepath.Join(dir, "state")
	}
	c := &client{t: t, out: &syncBuffer{}, stateDir: o.stateDir, resolv: filepath.Join(dir, "resolv.conf"), done: make(chan error, 1)}
	args := append([]string{os.Args[0], "-i", l.Client.IfName(),
		"--supervisor-user", "61100", "--engine-user", "61101", "--sockd-user", "61102", "--ifch-user", "61103", "--hostname-user", "61104",
		"--state-dir", o.stateDir, "--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", c.resolv, "--log-level", "debug"}, o.args...)
	c.cmd = l.Client.Command(context.Background(), append(o.wrap, args...)...)
	c.cmd.Env = append(os.Environ(), "NDHC_TEST_MAIN=1")
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("ndhc output:\n%s", c.out.String())
		}
	})
	return c
}

// wait waits for the client to exit and returns its exit code.
func (c *client) wait(d time.Duration) int {
	c.t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			c.t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		c.t.Fatalf("ndhc did not exit within %v", d)
		return -1
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func clientAddr(t *testing.T, l *lab.Lab) netip.Prefix {
	t.Helper()
	addrs, err := l.Client.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.Addr().Is4() {
			return a
		}
	}
	return netip.Prefix{}
}

func (c *client) lease(t *testing.T, iface string) *dhcpclient.Lease {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.stateDir, iface+".lease"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := dhcpclient.ParseLease(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newLab(t *testing.T, name string) *lab.Lab {
	lab.RequireServer(t, lab.Dnsmasq)
	return lab.NewT(t, lab.Config{Name: name})
}

func richServer(l *lab.Lab) lab.ServerConfig {
	return lab.ServerConfig{
		Router: l.Net.Gateway(), DNS: []netip.Addr{l.Net.Gateway()}, Domain: "lab.example",
		SearchList: []string{"lab.example", "corp.example"}, MTU: 1400,
	}
}

// TestLabOneShot: the sandboxed client gets a lease from dnsmasq, configures
// the interface, the routes and resolv.conf, saves the lease and exits.
func TestLabOneShot(t *testing.T) {
	l := newLab(t, "oneshot")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"-q"}})
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	a := clientAddr(t, l)
	if !a.IsValid() || !l.Net.Subnet.Contains(a.Addr()) || a.Bits() != l.Net.Subnet.Bits() {
		t.Fatalf("client address %v, want one in %v", a, l.Net.Subnet)
	}
	routes, err := l.Client.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var haveDefault bool
	for _, r := range routes {
		if r.Dst.Bits() == 0 && r.Gateway == l.Net.Gateway() {
			haveDefault = true
		}
	}
	if !haveDefault {
		t.Errorf("no default route via %v: %+v", l.Net.Gateway(), routes)
	}
	rc, err := os.ReadFile(c.resolv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "nameserver " + l.Net.Gateway().String(); !strings.Contains(string(rc), want) || !strings.Contains(string(rc), "lab.example") {
		t.Errorf("resolv.conf lacks %q or the search list:\n%s", want, rc)
	}
	ls := c.lease(t, l.Client.IfName())
	if ls.Addr != a || ls.MTU != 1400 {
		t.Errorf("saved lease %v mtu %d, interface %v", ls.Addr, ls.MTU, a)
	}
	link, err := l.Client.Link()
	if err != nil || link.MTU != 1400 {
		t.Errorf("mtu %d (%v), want 1400", link.MTU, err)
	}
	for _, role := range []string{"ifch", "sockd", "engine", "supervisor"} {
		if !strings.Contains(c.out.String(), fmt.Sprintf("child=%s", role)) {
			t.Errorf("no sandbox line for %s", role)
		}
	}
}

// TestLabDaemonSignals: the daemon binds, SIGUSR1 renews (a new ACK), and
// SIGTERM ends every role with status 0, leaving the address configured.
func TestLabDaemonSignals(t *testing.T) {
	l := newLab(t, "signals")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{})
	waitFor(t, 20*time.Second, "a lease", func() bool { return clientAddr(t, l).IsValid() })
	acks := strings.Count(c.out.String(), "state BOUND")
	c.cmd.Process.Signal(syscall.SIGUSR1)
	waitFor(t, 20*time.Second, "a renewal", func() bool { return strings.Count(c.out.String(), "state BOUND") > acks })
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if !clientAddr(t, l).IsValid() {
		t.Error("SIGTERM without --release-on-exit removed the address")
	}
}

// TestLabIfchRefusesOutOfRange: ifch re-validates what the engine asks
// for. With --allow-ranges excluding the lab's subnet, the lease the engine
// accepted is refused by ifch with a specific code, nothing is configured,
// and the client stays alive.
func TestLabIfchRefusesOutOfRange(t *testing.T) {
	l := newLab(t, "range")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--allow-ranges", "192.168.99.0/24", "--arp-mode", "off"}})
	waitFor(t, 20*time.Second, "ifch's refusal", func() bool { return strings.Contains(c.out.String(), "out-of-range") })
	if a := clientAddr(t, l); a.IsValid() {
		t.Errorf("address %v configured despite the refusal", a)
	}
	select {
	case err := <-c.done:
		c.done <- err
		t.Fatalf("client exited after a refusal: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestLabSetHostname: with --set-hostname the lease's hostname (option 12)
// reaches the kernel through ifch and the hostname role. ndhc runs in a UTS
// namespace of its own (unshare --uts), so the host's name is never touched.
func TestLabSetHostname(t *testing.T) {
	l := newLab(t, "hostname")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) for a UTS namespace of its own")
	}
	cfg := richServer(l)
	cfg.Hostname = "leased-name"
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Hostname()
	c := startClient(t, l, clientOpts{wrap: []string{"unshare", "--uts", "--"}, args: []string{"--set-hostname", "--arp-mode", "off"}})
	waitFor(t, 20*time.Second, "the hostname role's line", func() bool { return strings.Contains(c.out.String(), `msg="hostname set" role=hostname`) })
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(c.cmd.Process.Pid), "--uts", "hostname").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "leased-name" {
		t.Errorf("hostname in ndhc's UTS namespace %q, want leased-name", got)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("the host's name changed from %q to %q", before, after)
	}
	if !strings.Contains(c.out.String(), "child=hostname") || !strings.Contains(c.out.String(), "caps=sys_admin") {
		t.Error("no sandboxed hostname role in the log")
	}
}

// TestLabInterfaceRemoved: an interface set down and up again is lived
// through; when it disappears the engine exits and the client ends with a
// non-zero status and a line saying why.
func TestLabInterfaceRemoved(t *testing.T) {
	l := newLab(t, "gone")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}})
	waitFor(t, 20*time.Second, "a lease", func() bool { return clientAddr(t, l).IsValid() })
	// Administratively down and up again first: the client must live
	// through it (its packet sockets report ENETDOWN once) and lease again.
	for _, state := range []string{"down", "up"} {
		if _, err := l.Client.Run(context.Background(), "ip", "link", "set", l.Client.IfName(), state); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, 20*time.Second, "a lease after the link came back", func() bool { return clientAddr(t, l).IsValid() })
	select {
	case err := <-c.done:
		c.done <- err
		t.Fatalf("client exited when the link went down: %v", err)
	default:
	}
	if _, err := l.Client.Run(context.Background(), "ip", "link", "del", l.Client.IfName()); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(10 * time.Second); code == 0 {
		t.Fatal("exit 0 after the interface was removed")
	}
	if !strings.Contains(c.out.String(), "interface removed") {
		t.Errorf("no line saying the interface was removed:\n%s", c.out.String())
	}
}
