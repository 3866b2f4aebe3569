package main

import (
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

// TestLabMalformedOptions: options the codec cannot accept (an MTU below
// 68, a 72-octet host-name label, a loopback NTP server) cost only
// themselves: the lease is configured with its address, router and DNS
// server, and the saved lease holds none of the bad values.
func TestLabMalformedOptions(t *testing.T) {
	l := newLab(t, "malformed")
	cfg := lab.ServerConfig{Router: l.Net.Gateway(), DNS: []netip.Addr{l.Net.Gateway()},
		Extra: "dhcp-option=26,40\ndhcp-option=12," + strings.Repeat("m", 72) + "\ndhcp-option=42,127.0.0.1\n"}
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}})
	r, _ := c.waitRec(20*time.Second, "the lease configured", 0, func(r event.Record) bool { return r.Event == "configured" || r.Event == "refused" })
	if r.Event != "configured" {
		t.Fatalf("%+v, want the lease configured without the malformed options", r)
	}
	ls := c.lease(t, l.Client.IfName())
	if ls.MTU != 0 || !ls.Hostname.IsZero() || len(ls.NTP) != 0 {
		t.Errorf("saved lease keeps a malformed option: mtu %d hostname %q ntp %v", ls.MTU, ls.Hostname, ls.NTP)
	}
	if len(ls.DNS) != 1 || ls.DNS[0] != l.Net.Gateway() {
		t.Errorf("saved lease DNS %v, want %v", ls.DNS, l.Net.Gateway())
	}
	if a := clientKernelAddr(t, l); a.prefix != ls.Addr {
		t.Errorf("interface has %+v, want %v", a, ls.Addr)
	}
	if !hasDefaultVia(t, l, l.Net.Gateway()) {
		t.Error("no default route")
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
	if uid, mode := owner(engineDir); uid != 0 || mode.Perm() != 0o755 || !mode.IsDir() {
		t.Errorf("engine directory uid %d mode %v, want root's 0755 (the engine creates nothing in it)", uid, mode)
	}
	ents, err := os.ReadDir(engineDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if uid, mode := owner(filepath.Join(engineDir, e.Name())); uid != 61101 || mode.Perm() != 0o600 || !mode.IsRegular() {
			t.Errorf("%s uid %d mode %v, want the engine's 0600 file", e.Name(), uid, mode)
		}
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

// holdThreadsAs starts a process of uid holding n threads, as another
// program of a role's user would, and stops it when the test ends.
func holdThreadsAs(t *testing.T, uid uint32, n int) {
	t.Helper()
	// The test binary lives in a directory only root may enter: the
	// holder runs a copy the other user may execute.
	dir, err := os.MkdirTemp("", "ndhc-threads-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "holder")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "NDHC_TEST_THREADS="+strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	waitFor(t, 10*time.Second, strconv.Itoa(n)+" threads of uid "+strconv.Itoa(int(uid)), func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				got, _ := strconv.Atoi(strings.TrimSpace(v))
				return got >= n
			}
		}
		return false
	})
}

// TestLabThreadBudget: two instances on two interfaces, while another
// process of the engine's user holds 60 threads, both bind: the roles'
// thread budget is not spent by its neighbours.
func TestLabThreadBudget(t *testing.T) {
	holdThreadsAs(t, 61101, 60)
	var cs []*daemon
	var labs []*lab.Lab
	for _, name := range []string{"budget1", "budget2"} {
		l := newLab(t, name)
		if _, err := l.StartDnsmasq(richServer(l)); err != nil {
			t.Fatal(err)
		}
		labs = append(labs, l)
		cs = append(cs, startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}}))
	}
	for i, c := range cs {
		c.boundAddr(20*time.Second, 0)
		c.waitRec(10*time.Second, "configured", 0, is("configured"))
		if !clientKernelAddr(t, labs[i]).exists {
			t.Errorf("instance %d: no address", i+1)
		}
	}
}

// TestLabThreadBudgetSpent: when the engine's user holds every thread of
// the budget, the engine cannot start one: ndhc says so in one line and
// exits 6, not with a Go stack trace and the status of a dead role.
func TestLabThreadBudgetSpent(t *testing.T) {
	holdThreadsAs(t, 61101, 520)
	l := newLab(t, "spent")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	// At the default level: the stack traces are for --log-level debug.
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off", "--log-level", "info"}})
	if code := c.wait(20 * time.Second); code != exitcode.Threads {
		t.Fatalf("exit %d, want %d", code, exitcode.Threads)
	}
	if n := strings.Count(c.out.String(), "goroutine "); n != 0 {
		t.Errorf("%d goroutine traces in the log, want none", n)
	}
	<-c.evDone
	r, _, ok := c.find(0, func(r event.Record) bool { return r.Event == "exit" && r.Crash != "" })
	if !ok || r.Crash != "fatal error: newosproc" {
		t.Errorf("exit record %+v, want the crash named", r)
	}
}

