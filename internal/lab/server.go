package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind names a DHCP server implementation the lab can run.
type Kind string

// The servers the lab can run, all from Debian packages.
const (
	// Dnsmasq is dnsmasq (package dnsmasq-base).
	Dnsmasq Kind = "dnsmasq"
	// Kea is ISC Kea's kea-dhcp4 (package kea-dhcp4-server).
	Kea Kind = "kea"
	// ISCDhcpd is ISC dhcpd (package isc-dhcp-server).
	ISCDhcpd Kind = "dhcpd"
	// Udhcpd is busybox udhcpd (package busybox).
	Udhcpd Kind = "udhcpd"
)

// Kinds lists every server kind, in a fixed order.
var Kinds = []Kind{Dnsmasq, Kea, ISCDhcpd, Udhcpd}

// binary is the program a kind runs, and the Debian package holding it.
func (k Kind) binary() (prog, pkg string) {
	switch k {
	case Dnsmasq:
		return "dnsmasq", "dnsmasq-base"
	case Kea:
		return "kea-dhcp4", "kea-dhcp4-server"
	case ISCDhcpd:
		return "dhcpd", "isc-dhcp-server"
	case Udhcpd:
		return "busybox", "busybox"
	}
	return "", ""
}

// StaticRoute is one classless static route (option 121, RFC 3442).
type StaticRoute struct {
	// Dst is the destination prefix.
	Dst netip.Prefix
	// Gateway is the router for Dst.
	Gateway netip.Addr
}

// ServerConfig is what a lab server hands out; every kind understands the
// same fields, so one config drives all four. Zero fields send nothing,
// except where a default is named.
type ServerConfig struct {
	// RangeStart and RangeEnd bound the dynamic pool; zero means host
	// addresses 100 to 199 of the subnet (or what of that fits).
	RangeStart, RangeEnd netip.Addr
	// LeaseTime is the lease (option 51); zero means 2 minutes, which is
	// also dnsmasq's minimum (shorter leases are raised to it there).
	LeaseTime time.Duration
	// RenewTime and RebindTime are T1 and T2 (options 58, 59).
	RenewTime, RebindTime time.Duration
	// Router is option 3.
	Router netip.Addr
	// DNS is option 6.
	DNS []netip.Addr
	// NTP is option 42.
	NTP []netip.Addr
	// Domain is option 15.
	Domain string
	// SearchList is option 119 (each server encodes it its own way,
	// usually with RFC 1035 compression).
	SearchList []string
	// ClasslessRoutes is option 121.
	ClasslessRoutes []StaticRoute
	// MTU is option 26.
	MTU int
	// Broadcast sends option 28 with the subnet's broadcast address.
	Broadcast bool
	// Hostname is option 12, handed to the lab's client (by its MAC where
	// the server supports that, to everyone with udhcpd).
	Hostname string
	// ProbeBeforeOffer lets the server check (by ICMP echo or ARP, as it
	// does by default) that an address is free before offering it. The
	// lab turns that off unless asked, so that offers come at once and a
	// squatter's address can still be offered (the client's conflict
	// check is what the tests exercise). Kea 2.2 never probes.
	ProbeBeforeOffer bool
	// NonAuthoritative turns off the authoritative mode the lab uses by
	// default (in which a server NAKs requests for addresses that do not
	// belong to its network).
	NonAuthoritative bool
	// Extra is appended to the generated configuration verbatim, in the
	// server's own syntax. For Kea it must be a JSON object whose members
	// are merged into "Dhcp4".
	Extra string
}

// netInfo is what a config renderer needs to know about the network.
type netInfo struct {
	subnet    netip.Prefix
	gateway   netip.Addr
	mask      netip.Addr
	broadcast netip.Addr
	ifName    string
	clientMAC net.HardwareAddr
	start     netip.Addr // default pool
	end       netip.Addr
}

// paths are the files a server uses, all in its own directory.
type paths struct {
	dir, conf, lease, log, pid string
}

