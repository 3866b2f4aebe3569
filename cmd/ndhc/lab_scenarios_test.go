package main

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/lab"
)

// The scenarios of issue 5: the real sandboxed client (all four roles)
// against real servers in the namespace lab. Every test asserts what can
// be observed from outside: the interface's address and routes, the saved
// lease, the client's log, the server's log, the packets on the wire and
// exit codes. Most run in parallel with each other: their waits are for
// protocol timers.

// TestLabRenewAtT1: with T1 = 5 s and T2 = 8 s on a 2 minute lease, the
// client renews by unicast at T1 (RENEWING -> BOUND) and the address's
// lifetime on the interface is refreshed.
func TestLabRenewAtT1(t *testing.T) {
	t.Parallel()
	l := newLab(t, "renew")
	cfg := richServer(l)
	cfg.LeaseTime, cfg.RenewTime, cfg.RebindTime = 2*time.Minute, 5*time.Second, 8*time.Second
	srv, err := l.StartDnsmasq(cfg)
	if err != nil {
		t.Fatal(err)
	}
	capt, err := l.Client.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{})
	bound, bi := c.waitRec(20*time.Second, "a lease", 0, state("BOUND"))
	addr, err := netip.ParsePrefix(bound.Address)
	if err != nil || !l.Net.Subnet.Contains(addr.Addr()) {
		t.Fatalf("bound to %q, want an address in %v", bound.Address, l.Net.Subnet)
	}
	first := c.waitLease(l.Client.IfName(), "the first lease", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	if first.LeaseTime != 2*time.Minute || first.T1 != 5*time.Second || first.T2 != 8*time.Second {
		t.Fatalf("lease %v t1 %v t2 %v, want 2m0s 5s 8s", first.LeaseTime, first.T1, first.T2)
	}

	// Just before T1 the kernel has counted the lifetime down.
	time.Sleep(time.Until(bound.Time.Add(4 * time.Second)))
	before := clientKernelAddr(t, l)
	if before.prefix != addr || before.permanent || before.valid > 117 || before.valid < 100 {
		t.Fatalf("before T1: %+v, want %v with a valid lifetime counted down from 120 s", before, addr)
	}

	ren, ri := c.waitRec(10*time.Second, "RENEWING", bi, state("RENEWING", "BOUND"))
	if ren.Cause != "t1" {
		t.Errorf("RENEWING for %q, want t1", ren.Cause)
	}
	if dt := ren.Time.Sub(bound.Time); dt < 4500*time.Millisecond || dt > 6500*time.Millisecond {
		t.Errorf("RENEWING %v after BOUND, want T1 = 5 s", dt)
	}
	rebound, _ := c.waitRec(5*time.Second, "BOUND after RENEWING", ri, state("BOUND", "RENEWING"))
	if rebound.Address != addr.String() {
		t.Errorf("renewed %s, want %v", rebound.Address, addr)
	}
	if dt := rebound.Time.Sub(ren.Time); dt > 2*time.Second {
		t.Errorf("renewal took %v", dt)
	}

	// The lifetime is back to about the whole lease.
	var after kernelAddr
	waitFor(t, 3*time.Second, "a refreshed lifetime", func() bool {
		after = clientKernelAddr(t, l)
		return after.prefix == addr && after.valid >= 116 && after.valid > before.valid
	})
	if after.preferred < 116 {
		t.Errorf("preferred lifetime %d after renewal", after.preferred)
	}

	// The renewal went by unicast from the leased address to the server,
	// and the server answered it.
	gw := l.Net.Gateway()
	var unicast, broadcastAfterBind int
	for _, p := range capt.Packets() {
		if !p.Outgoing || p.MessageType() != lab.Request {
			continue
		}
		switch {
		case p.Src == netip.AddrPortFrom(addr.Addr(), 68) && p.Dst == netip.AddrPortFrom(gw, 67):
			unicast++
		case p.Time.After(bound.Time):
			broadcastAfterBind++
		}
	}
	if unicast == 0 || broadcastAfterBind != 0 {
		t.Errorf("requests after bind: %d unicast to %v, %d other; want unicast only", unicast, gw, broadcastAfterBind)
	}
	ms := serverMsgs(srv, 0)
	if n := countMsgs(ms, "DHCPACK", addr.Addr().String()); n < 2 {
		t.Errorf("server sent %d DHCPACKs for %v, want at least 2", n, addr.Addr())
	}
	if n := countMsgs(ms, "DHCPDISCOVER", ""); n != 1 {
		t.Errorf("%d DHCPDISCOVERs, want 1", n)
	}
	c.waitLease(l.Client.IfName(), "the renewed lease", func(ls *dhcpclient.Lease) bool {
		return ls.Addr == addr && ls.Acquired.After(first.Acquired)
	})
	t.Logf("states: %v", c.states(0))
}

