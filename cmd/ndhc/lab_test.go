package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/lab"
	"golang.org/x/sys/unix"
)

// daemon is one ndhc supervisor running in the lab's client namespace.
type daemon struct {
	t        *testing.T
	cmd      *exec.Cmd
	out      *syncBuffer
	stateDir string
	resolv   string
	done     chan error

	// The records of its event stream (--event-fd 3), collected until
	// the stream ends (evDone closed).
	evMu   sync.Mutex
	events []event.Record
	evDone chan struct{}
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
	// inherit are open files ndhc inherits after the event stream (fd 4
	// onwards), as a careless caller would leave them.
	inherit []*os.File
	// stderr, when set, is ndhc's stderr instead of the buffer the test
	// reads (a log file, say).
	stderr *os.File
	// env is added to ndhc's environment.
	env []string
	// sub is a command run instead of the client (prepare), with the
	// client's arguments.
	sub string
}

// startClient runs the test binary as ndhc in the client namespace.
func startClient(t *testing.T, l *lab.Lab, o clientOpts) *daemon {
	t.Helper()
	dir := t.TempDir()
	if o.stateDir == "" {
		o.stateDir = filepath.Join(dir, "state")
	}
	c := &daemon{t: t, out: &syncBuffer{}, stateDir: o.stateDir, resolv: filepath.Join(dir, "resolv.conf"), done: make(chan error, 1), evDone: make(chan struct{})}
	args := []string{os.Args[0]}
	if o.sub != "" {
		args = append(args, o.sub)
	}
	args = append(append(args, "-i", l.Client.IfName(),
		"--supervisor-user", "61100", "--engine-user", "61101", "--sockd-user", "61102", "--ifch-user", "61103", "--hostname-user", "61104", "--hook-user", "61105",
		"--state-dir", o.stateDir, "--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", c.resolv, "--log-level", "debug", "--event-fd", "3"), o.args...)
	if !slices.Contains(o.args, "--control-socket") {
		// Not the host's /run/ndhc: the lab's interface names repeat.
		args = append(args, "--control-socket", filepath.Join(dir, "control"))
	}
	c.cmd = l.Client.Command(context.Background(), append(o.wrap, args...)...)
	c.cmd.Env = append(append(os.Environ(), "NDHC_TEST_MAIN=1"), o.env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if o.stderr != nil {
		c.cmd.Stderr = o.stderr
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.ExtraFiles = append([]*os.File{evW}, o.inherit...)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	evW.Close()
	go c.readEvents(evR)
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		checkLogLines(t, c.out.String())
		if t.Failed() {
			t.Logf("ndhc output:\n%s", c.out.String())
		}
	})
	return c
}

// readEvents decodes the event stream until ndhc closes it; a line that
// is not a record fails the test.
func (c *daemon) readEvents(r *os.File) {
	defer close(c.evDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec event.Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil || rec.Event == "" || rec.Time.IsZero() {
			c.t.Errorf("malformed event record %q: %v", sc.Bytes(), err)
			continue
		}
		c.evMu.Lock()
		c.events = append(c.events, rec)
		c.evMu.Unlock()
	}
}

