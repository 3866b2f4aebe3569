package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/ifchrole"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The test binary doubles as the daemon and as a client running under
// another uid, selected by IFCHD_TEST_ROLE.
func TestMain(m *testing.M) {
	switch os.Getenv("IFCHD_TEST_ROLE") {
	case "daemon":
		os.Exit(run(strings.Split(os.Getenv("IFCHD_TEST_ARGS"), "\n"), os.Stderr))
	case "client":
		os.Exit(testClient(os.Getenv("IFCHD_TEST_SOCKET"), os.Getenv("IFCHD_TEST_MSG"), os.Stdout))
	}
	// These tests enter real sandboxes, which a cgo build cannot.
	if err := sandbox.CheckBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "these tests enter real sandboxes:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// testClient sends one message and prints the raw reply.
func testClient(path, msg string, out io.Writer) int {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		fmt.Fprintln(out, "dial:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, werr := c.Write([]byte(msg)) // a refused peer may be closed already; read the reply anyway
	buf := make([]byte, ifch.MaxMessageSize+1)
	n, err := c.Read(buf)
	if err != nil {
		fmt.Fprintln(out, "read:", err, "write:", werr)
		return 1
	}
	out.Write(buf[:n])
	return 0
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "Usage: ifchd"},
		{nil, 2, "no -allow entry"},
		{[]string{"-allow", "1000"}, 2, "want UID:IFACE"},
		{[]string{"-allow", "1000:eth0;x"}, 2, "not a valid name"},
		{[]string{"-allow", "1000:eth0:10.0.0.0/99"}, 2, "not an IPv4 prefix"},
		{[]string{"-allow", "1000:eth0", "-max-conns", "99"}, 2, "-max-conns"},
		{[]string{"-allow", "1000:eth0", "-mtu-floor", "10"}, 2, "-mtu-floor"},
		{[]string{"-allow", "1000:eth0", "-route-metric", "-1"}, 2, "-route-metric"},
		{[]string{"-allow", "1000:eth0", "extra"}, 2, "unexpected argument"},
		{[]string{"-allow", "1000:eth0", "-log-level", "loud"}, 2, `"loud" for flag -log-level`},
		{[]string{"-allow", "1000:eth0", "--allow-degraded-sandbox", "seccomp,apparmor"}, 2, `layer "apparmor" cannot be degraded`},
		{[]string{"-allow", "1000:eth0", "-allow-degraded-sandbox", "all"}, 2, `layer "all" cannot be degraded`},
		{[]string{"-allow", "1000:eth0", "-metric", "1"}, 2, "not defined: -metric"},
		{[]string{"-allow", "1000:eth0", "-v"}, 2, "not defined: -v"},
		{[]string{"-allow", "1000:eth0", "-chroot", "/x"}, 2, "not defined: -chroot"},
		{[]string{"-allow", "1000:eth0", "-user", "x"}, 2, "not defined: -user"},
		{[]string{"-c", "/nonexistent/ifchd.conf"}, 2, "config"},
		{[]string{"--config", "/nonexistent/ifchd.conf"}, 2, "config"},
	} {
		var out bytes.Buffer
		if code := run(tt.args, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("%v: exit %d, output:\n%s", tt.args, code, out.String())
		}
	}
}