// withDefaults fills in the defaulted fields and checks the rest.
func (c ServerConfig) withDefaults(ni netInfo) (ServerConfig, error) {
	if !c.RangeStart.IsValid() {
		c.RangeStart = ni.start
	}
	if !c.RangeEnd.IsValid() {
		c.RangeEnd = ni.end
	}
	if !ni.subnet.Contains(c.RangeStart) || !ni.subnet.Contains(c.RangeEnd) || c.RangeEnd.Less(c.RangeStart) {
		return c, fmt.Errorf("lab: pool %v-%v not inside %v", c.RangeStart, c.RangeEnd, ni.subnet)
	}
	if c.LeaseTime == 0 {
		c.LeaseTime = 2 * time.Minute
	}
	for _, d := range []time.Duration{c.LeaseTime, c.RenewTime, c.RebindTime} {
		if d < 0 || d%time.Second != 0 {
			return c, fmt.Errorf("lab: time %v: want whole non-negative seconds", d)
		}
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return c, fmt.Errorf("lab: mtu %d out of range", c.MTU)
	}
	for _, s := range append([]string{c.Domain, c.Hostname}, c.SearchList...) {
		if strings.ContainsAny(s, "\"'\\,; \t\r\n{}#") {
			return c, fmt.Errorf("lab: name %q has characters the server configs cannot quote", s)
		}
	}
	for _, r := range c.ClasslessRoutes {
		if !r.Dst.Addr().Is4() || !r.Gateway.Is4() {
			return c, fmt.Errorf("lab: static route %v via %v: want IPv4", r.Dst, r.Gateway)
		}
	}
	return c, nil
}

// Server is a DHCP server process running in a network's namespace. Its
// methods are safe for concurrent use; the lab's Close stops it.
type Server struct {
	kind Kind
	ns   *NS
	argv []string
	env  []string
	p    paths

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Kind is the server's implementation.
func (s *Server) Kind() Kind { return s.kind }

// ConfigFile is the path of the generated configuration.
func (s *Server) ConfigFile() string { return s.p.conf }

// LeaseFile is the path of the server's lease database (the format is the
// server's own).
func (s *Server) LeaseFile() string { return s.p.lease }

// LogFile is the path of the file collecting the server's output.
func (s *Server) LogFile() string { return s.p.log }

// Log returns the server's output so far (from every start).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.p.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// startTimeout bounds the wait for a server to listen on port 67.
const startTimeout = 15 * time.Second

// start runs the server and waits until it listens on UDP port 67.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		select {
		case <-s.done:
		default:
			return fmt.Errorf("lab: %s already running", s.kind)
		}
	}
	logf, err := os.OpenFile(s.p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	fmt.Fprintf(logf, "---- lab: %s starting: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(s.argv, " "))
	cmd := s.ns.Command(context.Background(), s.argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Dir = s.p.dir
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("lab: start %s: %w", s.kind, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("lab: %s exited during start-up: %s", s.kind, tail(s.Log(), 2000))
		default:
		}
		ok, err := listensUDP(s.ns, 67)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: %s not listening on port 67 after %v: %s", s.kind, startTimeout, tail(s.Log(), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop terminates the server (SIGTERM, then SIGKILL after 3 seconds) and
// waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	pg := -s.cmd.Process.Pid
	_ = syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(pg, syscall.SIGKILL)
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("lab: %s (pid %d) survives SIGKILL", s.kind, s.cmd.Process.Pid)
	}
}

// Restart stops the server and starts it again with the same
// configuration and lease database.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start()
}

// listensUDP reports whether some socket in ns is bound to UDP port.
func listensUDP(ns *NS, port int) (bool, error) {
	var found bool
	err := ns.Do(func() error {
		// thread-self: /proc/self/net would show the thread group
		// leader's namespace, not this thread's.
		b, err := os.ReadFile("/proc/thread-self/net/udp")
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		want := fmt.Sprintf(":%04X", port)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 2 && strings.HasSuffix(f[1], want) {
				found = true
			}
		}
		return nil
	})
	return found, err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// findBinary looks prog up in PATH and then in the sbin directories that
// a non-login root shell may lack.
func findBinary(prog string) (string, error) {
	if p, err := exec.LookPath(prog); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: %s not found", prog)
}

