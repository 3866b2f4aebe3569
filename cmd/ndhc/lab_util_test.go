package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/vishvananda/netlink"
)

// Helpers for the lab scenarios: the client's event records (--event-fd),
// bounded waits on them, dnsmasq's log, and what the kernel says about the
// client's address.

// records returns the event records so far.
func (c *daemon) records() []event.Record {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return append([]event.Record(nil), c.events...)
}

// mark is the number of records so far: waits from it see only later ones.
func (c *daemon) mark() int { return len(c.records()) }

// find returns the first record at or after index from that matches.
func (c *daemon) find(from int, match func(event.Record) bool) (event.Record, int, bool) {
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if match(rs[i]) {
			return rs[i], i, true
		}
	}
	return event.Record{}, -1, false
}

// waitRec waits (bounded) for a record at or after index from, and
// returns it with its index. It fails the test if the client exits first.
func (c *daemon) waitRec(d time.Duration, what string, from int, match func(event.Record) bool) (event.Record, int) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if r, i, ok := c.find(from, match); ok {
			return r, i
		}
		select {
		case err := <-c.done:
			c.done <- err
			// One last look: the record may have come with the exit.
			<-c.evDone
			if r, i, ok := c.find(from, match); ok {
				return r, i
			}
			c.t.Fatalf("ndhc exited (%v) while waiting for %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is the number of records at or after from that match.
func (c *daemon) count(from int, match func(event.Record) bool) int {
	n := 0
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if match(rs[i]) {
			n++
		}
	}
	return n
}

// state matches the engine's change to state to, coming from one of
// froms (any if none).
func state(to string, froms ...string) func(event.Record) bool {
	return func(r event.Record) bool {
		if r.Event != "state" || r.To != to {
			return false
		}
		return len(froms) == 0 || slices.Contains(froms, r.From)
	}
}

// is matches records of one kind.
func is(kind string) func(event.Record) bool {
	return func(r event.Record) bool { return r.Event == kind }
}

// states lists the engine's state changes from index from as
// "FROM>TO" strings, for failure messages and sequence checks.
func (c *daemon) states(from int) []string {
	var out []string
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if rs[i].Event == "state" {
			out = append(out, rs[i].From+">"+rs[i].To)
		}
	}
	return out
}

// rolePid is the pid the supervisor reported for a role.
func (c *daemon) rolePid(role string) int {
	c.t.Helper()
	r, _ := c.waitRec(10*time.Second, role+"'s pid", 0, func(r event.Record) bool {
		return r.Event == "ready" && r.Role == role
	})
	if r.Pid <= 1 {
		c.t.Fatalf("bad pid in %+v", r)
	}
	return r.Pid
}

// ready returns the ready records by role.
func (c *daemon) ready() map[string]event.Record {
	out := map[string]event.Record{}
	for _, r := range c.records() {
		if r.Event == "ready" {
			out[r.Role] = r
		}
	}
	return out
}

// boundAddr waits for the client to bind (from index from) and returns
// the address it reported.
func (c *daemon) boundAddr(d time.Duration, from int) (netip.Prefix, int) {
	c.t.Helper()
	r, i := c.waitRec(d, "state BOUND", from, state("BOUND"))
	p, err := netip.ParsePrefix(r.Address)
	if err != nil {
		c.t.Fatalf("bad address in %+v", r)
	}
	return p, i
}

// logKeys returns the keys of one log/slog text line (`key=value
// key="quoted value" ...`), or false for a line that is not one (a role's
// plain stderr).
func logKeys(line string) ([]string, bool) {
	var keys []string
	rest := line
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return nil, false
		}
		keys = append(keys, k)
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				return nil, false
			}
			rest = v[len(q):]
		} else {
			_, rest, _ = strings.Cut(v, " ")
		}
	}
	return keys, len(keys) > 0 && keys[0] == "time"
}

var rolePrefix = regexp.MustCompile(`^([a-z]+)\[[0-9]+\]: `)

// checkLogLines fails the test on a log line that names an attribute
// twice (role=ifch iface=eth0 role=ifch ...).
func checkLogLines(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		// A role's line comes through the supervisor as ROLE[PID]: LINE.
		if m := rolePrefix.FindStringSubmatch(line); m != nil {
			line = line[len(m[0]):]
			if !regexp.MustCompile(` role=`+m[1]+`( |$)`).MatchString(line) && strings.Contains(line, " role=") {
				t.Errorf("line of %s names another role: %q", m[1], line)
			}
		}
		keys, ok := logKeys(line)
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("attribute %q repeated in %q", k, line)
				break
			}
			seen[k] = true
		}
	}
}