// writeConf writes a config file and returns its path.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ifchd.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFile(t *testing.T) {
	path := writeConf(t, "# test\nsocket = /run/x.sock\nallow = 1000:eth0,eth1:192.0.2.0/24\nmax-dns = 3\n\n"+
		"allow-link-local = true # a comment\nroute-metric = 50\nmtu-floor = 1280\nifch-user = \"65534\"\n"+
		"empty-dir = /var/empty/ifchd\nlog-level = debug\nallow-degraded-sandbox = seccomp\n")
	c, err := parseConfig([]string{"-c", path, "-allow", "1001:wlan0", "-max-dns", "4", "--route-metric=60"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pols, err := ifchrole.Policies(c.allows, c.policy)
	if err != nil {
		t.Fatal(err)
	}
	p := pols[1000].For("eth0")
	if c.socket != "/run/x.sock" || p == nil || !p.AllowLinkLocal || p.MinMTU != 1280 ||
		strings.Join(p.Interfaces, ",") != "eth0,eth1" || len(p.AllowedRanges) != 1 || pols[1001] == nil ||
		c.ifchUser != "65534" || c.emptyDir != "/var/empty/ifchd" || c.level != slog.LevelDebug ||
		strings.Join(c.degradeLayers, ",") != "seccomp" {
		t.Fatalf("config %+v, policy %+v", c, p)
	}
	// The command line wins for keys set in both.
	if p.MaxDNS != 4 || c.routeMetric != 60 {
		t.Fatalf("command line did not win: max-dns %d, route-metric %d", p.MaxDNS, c.routeMetric)
	}
	// The same file alone: its values.
	c, err = parseConfig([]string{"--config", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.policy.MaxDNS != 3 || c.routeMetric != 50 || len(c.allows) != 1 {
		t.Fatalf("file alone: %+v", c)
	}
}

// TestConfigAllow: -allow entries from the file and from the command line
// are all kept (conf.Apply alone would skip the file's allow line once
// -allow is on the command line), the command line's first.
func TestConfigAllow(t *testing.T) {
	path := writeConf(t, "allow = 1000:eth0 1002:eth2:any  1000:eth3:10.0.0.0/8\n")
	c, err := parseConfig([]string{"-allow", "1001:wlan0", "-c", path, "--allow", "1003:wlan1 1004:wlan2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range c.allows {
		got = append(got, e.Who+":"+strings.Join(e.Interfaces, ","))
	}
	if want := "1001:wlan0 1003:wlan1 1004:wlan2 1000:eth0 1002:eth2 1000:eth3"; strings.Join(got, " ") != want {
		t.Fatalf("allow entries %q, want %q", got, want)
	}
	pols, err := ifchrole.Policies(c.allows, c.policy)
	if err != nil {
		t.Fatal(err)
	}
	// One policy per entry: uid 1000's ranges bind eth3, not eth0.
	if p0, p3 := pols[1000].For("eth0"), pols[1000].For("eth3"); len(pols[1000]) != 2 || p0 == nil || p3 == nil ||
		len(p0.AllowedRanges) != 0 || len(p3.AllowedRanges) != 1 || p0.Allows("eth3") {
		t.Fatalf("uid 1000: %+v", pols[1000])
	}
	if len(pols) != 5 {
		t.Fatalf("%d uids, want 5", len(pols))
	}
	// The file alone is enough.
	if c, err := parseConfig([]string{"-c", path}, io.Discard); err != nil || len(c.allows) != 3 {
		t.Fatalf("file alone: %v, %v", c, err)
	}
}

// TestConfigFileErrors: the grammar and errors are internal/conf's, with
// the file and line named.
func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"socket = /run/x.sock\n# fine\nnonsense = 1\n", `line 3: unknown key "nonsense"`},
		{"allow = 1000:eth0\nallow = 1001:eth1\n", "line 2: allow already set on line 1"},
		{"allow = 1000:eth0\nc = /etc/other.conf\n", `line 2: unknown key "c"`},
		{"allow = 1000:eth0\nconfig = /etc/other.conf\n", `line 2: unknown key "config"`},
		{"allow = 1000:eth0\nmetric = 5\n", `line 2: unknown key "metric"`},
		{"allow = 1000:eth0\nsocket /run/x.sock\n", "line 2: want key = value"},
		{"allow = 1000:eth0\nMax-DNS = 3\n", "line 2: key \"Max-DNS\""},
		{"allow = 1000:eth0\nsocket = \"/run/x.sock\n", "line 2: socket: unterminated quote"},
		{"allow = 1000:eth0 1001\n", "line 1: allow: \"1001\": want UID:IFACE"},
		{"allow =\n", "line 1: allow: want UID:IFACE"},
		{"allow = 1000:eth0\nmax-dns = many\n", "line 2: max-dns: "},
		{"allow = 1000:eth0\nallow-degraded-sandbox = landlock,selinux\n", `layer "selinux" cannot be degraded`},
		{"allow = 1000:eth0\nlog-level = chatty\n", `line 2: log-level: slog: level string "chatty"`},
	} {
		path := writeConf(t, tt.text)
		_, err := parseConfig([]string{"-c", path}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.want)
			continue
		}
		if strings.HasPrefix(tt.want, "line ") && !strings.Contains(err.Error(), path+": ") {
			t.Errorf("%q: %v does not name the file", tt.text, err)
		}
	}
}