// wait waits for the client to exit and returns its exit code.
func (c *daemon) wait(d time.Duration) int {
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

// lease returns the saved lease, waiting (bounded) for the engine to write
// it: its configured record comes just before the write.
func (c *daemon) lease(t *testing.T, iface string) *dhcpclient.Lease {
	t.Helper()
	return c.waitLease(iface, "any", func(*dhcpclient.Lease) bool { return true })
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
	<-c.evDone
	ready := c.ready()
	for _, role := range []string{"ifch", "sockd", "engine", "supervisor"} {
		r, ok := ready[role]
		if !ok || r.Report == nil || r.Report.Status.Seccomp != 2 || r.Report.Status.NoNewPrivs != 1 || r.Report.Status.Uid[0] == 0 {
			t.Errorf("%s: ready record %+v, want a sandboxed role", role, r)
		}
	}
	if _, ok := ready["hostname"]; ok {
		t.Error("a hostname role without --set-hostname")
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
	_, bi := c.waitRec(5*time.Second, "BOUND", 0, state("BOUND"))
	c.cmd.Process.Signal(syscall.SIGUSR1)
	c.waitRec(20*time.Second, "a renewal", bi+1, state("BOUND", "RENEWING"))
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
	r, _ := c.waitRec(20*time.Second, "ifch's refusal", 0, is("refused"))
	if r.Cause != "out-of-range" || !l.Net.Subnet.Contains(netip.MustParsePrefix(r.Address).Addr()) {
		t.Errorf("refusal %+v, want out-of-range for an address in %v", r, l.Net.Subnet)
	}
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
	c.waitRec(20*time.Second, "the lease configured", 0, is("configured"))
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
	if r, ok := c.ready()["hostname"]; !ok || r.Report.Status.CapEff != 1<<unix.CAP_SYS_ADMIN || r.Report.Status.Seccomp != 2 {
		t.Errorf("hostname role: %+v, want one sandboxed with CAP_SYS_ADMIN alone", r)
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
	<-c.evDone
	if r, _, ok := c.find(0, is("exiting")); !ok || r.Reason != "interface-removed" {
		t.Errorf("exiting record %+v, want interface-removed", r)
	}
}

// unitBoundingSet returns the capabilities of ndhc@.service's
// CapabilityBoundingSet=, in setpriv's spelling (net_admin, ...).
func unitBoundingSet(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../contrib/systemd/ndhc@.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapabilityBoundingSet="); ok {
			var caps []string
			for _, c := range strings.Fields(v) {
				caps = append(caps, strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
			return caps
		}
	}
	t.Fatal("ndhc@.service has no CapabilityBoundingSet=")
	return nil
}

// TestLabUnitCapabilities: the client under the systemd unit's bounding
// set, as systemd starts it. On a fresh state directory it cannot give the
// engine its files and exits; after `ndhc prepare` (full privileges, the
// unit's ExecStartPre=+) it binds with the unit's capabilities alone.
func TestLabUnitCapabilities(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	l := newLab(t, "unitcaps")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	fence := []string{"setpriv", "--bounding-set=-all,+" + strings.Join(unitBoundingSet(t), ",+"), "--"}

	c := startClient(t, l, clientOpts{stateDir: state, wrap: fence, args: []string{"-q"}})
	if code := c.wait(20 * time.Second); code == 0 {
		t.Fatal("bound on an unprepared state directory without CAP_CHOWN: the test proves nothing")
	}

	p := startClient(t, l, clientOpts{stateDir: state, sub: "prepare"})
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("ndhc prepare: exit %d", code)
	}
	for _, name := range engine.StateFiles {
		st, err := os.Lstat(filepath.Join(state, l.Client.IfName(), name))
		if err != nil || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 61101 {
			t.Fatalf("%s after prepare: %v %v", name, st, err)
		}
	}

	// A control group: its socket is created in that group, without
	// CAP_CHOWN. A hook: the supervisor opens the engine's lease file
	// for it, without CAP_DAC_READ_SEARCH.
	hookPath, _ := labHook(t, 61105)
	c = startClient(t, l, clientOpts{stateDir: state, wrap: fence, args: []string{"-q", "--control-group", "nogroup", "--hook", hookPath}})
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d under the unit's bounding set after prepare", code)
	}
	if a := clientAddr(t, l); !a.IsValid() || !l.Net.Subnet.Contains(a.Addr()) {
		t.Fatalf("client address %v, want one in %v", a, l.Net.Subnet)
	}
	ready := c.ready()
	if r, ok := ready["supervisor"]; !ok || r.Report == nil {
		t.Fatalf("no supervisor ready record: %+v", ready)
	}
}