// dnsmasq's log-dhcp lines look like
// "dnsmasq-dhcp[12]: 3456 DHCPREQUEST(br0) 10.77.0.150 02:..:..".
var dnsmasqMsgRE = regexp.MustCompile(`\b(DHCP[A-Z]+)\(br0\)(?: (\d+\.\d+\.\d+\.\d+))?`)

type serverMsg struct {
	typ  string // DHCPDISCOVER, DHCPACK, ...
	addr string // the address logged with it, if any
}

// serverMsgs lists the DHCP messages dnsmasq logged after byte offset off
// of its log.
func serverMsgs(s *lab.Server, off int) []serverMsg {
	log := s.Log()
	if off > len(log) {
		off = len(log)
	}
	var out []serverMsg
	for _, m := range dnsmasqMsgRE.FindAllStringSubmatch(log[off:], -1) {
		out = append(out, serverMsg{typ: m[1], addr: m[2]})
	}
	return out
}

func countMsgs(ms []serverMsg, typ, addr string) int {
	n := 0
	for _, m := range ms {
		if m.typ == typ && (addr == "" || m.addr == addr) {
			n++
		}
	}
	return n
}

// waitServer waits (bounded) until dnsmasq logged a message of type typ
// (for addr, if set) after offset off.
func waitServer(t *testing.T, s *lab.Server, off int, d time.Duration, typ, addr string) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("%s %s in the server's log", typ, addr), func() bool {
		return countMsgs(serverMsgs(s, off), typ, addr) > 0
	})
}

// kernelAddr is one IPv4 address on the client's interface as the kernel
// reports it, with its lifetimes in seconds.
type kernelAddr struct {
	prefix            netip.Prefix
	valid, preferred  int
	permanent, exists bool
}

// clientKernelAddr returns the one IPv4 address on the client's
// interface; it fails the test if there are several.
func clientKernelAddr(t *testing.T, l *lab.Lab) kernelAddr {
	t.Helper()
	var out []kernelAddr
	err := l.Client.Do(func() error {
		lk, err := netlink.LinkByName(l.Client.IfName())
		if err != nil {
			return err
		}
		as, err := netlink.AddrList(lk, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range as {
			ip, ok := netip.AddrFromSlice(a.IP.To4())
			if !ok {
				continue
			}
			bits, _ := a.Mask.Size()
			out = append(out, kernelAddr{prefix: netip.PrefixFrom(ip, bits), valid: a.ValidLft, preferred: a.PreferedLft,
				permanent: a.Flags&syscall.IFA_F_PERMANENT != 0, exists: true})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	switch len(out) {
	case 0:
		return kernelAddr{}
	case 1:
		return out[0]
	}
	t.Fatalf("several addresses on the client's interface: %+v", out)
	return kernelAddr{}
}

// hasDefaultVia reports whether the client namespace has a default route
// via gw.
func hasDefaultVia(t *testing.T, l *lab.Lab, gw netip.Addr) bool {
	t.Helper()
	rs, err := l.Client.Routes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Dst.Bits() == 0 && r.Gateway == gw {
			return true
		}
	}
	return false
}

// processGone reports whether pid no longer exists (or is a zombie).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	b := string(raw)
	// The state follows the command name in parentheses.
	i := strings.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// savedLease returns the saved lease, or nil if there is none (yet): the
// file is missing or empty.
func (c *daemon) savedLease(iface string) *dhcpclient.Lease {
	c.t.Helper()
	l, err := readLease(filepath.Join(c.stateDir, iface, engine.LeaseFile))
	if err != nil {
		c.t.Fatalf("saved lease: %v", err)
	}
	return l
}

// readLease reads a lease file: nil when it is missing or empty. The
// engine writes it in place, so a read that caught a write half done is
// made again once the write is over.
func readLease(path string) (*dhcpclient.Lease, error) {
	var err error
	for range 3 {
		var b []byte
		b, err = os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var l *dhcpclient.Lease
		if l, err = dhcpclient.ParseLease(b); err == nil {
			return l, nil
		}
		err = fmt.Errorf("%w\n%s", err, b)
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// waitLease waits (bounded) for a saved lease that satisfies ok: the
// state record of a bind comes just before the engine writes the file.
func (c *daemon) waitLease(iface string, what string, ok func(*dhcpclient.Lease) bool) *dhcpclient.Lease {
	c.t.Helper()
	var l *dhcpclient.Lease
	waitFor(c.t, 5*time.Second, "a saved lease: "+what, func() bool {
		l = c.savedLease(iface)
		return l != nil && ok(l)
	})
	return l
}
