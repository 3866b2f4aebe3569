package apply

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/ifch"
)

// testNetns is a network namespace that exists only for one test: it is
// created by unshare on a thread that is never returned to the Go scheduler,
// and it disappears when the handle and the monitor socket are closed.
type testNetns struct {
	h   *netlink.Handle
	mon int // rtnetlink socket subscribed to link, IPv4 address and route events
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and a veth pair")
	}
	type result struct {
		ns  *testNetns
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the runtime ends
		// the thread, and the namespace with it once our sockets close.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			ch <- result{err: err}
			return
		}
		mon, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err == nil {
			err = unix.Bind(mon, &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
				Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV4_ROUTE})
		}
		if err != nil {
			h.Close()
			ch <- result{err: fmt.Errorf("monitor socket: %w", err)}
			return
		}
		ch <- result{ns: &testNetns{h: h, mon: mon}}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		r.ns.h.Close()
		unix.Close(r.ns.mon)
	})
	return r.ns
}

// events drains the monitor socket and names the rtnetlink messages seen.
func (ns *testNetns) events(t *testing.T) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 1<<16)
	for range 1000 {
		n, _, err := unix.Recvfrom(ns.mon, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return out
		}
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			t.Fatalf("monitor: %v", err)
		}
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("type %d", m.Header.Type))
		}
	}
	t.Fatal("monitor: endless events")
	return nil
}

// snapshot renders the namespace's IPv4 state on a link as text, lifetimes
// left out, from netlink dumps that do not go through the Kernel interface.
func (ns *testNetns) snapshot(t *testing.T, name string) string {
	t.Helper()
	l, err := ns.h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("mtu %d up %v", l.Attrs().MTU, l.Attrs().RawFlags&unix.IFF_UP != 0))
	addrs, err := ns.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		lines = append(lines, fmt.Sprintf("addr %s brd %v permanent %v", a.IPNet, a.Broadcast, a.Flags&unix.IFA_F_PERMANENT != 0))
	}
	routes, err := ns.h.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Table != unix.RT_TABLE_MAIN {
			continue
		}
		lines = append(lines, fmt.Sprintf("route %v via %v proto %d metric %d scope %d flags %d", r.Dst, r.Gw, r.Protocol, r.Priority, r.Scope, r.Flags))
	}
	slices.Sort(lines[1:])
	return strings.Join(lines, "\n")
}

func (ns *testNetns) addVeth(t *testing.T, name, peer string) {
	t.Helper()
	if err := ns.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 1500}, PeerName: peer}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	p, err := ns.h.LinkByName(peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.h.LinkSetUp(p); err != nil {
		t.Fatal(err)
	}
}

