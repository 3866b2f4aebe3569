package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/vishvananda/netlink"
)

// Helpers for the lab scenarios: the client's log as records, bounded
// waits on it, dnsmasq's log, and what the kernel says about the client's
// address.

// logRec is one log/slog text line of the client (any role).
type logRec struct {
	time time.Time
	msg  string
	kv   map[string]string
	line string
}

func (r logRec) String() string { return r.line }

// parseLogLine parses `key=value key="quoted value" ...`; lines that are
// not slog text (a role's plain stderr) are not records.
func parseLogLine(s string) (logRec, bool) {
	r := logRec{kv: map[string]string{}, line: s}
	rest := s
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return logRec{}, false
		}
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				return logRec{}, false
			}
			uq, _ := strconv.Unquote(q)
			r.kv[k] = uq
			rest = v[len(q):]
		} else {
			val, after, _ := strings.Cut(v, " ")
			r.kv[k] = val
			rest = after
		}
	}
	t, err := time.Parse(time.RFC3339Nano, r.kv["time"])
	if err != nil {
		return logRec{}, false
	}
	r.time, r.msg = t, r.kv["msg"]
	return r, true
}

// records parses the client's output so far.
func (c *client) records() []logRec {
	var out []logRec
	for _, line := range strings.Split(c.out.String(), "\n") {
		if r, ok := parseLogLine(line); ok {
			out = append(out, r)
		}
	}
	return out
}

// mark is the number of records so far: waits from it see only later ones.
func (c *client) mark() int { return len(c.records()) }

// find returns the first record at or after index from that matches.
func (c *client) find(from int, match func(logRec) bool) (logRec, int, bool) {
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if match(rs[i]) {
			return rs[i], i, true
		}
	}
	return logRec{}, -1, false
}

// waitRec waits (bounded) for a record at or after index from, and
// returns it with its index. It fails the test if the client exits first.
func (c *client) waitRec(d time.Duration, what string, from int, match func(logRec) bool) (logRec, int) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if r, i, ok := c.find(from, match); ok {
			return r, i
		}
		select {
		case err := <-c.done:
			c.done <- err
			// One last look: the line may have come with the exit.
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
func (c *client) count(from int, match func(logRec) bool) int {
	n := 0
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if match(rs[i]) {
			n++
		}
	}
	return n
}

// state matches the engine's "state X" line, coming from one of froms
// (any if none).
func state(to string, froms ...string) func(logRec) bool {
	return func(r logRec) bool {
		if r.msg != "state "+to {
			return false
		}
		if len(froms) == 0 {
			return true
		}
		for _, f := range froms {
			if r.kv["from"] == f {
				return true
			}
		}
		return false
	}
}

func msgIs(msg string) func(logRec) bool {
	return func(r logRec) bool { return r.msg == msg }
}

// states lists the engine's state changes from index from as
// "FROM>TO" strings, for failure messages and sequence checks.
func (c *client) states(from int) []string {
	var out []string
	rs := c.records()
	for i := from; i < len(rs); i++ {
		if to, ok := strings.CutPrefix(rs[i].msg, "state "); ok && rs[i].kv["role"] == "engine" {
			out = append(out, rs[i].kv["from"]+">"+to)
		}
	}
	return out
}

// rolePid is the pid the supervisor logged for a role.
func (c *client) rolePid(role string) int {
	c.t.Helper()
	r, _ := c.waitRec(10*time.Second, role+"'s pid", 0, func(r logRec) bool {
		return r.msg == "role sandboxed" && r.kv["child"] == role
	})
	pid, err := strconv.Atoi(r.kv["pid"])
	if err != nil || pid <= 1 {
		c.t.Fatalf("bad pid in %q", r.line)
	}
	return pid
}

// boundAddr waits for the client to bind (from index from) and returns
// the address it logged.
func (c *client) boundAddr(d time.Duration, from int) (netip.Prefix, int) {
	c.t.Helper()
	r, i := c.waitRec(d, "state BOUND", from, state("BOUND"))
	p, err := netip.ParsePrefix(r.kv["address"])
	if err != nil {
		c.t.Fatalf("bad address in %q", r.line)
	}
	return p, i
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

// savedLease returns the saved lease, or nil if there is none (yet).
func (c *client) savedLease(iface string) *dhcpclient.Lease {
	b, err := os.ReadFile(filepath.Join(c.stateDir, iface+".lease"))
	if err != nil {
		return nil
	}
	l, err := dhcpclient.ParseLease(b)
	if err != nil {
		c.t.Fatalf("saved lease: %v\n%s", err, b)
	}
	return l
}

// waitLease waits (bounded) for a saved lease that satisfies ok: the log
// line of a bind comes just before the engine writes the file.
func (c *client) waitLease(iface string, what string, ok func(*dhcpclient.Lease) bool) *dhcpclient.Lease {
	c.t.Helper()
	var l *dhcpclient.Lease
	waitFor(c.t, 5*time.Second, "a saved lease: "+what, func() bool {
		l = c.savedLease(iface)
		return l != nil && ok(l)
	})
	return l
}
