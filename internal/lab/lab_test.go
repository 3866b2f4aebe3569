package lab

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// richConfig is a server config that sends every option the lab knows.
func richConfig(n *Network) ServerConfig {
	return ServerConfig{
		LeaseTime:  2 * time.Minute,
		RenewTime:  50 * time.Second,
		RebindTime: 95 * time.Second,
		Router:     n.Gateway(),
		DNS:        []netip.Addr{n.Host(53), netip.MustParseAddr("192.0.2.53")},
		NTP:        []netip.Addr{n.Host(123)},
		Domain:     "lab.example",
		SearchList: []string{"lab.example", "corp.lab.example", "example.org"},
		ClasslessRoutes: []StaticRoute{
			{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: n.Host(254)},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: n.Gateway()},
		},
		MTU:       1400,
		Broadcast: true,
		Hostname:  "labclient",
	}
}

// requestAll is the options RunUdhcpc asks for beyond busybox's default.
var requestAll = []int{26, 42, 58, 59, 119, 121}

func listLabNS(t *testing.T, id string) []string {
	t.Helper()
	ents, err := os.ReadDir(netnsDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), id) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestBuildAndTearDown(t *testing.T) {
	l := NewT(t, Config{Name: "build"})
	if got := listLabNS(t, l.ID()); len(got) != 2 {
		t.Fatalf("namespaces %v, want srv and cli", got)
	}
	addrs, err := l.Server.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParsePrefix("10.77.0.1/24"); len(addrs) != 1 || addrs[0] != want {
		t.Errorf("bridge addresses %v, want %v", addrs, want)
	}
	addrs, err = l.Client.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 0 {
		t.Errorf("client addresses %v, want none", addrs)
	}
	st, err := l.Client.Link()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Up || !st.Carrier {
		t.Errorf("client link %+v, want up with carrier", st)
	}
	rs, err := l.Server.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Dst != netip.MustParsePrefix("10.77.0.0/24") || rs[0].Dev != BridgeIf {
		t.Errorf("server routes %v, want the subnet on %s", rs, BridgeIf)
	}
	// A process left running inside a namespace must not keep it alive.
	sleeper := l.Client.Command(context.Background(), "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waitForProcess(t, l.Client)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_ = sleeper.Wait()
	if got := listLabNS(t, l.ID()); len(got) != 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
	if _, err := os.Stat(l.Dir()); !os.IsNotExist(err) {
		t.Errorf("lab dir %s left after Close: %v", l.Dir(), err)
	}
}

// waitForProcess waits until some process has entered ns (`ip netns
// exec` takes a moment to get there).
func waitForProcess(t *testing.T, ns *NS) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		pids, err := ns.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process entered %s", ns.Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServersLease(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			RequireServer(t, kind)
			Require(t, "busybox")
			l := NewT(t, Config{Name: "lease"})
			cfg := richConfig(l.Net)
			srv, err := l.Net.Start(kind, cfg)
			if err != nil {
				t.Fatal(err)
			}
			capt, err := l.Client.CaptureDHCP()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			run, err := l.RunUdhcpc(ctx, UdhcpcOptions{Request: requestAll})
			if err != nil {
				t.Fatalf("%v\n%s", err, run.Output)
			}
			ev, _ := run.Bound()
			a, _ := run.Addr()
			if a.Less(l.Net.Host(100)) || l.Net.Host(199).Less(a) {
				t.Errorf("leased %v, want inside .100-.199", a)
			}
			want := map[string]string{
				"router": "10.77.0.1",
				"subnet": "255.255.255.0",
				"domain": "lab.example",
				"mtu":    "1400",
				"ntpsrv": "10.77.0.123",
				"search": "lab.example corp.lab.example example.org",
			}
			for k, v := range want {
				if got := strings.TrimSpace(ev.Env[k]); got != v {
					t.Errorf("udhcpc %s=%q, want %q", k, got, v)
				}
			}
			if got := ev.Env["dns"]; !strings.Contains(got, "10.77.0.53") {
				t.Errorf("udhcpc dns=%q, want 10.77.0.53 in it", got)
			}
			if got := ev.Env["staticroutes"]; !strings.Contains(got, "198.51.100.0/24 10.77.0.254") {
				t.Errorf("udhcpc staticroutes=%q, want 198.51.100.0/24 via .254", got)
			}
			pkts := capt.Stop()
			var types []int
			for _, p := range pkts {
				types = append(types, p.MessageType())
			}
			if !containsSeq(types, []int{Discover, Offer, Request, Ack}) {
				t.Errorf("captured message types %v, want DISCOVER OFFER REQUEST ACK", types)
			}
			if !srv.Running() {
				t.Errorf("server died: %s", srv.Log())
			}
		})
	}
}