func TestNetlinkIntegration(t *testing.T) {
	ns := newTestNetns(t)
	ns.addVeth(t, "eth0", "peer0")
	// An administrator's address, which ifch must leave alone.
	l, err := ns.h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 16, 0, 1), Mask: net.CIDRMask(12, 32)}}); err != nil {
		t.Fatal(err)
	}

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	rc, err := OpenResolvConf(resolv)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	a := New(&Netlink{h: ns.h}, Config{Metric: 77, Resolv: rc})
	pol := &ifch.Policy{Interfaces: []string{"eth0"}, AllowOffLinkRouter: true}
	cli, done := startServe(t, a, pol)
	exchange := func(msg string) ifch.Reply {
		t.Helper()
		c, err := ifch.Unmarshal([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ifch.Exchange(cli, c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ok := func(msg string) {
		t.Helper()
		if r := exchange(msg); r.Code != ifch.CodeOK {
			t.Fatalf("%q: %+v", msg, r)
		}
	}

	// Apply.
	if r := exchange("carrier eth0\n"); r.Carrier != ifch.CarrierDown {
		t.Fatalf("carrier before up: %+v", r)
	}
	ok(cfgA)
	want := "mtu 1400 up true\n" +
		"addr 172.16.0.1/12 brd 172.31.255.255 permanent true\n" +
		"addr 192.0.2.10/24 brd 192.0.2.255 permanent false\n" +
		"route 0.0.0.0/0 via 192.0.2.1 proto 16 metric 77 scope 0 flags 0\n" +
		"route 172.16.0.0/12 via <nil> proto 2 metric 0 scope 253 flags 0\n" +
		"route 192.0.2.0/24 via <nil> proto 2 metric 0 scope 253 flags 0\n" +
		"route 198.51.100.0/24 via 192.0.2.254 proto 16 metric 77 scope 0 flags 0\n" +
		"route 203.0.113.0/25 via <nil> proto 16 metric 77 scope 253 flags 0"
	if got := ns.snapshot(t, "eth0"); got != want {
		t.Fatalf("after configure:\n%s\nwant:\n%s", got, want)
	}
	addrs, _ := (&Netlink{h: ns.h}).Addrs(Link{Index: l.Attrs().Index, Name: "eth0"})
	for _, ad := range addrs {
		if ad.Prefix == netip.MustParsePrefix("192.0.2.10/24") && (ad.Valid < 3590 || ad.Valid > 3600 || ad.Preferred > 1800) {
			t.Fatalf("lifetimes %d/%d", ad.Valid, ad.Preferred)
		}
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 192.0.2.53\nsearch example.com\n") {
		t.Fatalf("resolv.conf:\n%s", b)
	}
	// Carrier comes once both ends are up; bounded wait for operstate.
	var r ifch.Reply
	for range 50 {
		if r = exchange("carrier eth0\n"); r.Carrier == ifch.CarrierUp {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Carrier != ifch.CarrierUp {
		t.Fatalf("carrier after up: %+v", r)
	}

	// Re-apply: the kernel sees no change at all.
	ns.events(t)
	ok(cfgA)
	if ev := ns.events(t); len(ev) != 0 {
		t.Fatalf("re-apply caused netlink events: %v", ev)
	}
	if got := ns.snapshot(t, "eth0"); got != want {
		t.Fatalf("after re-apply:\n%s", got)
	}

	// Update: new router, then a new subnet with an infinite lease.
	ok(cfgNewRouter)
	if got := ns.snapshot(t, "eth0"); !strings.Contains(got, "route 0.0.0.0/0 via 192.0.2.2 proto 16 metric 77") ||
		strings.Contains(got, "via 192.0.2.1 ") {
		t.Fatalf("after router change:\n%s", got)
	}
	ok(cfgNewAddr)
	want = "mtu 1500 up true\n" +
		"addr 10.9.0.5/16 brd 10.9.255.255 permanent false\n" +
		"addr 172.16.0.1/12 brd 172.31.255.255 permanent true\n" +
		"route 0.0.0.0/0 via 10.9.0.1 proto 16 metric 77 scope 0 flags 0\n" +
		"route 10.9.0.0/16 via <nil> proto 2 metric 0 scope 253 flags 0\n" +
		"route 172.16.0.0/12 via <nil> proto 2 metric 0 scope 253 flags 0"
	if got := ns.snapshot(t, "eth0"); got != want {
		t.Fatalf("after address change:\n%s\nwant:\n%s", got, want)
	}
	// A /32 lease with an off-link router gets the onlink flag.
	ok("configure eth0\naddress 100.64.7.9/32\nrouter 100.64.0.1\nlifetime 600 300\n")
	if got := ns.snapshot(t, "eth0"); !strings.Contains(got, "route 0.0.0.0/0 via 100.64.0.1 proto 16 metric 77 scope 0 flags 4") {
		t.Fatalf("after /32 lease:\n%s", got)
	}

	// Deconfigure: only the administrator's address and kernel routes stay.
	ok("deconfigure eth0\n")
	want = "mtu 1500 up true\n" +
		"addr 172.16.0.1/12 brd 172.31.255.255 permanent true\n" +
		"route 172.16.0.0/12 via <nil> proto 2 metric 0 scope 253 flags 0"
	if got := ns.snapshot(t, "eth0"); got != want {
		t.Fatalf("after deconfigure:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := os.ReadFile(resolv); strings.Contains(string(b), "nameserver") {
		t.Fatalf("resolv.conf after deconfigure:\n%s", b)
	}
	ns.events(t)
	ok("deconfigure eth0\n")
	if ev := ns.events(t); len(ev) != 0 {
		t.Fatalf("second deconfigure caused netlink events: %v", ev)
	}

	// A kernel refusal is reported and rolled back: the policy allows
	// off-link routers, but the kernel refuses an onlink gateway that is a
	// local address, after the MTU and the address were already changed.
	r = exchange(strings.Replace(cfgA, "router 192.0.2.1", "router 172.16.0.1", 1))
	if r.Code != ifch.ErrApply || !strings.Contains(r.Reason, "rolled back") {
		t.Fatalf("refused mtu: %+v", r)
	}
	if got := ns.snapshot(t, "eth0"); got != want {
		t.Fatalf("after rollback:\n%s\nwant:\n%s", got, want)
	}
	// A missing link is its own code.
	a2 := New(&Netlink{h: ns.h}, Config{})
	if err := a2.Deconfigure("nosuch0"); !errors.Is(err, ifch.ErrNoLink) {
		t.Fatalf("missing link: %v", err)
	}

	cli.Close()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}