func TestLogLevel(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want slog.Level
	}{
		{nil, slog.LevelInfo},
		{[]string{"-log-level", "debug"}, slog.LevelDebug},
		{[]string{"--log-level=info"}, slog.LevelInfo},
		{[]string{"-log-level", "warn"}, slog.LevelWarn},
		{[]string{"-log-level", "error"}, slog.LevelError},
	} {
		c, err := parseConfig(append([]string{"-allow", "1000:eth0"}, tt.args...), io.Discard)
		if err != nil || c.level != tt.want {
			t.Errorf("%v: %v, %v", tt.args, c, err)
		}
	}
}

func TestDegradeLayers(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		want string
	}{
		{"", ""},
		{"seccomp", "seccomp"},
		{"landlock,seccomp", "landlock,seccomp"},
		{"seccomp, landlock,seccomp", "seccomp,landlock"},
	} {
		c, err := parseConfig([]string{"-allow", "1000:eth0", "-allow-degraded-sandbox", tt.arg}, io.Discard)
		if err != nil || strings.Join(c.degradeLayers, ",") != tt.want {
			t.Errorf("%q: %v, %v", tt.arg, c, err)
		}
	}
}

// TestDaemon runs the real daemon, sandbox included, in a network namespace
// of its own with a veth pair, and talks to it from processes running as
// other uids.
func TestDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs ifchd in a new network namespace and clients under other uids")
	}
	const (
		okUID  = 4242
		badUID = 4343
	)
	// Directories other uids can traverse: one for the socket, one holding a
	// copy of this test binary for the clients to execute.
	pub, err := os.MkdirTemp("", "ifchd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	if err := os.Chmod(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(pub, "ifchd.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(pub, "ifchd.sock")
	chroot := t.TempDir() // root-owned, mode 0700: a valid empty chroot
	resolv := filepath.Join(t.TempDir(), "resolv.conf")

	args := []string{"-socket", sock, "-socket-mode", "0666",
		"-allow", fmt.Sprintf("%d:veth0:192.0.2.0/24", okUID), "-allow", "0:veth1",
		"-resolv-conf", resolv, "-ifch-user", "65534", "-empty-dir", chroot, "-log-level", "info"}
	var stderr bytes.Buffer
	d := exec.Command(self)
	if trace := os.Getenv("IFCHD_STRACE"); trace != "" {
		// Measurement mode (see ifch/apply/SYSCALLS.md): seccomp() is made
		// to fail, the daemon is told it may run without that layer, and
		// strace records every syscall it makes.
		d = exec.Command("strace", "-f", "-qq", "-o", trace, "-e", "inject=seccomp:error=EINVAL", self)
		args = append(args, "-allow-degraded-sandbox", "seccomp")
	}
	d.Env = []string{"IFCHD_TEST_ROLE=daemon", "IFCHD_TEST_ARGS=" + strings.Join(args, "\n")}
	d.Stderr = &stderr
	d.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once the daemon is reaped
	go func() { waitErr = d.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", stderr.String())
		}
	})

	// The daemon's namespace: add the veth pair there.
	nsh, err := netns.GetFromPid(d.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth0"}, PeerName: "veth1"}); err != nil {
		t.Fatal(err)
	}

	// Wait, bounded, for the socket to accept.
	var silent *net.UnixConn
	for i := 0; ; i++ {
		silent, err = net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("daemon not listening: %v", err)
		}
		select {
		case <-exited:
			t.Fatalf("daemon exited: %v", waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// An allowed peer (root here) that connects and then says nothing:
	// it must not block anyone else.
	defer silent.Close()

	client := func(uid int, msg string) string {
		t.Helper()
		c := exec.Command(bin)
		c.Env = []string{"IFCHD_TEST_ROLE=client", "IFCHD_TEST_SOCKET=" + sock, "IFCHD_TEST_MSG=" + msg}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		out, err := c.Output()
		if err != nil {
			t.Fatalf("client uid %d: %v: %s", uid, err, out)
		}
		return string(out)
	}
	cfg := "configure veth0\naddress 192.0.2.10/24\nrouter 192.0.2.1\ndns 192.0.2.53\nsearch example.com\nlifetime 600 300\n"

	if got := client(badUID, cfg); !strings.HasPrefix(got, "error not-permitted uid 4343 is not allowed") {
		t.Fatalf("unauthorized uid: %q", got)
	}
	if got := client(okUID, cfg); got != "ok\n" {
		t.Fatalf("authorized uid: %q", got)
	}
	addrs, err := h.AddrList(mustLink(t, h, "veth0"), netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "192.0.2.10/24" {
		t.Fatalf("addresses in the daemon's namespace: %v, %v", addrs, err)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 192.0.2.53\nsearch example.com\n") {
		t.Fatalf("resolv.conf:\n%s", b)
	}
	if got := client(okUID, strings.Replace(cfg, "192.0.2.10/24", "198.51.100.10/24", 1)); !strings.HasPrefix(got, "error out-of-range ") {
		t.Fatalf("address outside the uid's range: %q", got)
	}
	if got := client(okUID, "carrier veth1\n"); !strings.HasPrefix(got, "error wrong-interface ") {
		t.Fatalf("interface not allowed to the uid: %q", got)
	}
	if got := client(okUID, "carrier veth0\r\n"); !strings.HasPrefix(got, "error syntax ") {
		t.Fatalf("grammar violation: %q", got)
	}
	if got := client(okUID, "carrier veth0\n"); got != "ok carrier down\n" {
		t.Fatalf("carrier (peer down): %q", got)
	}
	if got := client(okUID, "deconfigure veth0\n"); got != "ok\n" {
		t.Fatalf("deconfigure: %q", got)
	}
	if addrs, _ := h.AddrList(mustLink(t, h, "veth0"), netlink.FAMILY_V4); len(addrs) != 0 {
		t.Fatalf("addresses left: %v", addrs)
	}

	// The silent peer is still served once it speaks.
	if r, err := ifch.Exchange(silent, &ifch.Carrier{Interface: "veth1"}); err != nil || r.Carrier != ifch.CarrierDown {
		t.Fatalf("silent peer: %+v, %v", r, err)
	}

	// SIGTERM: a clean exit, and never a seccomp kill on the way. Under
	// strace the signal goes to the traced daemon, not to strace.
	target := d.Process.Pid
	if os.Getenv("IFCHD_STRACE") != "" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", target, target))
		if _, err2 := fmt.Sscan(string(b), &target); err != nil || err2 != nil {
			t.Fatalf("traced daemon: %v %v", err, err2)
		}
	}
	if err := syscall.Kill(target, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("daemon exit: %v", waitErr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
	if strings.Contains(stderr.String(), "SIGSYS") {
		t.Fatalf("seccomp killed the daemon:\n%s", stderr.String())
	}
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Close(), os.Chmod(dst, mode))
}

// TestAllowEntries: each entry is its own policy with its own permissions,
// and an interface in two entries is refused.
func TestAllowEntries(t *testing.T) {
	e, err := ifchrole.ParseAllow("1000:eth1:10.1.0.0/16:dns")
	if err != nil || !e.NoRoutes || !e.NoMTU || e.NoDNS {
		t.Fatalf("%+v, %v: want dns only", e, err)
	}
	if e, err := ifchrole.ParseAllow("1000:eth1:any:none"); err != nil || !e.NoDNS || !e.NoRoutes || !e.NoMTU {
		t.Fatalf("%+v, %v: want nothing beyond the address", e, err)
	}
	if e, err := ifchrole.ParseAllow("1000:eth1"); err != nil || e.NoDNS || e.NoRoutes || e.NoMTU {
		t.Fatalf("%+v, %v: want every permission", e, err)
	}
	for _, bad := range []string{"1000:eth1:any:hostname", "1000:eth1:any:dns:x", "1000::any"} {
		if _, err := ifchrole.ParseAllow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, clash := range [][]string{{"1000:eth1", "1001:eth1"}, {"1000:eth1:10.0.0.0/8", "1000:eth1:192.168.0.0/16"}} {
		var allows []ifchrole.Allow
		for _, a := range clash {
			e, err := ifchrole.ParseAllow(a)
			if err != nil {
				t.Fatal(err)
			}
			allows = append(allows, e)
		}
		if _, err := ifchrole.Policies(allows, ifch.Policy{}); err == nil {
			t.Errorf("%v: an interface in two entries accepted", clash)
		}
	}
}

// TestVersion: ifchd --version (and version, -version) prints the version
// and exits 0, where it used to print the usage and exit 2.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		if got := run([]string{arg}, io.Discard); got != exitcode.OK {
			t.Errorf("ifchd %s exits %d, want 0", arg, got)
		}
	}
}