// containsSeq reports whether want occurs in order (not necessarily
// adjacent) in got.
func containsSeq(got, want []int) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestDnsmasqNakOnWrongNetwork(t *testing.T) {
	RequireServer(t, Dnsmasq)
	Require(t, "dhclient")
	l := NewT(t, Config{Name: "nak"})
	if _, err := l.StartDnsmasq(richConfig(l.Net)); err != nil {
		t.Fatal(err)
	}
	capt, err := l.Client.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	run, err := l.RunDhclient(ctx, DhclientOptions{OldLease: netip.MustParseAddr("192.0.2.77")})
	if err != nil {
		t.Fatalf("%v\n%s", err, run.Output)
	}
	if _, err := capt.Wait(ctx, func(p Packet) bool { return p.MessageType() == Nak }); err != nil {
		t.Errorf("no NAK: %v\n%s", err, run.Output)
	}
	if a, ok := run.Addr(); !ok || !l.Net.Subnet.Contains(a) {
		t.Errorf("dhclient address %v after the NAK, want one in %v", a, l.Net.Subnet)
	}
}

func TestSquatterAnswersARP(t *testing.T) {
	Require(t, "busybox")
	l := NewT(t, Config{Name: "squat"})
	addr := l.Net.Host(150)
	sq, err := l.AddSquatter(addr)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := sq.MAC()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// DAD mode (sender 0.0.0.0): the client has no address yet. busybox
	// arping exits non-zero when a reply shows the address is taken.
	out, _ := l.Client.Run(ctx, "busybox", "arping", "-D", "-c", "2", "-w", "5", "-I", ClientIf, addr.String())
	t.Logf("arping %v:\n%s", addr, out)
	if !strings.Contains(strings.ToLower(out), strings.ToLower(mac.String())) {
		t.Errorf("arping output lacks the squatter's MAC %v:\n%s", mac, out)
	}
	// An address nobody owns gets no answer.
	out, err = l.Client.Run(ctx, "busybox", "arping", "-D", "-c", "1", "-w", "2", "-I", ClientIf, l.Net.Host(151).String())
	if err != nil || strings.Contains(out, "reply from") {
		t.Errorf("arping for a free address: %v\n%s", err, out)
	}
}

