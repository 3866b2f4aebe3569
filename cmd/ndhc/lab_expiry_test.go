package main

import (
	"net/netip"
	"testing"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/lab"
)

// The longest scenario sits in a file of its own that sorts first, so
// that it is the first parallel lab test to start and overlaps the rest.

// TestLabRebindExpiry: the server goes away after the bind. The client
// renews by unicast at T1, rebinds by broadcast at T2, and when the lease
// expires removes the address and starts over (INIT, SELECTING); once the
// server is back it gets a lease again.
//
// dnsmasq raises any lease below 2 minutes to 2 minutes, so this uses Kea,
// which hands out the 60 s lease as asked (T1 5 s, T2 10 s): about 70 s,
// run in parallel with the rest.
func TestLabRebindExpiry(t *testing.T) {
	t.Parallel()
	lab.RequireServer(t, lab.Kea)
	l := lab.NewT(t, lab.Config{Name: "expiry"})
	gw := l.Net.Gateway()
	cfg := lab.ServerConfig{LeaseTime: time.Minute, RenewTime: 5 * time.Second, RebindTime: 10 * time.Second,
		Router: gw, DNS: []netip.Addr{gw}}
	srv, err := l.Net.Start(lab.Kea, cfg)
	if err != nil {
		t.Fatal(err)
	}
	capt, err := l.Client.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	iface := l.Client.IfName()
	c := startClient(t, l, clientOpts{})
	bound, bi := c.waitRec(20*time.Second, "a lease", 0, state("BOUND"))
	addr, err := netip.ParsePrefix(bound.Address)
	if err != nil {
		t.Fatal(err)
	}
	ls := c.waitLease(iface, "the lease", func(ls *dhcpclient.Lease) bool { return ls.Addr == addr })
	if ls.LeaseTime != time.Minute || ls.T1 != 5*time.Second || ls.T2 != 10*time.Second {
		t.Fatalf("lease %v t1 %v t2 %v, want 1m0s 5s 10s", ls.LeaseTime, ls.T1, ls.T2)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	ren, ri := c.waitRec(10*time.Second, "RENEWING", bi, state("RENEWING", "BOUND"))
	reb, rbi := c.waitRec(10*time.Second, "REBINDING", ri, state("REBINDING", "RENEWING"))
	if d := ren.Time.Sub(ls.Acquired); ren.Cause != "t1" || d < 4500*time.Millisecond || d > 6500*time.Millisecond {
		t.Errorf("RENEWING (%s) %v into the lease, want t1 at 5 s", ren.Cause, d)
	}
	if d := reb.Time.Sub(ls.Acquired); reb.Cause != "t2" || d < 9500*time.Millisecond || d > 11500*time.Millisecond {
		t.Errorf("REBINDING (%s) %v into the lease, want t2 at 10 s", reb.Cause, d)
	}
	if a := clientKernelAddr(t, l); a.prefix != addr {
		t.Errorf("address while rebinding: %+v, want %v", a, addr)
	}

	exp, ei := c.waitRec(60*time.Second, "the lease to expire", rbi, is("lease-expired"))
	if d := exp.Time.Sub(ls.Acquired); d < 59*time.Second || d > 62*time.Second {
		t.Errorf("expired %v into the lease, want 60 s", d)
	}
	ini, ii := c.waitRec(5*time.Second, "INIT", ei, state("INIT", "REBINDING"))
	if ini.Cause != "lease expired" {
		t.Errorf("INIT for %q", ini.Cause)
	}
	c.waitRec(5*time.Second, "SELECTING", ii, state("SELECTING", "INIT"))
	waitFor(t, 3*time.Second, "the address to go", func() bool { return !clientKernelAddr(t, l).exists })
	if hasDefaultVia(t, l, gw) {
		t.Error("default route left after the expiry")
	}
	waitFor(t, 3*time.Second, "the lease file to go", func() bool { return c.savedLease(iface) == nil })

	// On the wire: unicast renewal, broadcast rebinding from the leased
	// address, and a DHCPDISCOVER after the expiry.
	var unicast, rebind, discover int
	for _, p := range capt.Packets() {
		if !p.Outgoing {
			continue
		}
		switch {
		case p.MessageType() == lab.Request && p.Src == netip.AddrPortFrom(addr.Addr(), 68) && p.Dst == netip.AddrPortFrom(gw, 67):
			unicast++
		case p.MessageType() == lab.Request && p.Src == netip.AddrPortFrom(addr.Addr(), 68) && p.Dst.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			rebind++
		case p.MessageType() == lab.Discover && p.Time.After(exp.Time.Add(-time.Second)):
			discover++
		}
	}
	if unicast == 0 || rebind == 0 || discover == 0 {
		t.Errorf("sent %d unicast renewals, %d broadcast rebinds, %d discovers after the expiry; want each", unicast, rebind, discover)
	}

	// The server comes back: a lease again.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	addr2, _ := c.boundAddr(20*time.Second, ii)
	waitFor(t, 3*time.Second, "an address again", func() bool { return clientKernelAddr(t, l).prefix == addr2 })
}

// TestLabShortLease: a 20 s lease is used as given: the client renews at
// T1 = 10 s, within the lease, and the kernel's lifetime of the address
// never exceeds what the server granted. (The client used to raise it to
// 60 s and renew 10 s after the server's lease had ended.)
func TestLabShortLease(t *testing.T) {
	t.Parallel()
	lab.RequireServer(t, lab.Kea)
	l := lab.NewT(t, lab.Config{Name: "short"})
	gw := l.Net.Gateway()
	if _, err := l.Net.Start(lab.Kea, lab.ServerConfig{LeaseTime: 20 * time.Second, Router: gw, DNS: []netip.Addr{gw}}); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}})
	bound, bi := c.waitRec(20*time.Second, "a lease", 0, state("BOUND"))
	ls := c.waitLease(l.Client.IfName(), "the lease", func(*dhcpclient.Lease) bool { return true })
	if ls.LeaseTime != 20*time.Second {
		t.Fatalf("lease %v, want the server's 20 s", ls.LeaseTime)
	}
	if a := clientKernelAddr(t, l); a.valid > 20 {
		t.Errorf("kernel valid lifetime %d s, want at most the 20 s lease", a.valid)
	}
	ren, _ := c.waitRec(15*time.Second, "RENEWING", bi, state("RENEWING", "BOUND"))
	if d := ren.Time.Sub(bound.Time); d < 9*time.Second || d > 12*time.Second {
		t.Errorf("RENEWING %v after BOUND, want T1 = 10 s", d)
	}
	c.waitRec(5*time.Second, "BOUND again", bi+1, state("BOUND", "RENEWING"))
}