// StartDnsmasq starts dnsmasq on the first network.
func (l *Lab) StartDnsmasq(c ServerConfig) (*Server, error) { return l.Net.Start(Dnsmasq, c) }

// StartKea starts kea-dhcp4 on the first network.
func (l *Lab) StartKea(c ServerConfig) (*Server, error) { return l.Net.Start(Kea, c) }

// StartISCDhcpd starts ISC dhcpd on the first network.
func (l *Lab) StartISCDhcpd(c ServerConfig) (*Server, error) { return l.Net.Start(ISCDhcpd, c) }

// StartUdhcpd starts busybox udhcpd on the first network.
func (l *Lab) StartUdhcpd(c ServerConfig) (*Server, error) { return l.Net.Start(Udhcpd, c) }

// Start writes the configuration for a server of the given kind into a
// directory of its own, starts it in n's namespace listening on the
// bridge, and waits (bounded) until it listens on port 67.
func (n *Network) Start(kind Kind, c ServerConfig) (*Server, error) {
	l := n.lab
	prog, _ := kind.binary()
	if prog == "" {
		return nil, fmt.Errorf("lab: unknown server kind %q", kind)
	}
	bin, err := findBinary(prog)
	if err != nil {
		return nil, err
	}
	ni := netInfo{
		subnet:    n.Subnet,
		gateway:   n.Gateway(),
		mask:      n.Mask(),
		broadcast: n.Broadcast(),
		ifName:    BridgeIf,
	}
	size := 1<<(32-n.Subnet.Bits()) - 2
	ni.start, ni.end = n.Host(min(100, size/2+1)), n.Host(min(199, size))
	if mac, err := l.Client.MAC(); err == nil {
		ni.clientMAC = mac
	}
	c, err = c.withDefaults(ni)
	if err != nil {
		return nil, err
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errClosed
	}
	seq := len(l.servers) + 1
	l.mu.Unlock()
	dir := filepath.Join(l.dir, fmt.Sprintf("%s-%d-net%d", kind, seq, n.index))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	p := paths{
		dir:   dir,
		log:   filepath.Join(dir, "log"),
		pid:   filepath.Join(dir, "pid"),
		lease: filepath.Join(dir, "leases"),
	}
	s := &Server{kind: kind, ns: n.NS, p: p}
	var conf string
	switch kind {
	case Dnsmasq:
		s.p.conf = filepath.Join(dir, "dnsmasq.conf")
		conf = dnsmasqConf(c, ni, s.p)
		s.argv = []string{bin, "--keep-in-foreground", "--conf-file=" + s.p.conf}
	case Kea:
		s.p.conf = filepath.Join(dir, "kea-dhcp4.json")
		s.p.lease = filepath.Join(dir, "leases.csv")
		conf, err = keaConf(c, ni, s.p)
		if err != nil {
			return nil, err
		}
		s.argv = []string{bin, "-c", s.p.conf}
		// Keep Kea's pid and lock files out of /run/kea.
		s.env = []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir}
	case ISCDhcpd:
		s.p.conf = filepath.Join(dir, "dhcpd.conf")
		conf = dhcpdConf(c, ni)
		// dhcpd refuses to start without an existing lease file.
		if err := os.WriteFile(s.p.lease, nil, 0o644); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		s.argv = []string{bin, "-4", "-f", "-d", "-cf", s.p.conf, "-lf", s.p.lease, "-pf", s.p.pid, BridgeIf}
	case Udhcpd:
		s.p.conf = filepath.Join(dir, "udhcpd.conf")
		conf = udhcpdConf(c, ni, s.p)
		if err := os.WriteFile(s.p.lease, nil, 0o644); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		s.argv = []string{bin, "udhcpd", "-f", s.p.conf}
		if !c.ProbeBeforeOffer {
			s.argv = []string{bin, "udhcpd", "-f", "-a", "0", s.p.conf}
		}
	}
	if err := os.WriteFile(s.p.conf, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errClosed
	}
	l.servers = append(l.servers, s)
	l.mu.Unlock()
	if err := s.start(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}