func TestCarrierAndMove(t *testing.T) {
	RequireServer(t, Dnsmasq)
	Require(t, "busybox")
	l := NewT(t, Config{Name: "move"})
	net2, err := l.AddNetwork(netip.MustParsePrefix("10.88.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.StartDnsmasq(ServerConfig{Router: l.Net.Gateway()}); err != nil {
		t.Fatal(err)
	}
	if _, err := net2.Start(Dnsmasq, ServerConfig{Router: net2.Gateway()}); err != nil {
		t.Fatal(err)
	}
	carrier := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := l.Client.Link()
			if err != nil {
				t.Fatal(err)
			}
			if st.Carrier == want && st.Up {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("client link %+v, want carrier %v and up", st, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := l.SetCarrier(false); err != nil {
		t.Fatal(err)
	}
	carrier(false)
	if err := l.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	carrier(true)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lease := func(want *Network) {
		t.Helper()
		run, err := l.RunUdhcpc(ctx, UdhcpcOptions{})
		if err != nil {
			t.Fatalf("%v\n%s", err, run.Output)
		}
		if a, _ := run.Addr(); !want.Subnet.Contains(a) {
			t.Fatalf("leased %v, want one in %v", a, want.Subnet)
		}
	}
	lease(l.Net)
	if err := l.MoveClient(net2); err != nil {
		t.Fatal(err)
	}
	carrier(true)
	if l.ClientNetwork() != net2 {
		t.Fatal("ClientNetwork is not the network moved to")
	}
	lease(net2)
	if err := l.SetCarrier(false); err != nil {
		t.Fatal(err)
	}
	if err := l.MoveClient(l.Net); err != nil {
		t.Fatal(err)
	}
	carrier(false)
	if err := l.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	carrier(true)
	lease(l.Net)
}

func TestServerStopRestart(t *testing.T) {
	RequireServer(t, Dnsmasq)
	Require(t, "busybox")
	l := NewT(t, Config{Name: "restart"})
	srv, err := l.StartDnsmasq(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("running after Stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if run, err := l.RunUdhcpc(ctx, UdhcpcOptions{Timeout: 3 * time.Second}); err == nil {
		t.Fatalf("lease with the server stopped:\n%s", run.Output)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	run, err := l.RunUdhcpc(ctx, UdhcpcOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, run.Output)
	}
	b, err := os.ReadFile(srv.LeaseFile())
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := run.Addr(); !strings.Contains(string(b), a.String()) {
		t.Errorf("lease file lacks %v:\n%s", a, b)
	}
}

func TestCleanupStale(t *testing.T) {
	Require(t, "sleep")
	// A pid that existed and is gone: a finished child's.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	dead := done.ProcessState.Pid()
	if processAlive(dead) {
		t.Skipf("pid %d reused already", dead)
	}
	stale := &NS{name: "ndhc-stale-" + strconv.Itoa(dead) + "-abcd-cli", ifName: "lo"}
	live := &NS{name: "ndhc-stale-" + strconv.Itoa(os.Getpid()) + "-abcd-cli", ifName: "lo"}
	t.Cleanup(func() {
		_ = deleteNS(stale.name)
		_ = deleteNS(live.name)
	})
	for _, n := range []*NS{stale, live} {
		if err := ip("netns", "add", n.name); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := stale.Command(context.Background(), "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()
	waitForProcess(t, stale)
	gone, err := CleanupStale()
	if err != nil {
		t.Fatal(err)
	}
	// Test processes of other packages clean up too, and may have removed
	// the stale namespace first: what matters is that it is gone and the
	// live one is not.
	for _, g := range gone {
		if g == live.name {
			t.Errorf("CleanupStale removed %s, whose owner lives", g)
		}
	}
	if _, err := os.Stat(filepath.Join(netnsDir, stale.name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale namespace still there (%v); removed %v", err, gone)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, live.name)); err != nil {
		t.Errorf("live lab's namespace removed: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("process in the stale namespace survived")
	}
}

// TestOfferSquattedAddress checks that, with probing off (the default),
// every server offers an address a squatter owns: the set-up of the
// client's address-conflict tests.
func TestOfferSquattedAddress(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			RequireServer(t, kind)
			Require(t, "busybox")
			l := NewT(t, Config{Name: "conflict"})
			addr := l.Net.Host(120)
			if _, err := l.AddSquatter(addr); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Net.Start(kind, ServerConfig{RangeStart: addr, RangeEnd: addr}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			run, err := l.RunUdhcpc(ctx, UdhcpcOptions{})
			if err != nil {
				t.Fatalf("%v\n%s", err, run.Output)
			}
			if a, _ := run.Addr(); a != addr {
				t.Errorf("leased %v, want the squatted %v", a, addr)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("lease took %v: is the server still probing?", d)
			}
		})
	}
}