// TestLabLogFile: ndhc's stderr is a log file that already holds 2 MB;
// every role's lines reach it (no role's RLIMIT_FSIZE applies), and when
// a role is killed the line saying so is there too.
func TestLabLogFile(t *testing.T) {
	l := newLab(t, "logfile")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ndhc.log")
	if err := os.WriteFile(path, bytes.Repeat([]byte("an older line of the log\n"), 2<<20/25+1), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := startClient(t, l, clientOpts{stderr: f})
	c.boundAddr(20*time.Second, 0)
	sockd := c.rolePid("sockd")
	if err := syscall.Kill(sockd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(10 * time.Second); code != exitcode.RoleDied {
		t.Fatalf("exit %d, want %d", code, exitcode.RoleDied)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b[2<<20:])
	for _, role := range []string{"engine", "sockd", "ifch"} {
		if !strings.Contains(log, "\n"+role+"[") {
			t.Errorf("no line of %s in the log file", role)
		}
	}
	if !strings.Contains(log, "child=sockd") || !strings.Contains(log, "SIGKILL") {
		t.Errorf("the log file does not say that sockd was killed:\n%s", log)
	}
	checkLogLines(t, log)
}

// TestLabQuietAndZoned: --log-level warn, a real time zone, and a lease
// ifch refuses: the first log lines a role writes come late (at the
// refusal) and in the zone, and nothing dies of loading the zone inside
// the sandbox.
func TestLabQuietAndZoned(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Tokyo"); err != nil {
		t.Skip("needs the tzdata zone Asia/Tokyo")
	}
	l := newLab(t, "quiet")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{env: []string{"TZ=Asia/Tokyo"},
		args: []string{"--log-level", "warn", "--allow-ranges", "192.168.99.0/24", "--arp-mode", "off"}})
	c.waitRec(20*time.Second, "the refusal", 0, is("refused"))
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-c.done:
		c.done <- err
		t.Fatalf("ndhc exited after the refusal: %v", err)
	default:
	}
	if !strings.Contains(c.out.String(), "+09:00 level=ERROR") {
		t.Errorf("no error line in Asia/Tokyo time:\n%s", c.out.String())
	}
}

// TestLabLogFormats: with --log-format json every line on stderr is one
// JSON object, a role's with its own record inside the supervisor's; with
// journal every line starts with its syslog priority.
func TestLabLogFormats(t *testing.T) {
	l := newLab(t, "logfmt")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"json", "journal"} {
		c := startClient(t, l, clientOpts{args: []string{"-q", "--log-format", format}})
		if code := c.wait(20 * time.Second); code != 0 {
			t.Fatalf("%s: exit %d", format, code)
		}
		roleLines := 0
		for _, line := range strings.Split(strings.TrimSuffix(c.out.String(), "\n"), "\n") {
			switch format {
			case "json":
				var rec struct {
					From   string         `json:"from"`
					Record map[string]any `json:"record"`
					Msg    string         `json:"msg"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("json: not one JSON object: %q: %v", line, err)
				}
				if rec.From != "" {
					roleLines++
					if rec.Record == nil || rec.Record["role"] != rec.From {
						t.Errorf("json: role line %q without its own record", line)
					}
				} else if rec.Msg == "" {
					t.Errorf("json: supervisor line %q without a message", line)
				}
			case "journal":
				if len(line) < 3 || line[0] != '<' || !strings.Contains("3467", line[1:2]) || line[2] != '>' {
					t.Fatalf("journal: line without a priority: %q", line)
				}
				if strings.Contains(line, "]: ") {
					roleLines++
				}
			}
		}
		if roleLines == 0 {
			t.Errorf("%s: no line of a role", format)
		}
	}
}

// TestLabTunnelVision: a server pushes the routes of CVE-2024-3661 (0/1
// and 128/1, which outrank any default route, such as a VPN's) and a route
// over the subnet of another interface (the VPN's own). The lease is
// configured with its legitimate routes; those three are dropped. With
// --classless-routes off the server's option 3 router is the default
// route and no classless route is installed.
func TestLabTunnelVision(t *testing.T) {
	l := newLab(t, "tunnel")
	gw := l.Net.Gateway()
	if _, err := l.Client.Run(context.Background(), "ip", "link", "add", "vpn0", "type", "veth", "peer", "name", "vpn1"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"addr", "add", "10.99.0.2/24", "dev", "vpn0"}, {"link", "set", "vpn0", "up"}} {
		if _, err := l.Client.Run(context.Background(), append([]string{"ip"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	cfg := lab.ServerConfig{Router: gw, DNS: []netip.Addr{gw}, ClasslessRoutes: []lab.StaticRoute{
		{Dst: netip.MustParsePrefix("0.0.0.0/1"), Gateway: gw},
		{Dst: netip.MustParsePrefix("128.0.0.0/1"), Gateway: gw},
		{Dst: netip.MustParsePrefix("10.99.0.0/16"), Gateway: gw},
		{Dst: netip.MustParsePrefix("192.168.77.0/24"), Gateway: gw},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw},
	}}
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	routes := func() []string {
		t.Helper()
		rs, err := l.Client.Routes()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			if r.Gateway.IsValid() {
				out = append(out, r.Dst.String())
			}
		}
		slices.Sort(out)
		return out
	}
	for _, mode := range []string{"on", "off"} {
		c := startClient(t, l, clientOpts{args: []string{"-q", "--arp-mode", "off", "--classless-routes", mode}})
		if code := c.wait(20 * time.Second); code != 0 {
			t.Fatalf("%s: exit %d", mode, code)
		}
		want := "0.0.0.0/0 192.168.77.0/24"
		if mode == "off" {
			want = "0.0.0.0/0"
		}
		if got := strings.Join(routes(), " "); got != want {
			t.Errorf("--classless-routes %s: routes via a gateway %q, want %q", mode, got, want)
		}
		if !clientKernelAddr(t, l).exists {
			t.Errorf("--classless-routes %s: no address", mode)
		}
		// The next run starts from a clean interface.
		if _, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "flush", "dev", l.Client.IfName()); err != nil {
			t.Fatal(err)
		}
	}
}