// TestLabReleaseSignals: SIGUSR2 releases (DHCPRELEASE, address and
// lease file gone) and the client stays alive and idle; SIGUSR1 leases
// again; SIGTERM with --release-on-exit releases and exits 0; SIGINT
// exits 0 and, without --release-on-exit, leaves the address.
func TestLabReleaseSignals(t *testing.T) {
	t.Parallel()
	l := newLab(t, "release")
	srv, err := l.StartDnsmasq(richServer(l))
	if err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	c := startClient(t, l, clientOpts{args: []string{"--release-on-exit"}})
	addr, _ := c.boundAddr(20*time.Second, 0)
	c.waitLease(iface, "first", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	if !hasDefaultVia(t, l, l.Net.Gateway()) {
		t.Fatal("no default route after the bind")
	}

	// SIGUSR2: release, stay alive, do nothing.
	m, off := c.mark(), len(srv.Log())
	c.cmd.Process.Signal(syscall.SIGUSR2)
	c.waitRec(5*time.Second, "RELEASED", m, state("RELEASED", "BOUND"))
	waitServer(t, srv, off, 5*time.Second, "DHCPRELEASE", addr.Addr().String())
	waitFor(t, 5*time.Second, "the address to go", func() bool { return !clientKernelAddr(t, l).exists })
	if hasDefaultVia(t, l, l.Net.Gateway()) {
		t.Error("default route left after the release")
	}
	waitFor(t, 5*time.Second, "the lease file to go", func() bool { return c.savedLease(iface) == nil })
	m2 := c.mark()
	time.Sleep(2 * time.Second)
	select {
	case err := <-c.done:
		t.Fatalf("client exited after SIGUSR2: %v", err)
	default:
	}
	if ms := serverMsgs(srv, off); len(ms) != 1 {
		t.Errorf("server saw %v after the release, want only the DHCPRELEASE", ms)
	}
	if s := c.states(m2); len(s) != 0 {
		t.Errorf("released client changed state: %v", s)
	}

	// SIGUSR1: a lease again, from scratch.
	m, off = c.mark(), len(srv.Log())
	c.cmd.Process.Signal(syscall.SIGUSR1)
	c.waitRec(5*time.Second, "INIT after RELEASED", m, state("INIT", "RELEASED"))
	addr2, _ := c.boundAddr(20*time.Second, m)
	waitFor(t, 5*time.Second, "the address back", func() bool { return clientKernelAddr(t, l).prefix == addr2 })
	c.waitLease(iface, "after SIGUSR1", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr2 })
	if ms := serverMsgs(srv, off); countMsgs(ms, "DHCPDISCOVER", "") != 1 || countMsgs(ms, "DHCPACK", addr2.Addr().String()) != 1 {
		t.Errorf("server saw %v after SIGUSR1, want one DISCOVER and one ACK", ms)
	}

	// SIGTERM with --release-on-exit: release and exit 0.
	off = len(srv.Log())
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if n := countMsgs(serverMsgs(srv, off), "DHCPRELEASE", addr2.Addr().String()); n != 1 {
		t.Errorf("%d DHCPRELEASEs on SIGTERM, want 1", n)
	}
	if a := clientKernelAddr(t, l); a.exists {
		t.Errorf("address %v left after SIGTERM with --release-on-exit", a.prefix)
	}
	if c.savedLease(iface) != nil {
		t.Error("lease file left after SIGTERM with --release-on-exit")
	}

	// SIGINT without --release-on-exit: exit 0, nothing released.
	c2 := startClient(t, l, clientOpts{})
	addr3, _ := c2.boundAddr(20*time.Second, 0)
	c2.waitLease(iface, "before SIGINT", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr3 })
	off = len(srv.Log())
	c2.cmd.Process.Signal(syscall.SIGINT)
	if code := c2.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT", code)
	}
	if _, _, ok := c2.find(0, func(r event.Record) bool { return r.Event == "signal" && r.Signal == "SIGINT" }); !ok {
		t.Error("no signal record for SIGINT")
	}
	if a := clientKernelAddr(t, l); a.prefix != addr3 {
		t.Errorf("address after SIGINT: %+v, want %v kept", a, addr3)
	}
	if ms := serverMsgs(srv, off); len(ms) != 0 {
		t.Errorf("server saw %v on SIGINT, want nothing", ms)
	}
	if c2.savedLease(iface) == nil {
		t.Error("SIGINT removed the lease file")
	}
}

// TestLabRestartSameNetwork: a restart with the saved lease on the same
// network confirms it with INIT-REBOOT (REBOOTING, then BOUND with the same
// address) and never sends a DHCPDISCOVER.
func TestLabRestartSameNetwork(t *testing.T) {
	t.Parallel()
	l := newLab(t, "reboot")
	srv, err := l.StartDnsmasq(richServer(l))
	if err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	stateDir := filepath.Join(t.TempDir(), "state")
	c := startClient(t, l, clientOpts{stateDir: stateDir})
	addr, _ := c.boundAddr(20*time.Second, 0)
	c.waitLease(iface, "first run", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(10 * time.Second); code != 0 {
		t.Fatalf("first run: exit %d", code)
	}

	off := len(srv.Log())
	c2 := startClient(t, l, clientOpts{stateDir: stateDir})
	addr2, _ := c2.boundAddr(20*time.Second, 0)
	if addr2 != addr {
		t.Fatalf("second run bound %v, first %v", addr2, addr)
	}
	want := []string{"INIT>INIT-REBOOT", "INIT-REBOOT>REBOOTING", "REBOOTING>ARP-CHECKING", "ARP-CHECKING>BOUND"}
	if got := c2.states(0); !slices.Equal(got[:min(len(got), len(want))], want) || len(got) < len(want) {
		t.Errorf("second run's states %v, want %v", got, want)
	}
	if _, _, ok := c2.find(0, state("SELECTING")); ok {
		t.Error("second run went through SELECTING")
	}
	c2.waitLease(iface, "second run", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	if a := clientKernelAddr(t, l); a.prefix != addr {
		t.Errorf("interface has %+v, want %v", a, addr)
	}
	if !hasDefaultVia(t, l, l.Net.Gateway()) {
		t.Error("no default route after the restart")
	}
	ms := serverMsgs(srv, off)
	if countMsgs(ms, "DHCPDISCOVER", "") != 0 || countMsgs(ms, "DHCPREQUEST", addr.Addr().String()) != 1 ||
		countMsgs(ms, "DHCPACK", addr.Addr().String()) != 1 {
		t.Errorf("server saw %v in the second run, want one REQUEST and one ACK for %v", ms, addr.Addr())
	}
}

// TestLabRebootNakOtherNetwork: the client is moved, while stopped, to a
// network with another subnet. On restart its INIT-REBOOT request for the
// saved address is refused (DHCPNAK), the old address is removed at once,
// and it leases an address of the new network.
func TestLabRebootNakOtherNetwork(t *testing.T) {
	t.Parallel()
	l := newLab(t, "nak")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	stateDir := filepath.Join(t.TempDir(), "state")
	c := startClient(t, l, clientOpts{stateDir: stateDir, args: []string{"-q"}})
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("first run: exit %d", code)
	}
	old := c.waitLease(iface, "first run", func(*dhcpclient.Lease) bool { return true }).Addr

	n2, err := l.AddNetwork(netip.MustParsePrefix("10.88.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := lab.ServerConfig{Router: n2.Gateway(), DNS: []netip.Addr{n2.Gateway()}}
	srv2, err := n2.Start(lab.Dnsmasq, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.MoveClient(n2); err != nil {
		t.Fatal(err)
	}

	c2 := startClient(t, l, clientOpts{stateDir: stateDir})
	c2.waitRec(10*time.Second, "REBOOTING", 0, state("REBOOTING", "INIT-REBOOT"))
	nak, ni := c2.waitRec(20*time.Second, "INIT after the NAK", 0, state("INIT", "REBOOTING"))
	// The first run left its address with its lifetime; the NAK says it
	// is wrong here, so it is gone before the client looks for a new one
	// (the state line is logged after the Deconfigure it follows).
	if p := clientKernelAddr(t, l).prefix; p.IsValid() {
		t.Errorf("after the NAK the interface still has %v", p)
	}
	if nak.Cause != "dhcpnak" {
		t.Errorf("left REBOOTING for %q, want dhcpnak", nak.Cause)
	}
	addr, _ := c2.boundAddr(20*time.Second, ni)
	if !n2.Subnet.Contains(addr.Addr()) {
		t.Fatalf("bound %v, want an address in %v", addr, n2.Subnet)
	}
	c2.waitLease(iface, "new network", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	waitFor(t, 5*time.Second, "only the new address on the interface", func() bool {
		return clientKernelAddr(t, l).prefix == addr
	})
	if !hasDefaultVia(t, l, n2.Gateway()) || hasDefaultVia(t, l, l.Net.Gateway()) {
		rs, _ := l.Client.Routes()
		t.Errorf("routes %v, want the default route via %v only", rs, n2.Gateway())
	}
	ms := serverMsgs(srv2, 0)
	if countMsgs(ms, "DHCPREQUEST", old.Addr().String()) == 0 || countMsgs(ms, "DHCPNAK", old.Addr().String()) == 0 {
		t.Errorf("new network's server saw %v, want a REQUEST for %v and a NAK", ms, old.Addr())
	}
	if countMsgs(ms, "DHCPACK", addr.Addr().String()) != 1 {
		t.Errorf("new network's server saw %v, want an ACK for %v", ms, addr.Addr())
	}
}

// TestLabCarrier: a cable pull and re-plug on the same network keeps the
// lease (the gateway answers ARP from the same MAC: no DHCP at all); a
// pull, a move to another network and a re-plug gets a lease there.
func TestLabCarrier(t *testing.T) {
	t.Parallel()
	l := newLab(t, "carrier")
	srv, err := l.StartDnsmasq(richServer(l))
	if err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	c := startClient(t, l, clientOpts{})
	addr, bi := c.boundAddr(20*time.Second, 0)
	// The gateway's MAC is what the check after the re-plug compares.
	c.waitRec(10*time.Second, "the gateway's MAC", bi, is("gateway"))
	c.waitLease(iface, "with the gateway's MAC", func(ls *dhcpclient.Lease) bool { return ls.RouterMAC != (dhcp.MAC{}) })

	// Same network: the lease is kept.
	m, off := c.mark(), len(srv.Log())
	if err := l.SetCarrier(false); err != nil {
		t.Fatal(err)
	}
	c.waitRec(5*time.Second, "carrier lost", m, is("carrier-down"))
	time.Sleep(500 * time.Millisecond)
	if err := l.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	c.waitRec(5*time.Second, "carrier up", m, is("carrier-up"))
	c.waitRec(5*time.Second, "the gateway check", m, is("gateway-same"))
	time.Sleep(500 * time.Millisecond)
	if s := c.states(m); len(s) != 0 {
		t.Errorf("state changes across the cable pull: %v", s)
	}
	if ms := serverMsgs(srv, off); len(ms) != 0 {
		t.Errorf("server saw %v across the cable pull, want nothing", ms)
	}
	if a := clientKernelAddr(t, l); a.prefix != addr {
		t.Errorf("interface has %+v after the cable pull, want %v", a, addr)
	}

	// Another network: a new lease there.
	n2, err := l.AddNetwork(netip.MustParsePrefix("10.88.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := n2.Start(lab.Dnsmasq, lab.ServerConfig{Router: n2.Gateway(), DNS: []netip.Addr{n2.Gateway()}})
	if err != nil {
		t.Fatal(err)
	}
	m = c.mark()
	if err := l.SetCarrier(false); err != nil {
		t.Fatal(err)
	}
	c.waitRec(5*time.Second, "carrier lost", m, is("carrier-down"))
	if err := l.MoveClient(n2); err != nil {
		t.Fatal(err)
	}
	if err := l.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	c.waitRec(5*time.Second, "carrier up", m, is("carrier-up"))
	addr2, _ := c.boundAddr(30*time.Second, m)
	if !n2.Subnet.Contains(addr2.Addr()) {
		t.Fatalf("bound %v after the move, want an address in %v (states %v)", addr2, n2.Subnet, c.states(m))
	}
	c.waitLease(iface, "new network", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr2 })
	waitFor(t, 5*time.Second, "only the new address", func() bool { return clientKernelAddr(t, l).prefix == addr2 })
	if !hasDefaultVia(t, l, n2.Gateway()) {
		t.Errorf("no default route via %v", n2.Gateway())
	}
	// The old lease was tried first (INIT-REBOOT) and refused.
	ms := serverMsgs(srv2, 0)
	if countMsgs(ms, "DHCPNAK", addr.Addr().String()) == 0 || countMsgs(ms, "DHCPACK", addr2.Addr().String()) != 1 {
		t.Errorf("new network's server saw %v, want a NAK for %v and an ACK for %v", ms, addr.Addr(), addr2.Addr())
	}
	t.Logf("states after the move: %v", c.states(m))
}

// TestLabRoleKilled: when one role is killed, the whole client exits
// promptly, non-zero, with a log line naming the role, and no role is
// left running.
func TestLabRoleKilled(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"sockd", "ifch", "engine"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "kill"+role)
			if _, err := l.StartDnsmasq(richServer(l)); err != nil {
				t.Fatal(err)
			}
			c := startClient(t, l, clientOpts{})
			c.boundAddr(20*time.Second, 0)
			pids := map[string]int{}
			for _, r := range []string{"sockd", "ifch", "engine"} {
				pids[r] = c.rolePid(r)
			}
			for r, pid := range pids {
				if processGone(pid) || lab.ParentPID(pid) != c.cmd.Process.Pid {
					t.Fatalf("%s (pid %d) is not a running child of the supervisor (pid %d)", r, pid, c.cmd.Process.Pid)
				}
			}
			killed := time.Now()
			if err := syscall.Kill(pids[role], syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			code := c.wait(5 * time.Second)
			took := time.Since(killed)
			if code != exitcode.RoleDied {
				t.Errorf("exit %d, want %d", code, exitcode.RoleDied)
			}
			if took > 3*time.Second {
				t.Errorf("exited %v after the kill", took)
			}
			t.Logf("%s killed: exit %d after %v", role, code, took.Round(time.Millisecond))
			<-c.evDone
			// The killed role's exit is on the record, whichever exit
			// the supervisor saw first (a peer may notice the broken
			// channel before it does).
			if _, _, ok := c.find(0, func(r event.Record) bool {
				return r.Event == "exit" && r.Role == role && r.Status == "killed by SIGKILL"
			}); !ok {
				t.Errorf("no exit record of %s killed by SIGKILL in %+v", role, c.records())
			}
			if d, _, ok := c.find(0, is("done")); !ok || d.Code == nil || *d.Code != exitcode.RoleDied {
				t.Errorf("done record %+v, want code %d", d, exitcode.RoleDied)
			}
			waitFor(t, 5*time.Second, "every role to be gone", func() bool {
				for _, pid := range pids {
					if !processGone(pid) {
						return false
					}
				}
				return true
			})
		})
	}
}

// TestLabAddressConflict: a squatter holds the address the server offers
// (the client asks for it, and the pool has only it and one more); the
// client's default fast ARP check catches it, declines it (DHCPDECLINE in
// the server's log) and ends up with the other address. Five times, each
// in a lab of its own, in parallel: the 250 ms window must catch the
// squatter every time, under load too. After one or two conflicts the
// client discovers again within ConflictWait (1 s), so it holds a good
// address before the 5.8 s dhcpcd took in the same set-up (issue 17): a
// bound on the behaviour (a flat 10 s decline wait fails it), not a
// performance figure, which `make bench` gives.
func TestLabAddressConflict(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			lab.RequireServer(t, lab.Dnsmasq)
			// dnsmasq 2.90 picks the address after a decline from a hash
			// of the MAC: with this one it is the free address at once.
			// Another MAC (or version) costs one more conflict and up to
			// 1 s more.
			l := lab.NewT(t, lab.Config{Name: "conflict" + strconv.Itoa(i), ClientMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}})
			squatted, free := l.Net.Host(100), l.Net.Host(101)
			sq, err := l.AddSquatter(squatted)
			if err != nil {
				t.Fatal(err)
			}
			sqMAC, err := sq.MAC()
			if err != nil {
				t.Fatal(err)
			}
			cfg := richServer(l)
			cfg.RangeStart, cfg.RangeEnd = squatted, free
			srv, err := l.StartDnsmasq(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c := startClient(t, l, clientOpts{args: []string{"--request", squatted.String()}})
			conflict, _ := c.waitRec(20*time.Second, "the conflict", 0, is("conflict"))
			if conflict.Address != squatted.String() || conflict.MAC != sqMAC.String() {
				t.Errorf("conflict %+v, want %v held by %v", conflict, squatted, sqMAC)
			}
			waitServer(t, srv, 0, 5*time.Second, "DHCPDECLINE", squatted.String())
			// dnsmasq may offer the declined address once more; the
			// client must catch it each time.
			addr, bi := c.boundAddr(45*time.Second, 0)
			if addr.Addr() != free {
				t.Fatalf("bound %v, want %v", addr, free)
			}
			bound := c.records()[bi].Time
			if d := bound.Sub(start); d >= 5800*time.Millisecond {
				t.Errorf("bound %v after the start (%v after the conflict), want below 5.8 s", d, bound.Sub(conflict.Time))
			} else {
				t.Logf("bound %v after the start, %v after the conflict", d, bound.Sub(conflict.Time))
			}
			c.waitLease(l.Client.IfName(), "the free address", func(ls *dhcpclient.Lease) bool { return ls.Addr.Addr() == free })
			if a := clientKernelAddr(t, l); a.prefix.Addr() != free {
				t.Errorf("interface has %+v, want %v", a, free)
			}
			ms := serverMsgs(srv, 0)
			offers := countMsgs(ms, "DHCPOFFER", squatted.String())
			declines := countMsgs(ms, "DHCPDECLINE", squatted.String())
			caught := c.count(0, is("conflict"))
			if offers == 0 || declines != offers || caught != offers {
				t.Errorf("%d offers of %v, %d caught, %d declined: want every offer caught and declined", offers, squatted, caught, declines)
			}
			if n := c.count(0, func(r event.Record) bool { return state("BOUND")(r) && r.Address != addr.String() }); n != 0 {
				t.Errorf("bound %d times to another address", n)
			}
			t.Logf("states: %v", c.states(0))
		})
	}
}
