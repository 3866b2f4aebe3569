package client

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// clSavedLease returns a valid lease for clAddr acquired at acquired.
func clSavedLease(acquired time.Time) *Lease {
	return &Lease{
		Addr: netip.MustParsePrefix("192.0.2.50/24"), Routers: []netip.Addr{clRouter}, ServerID: clServer,
		LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 3150 * time.Second, Acquired: acquired,
		RouterMAC: clRouterMAC,
	}
}

// toState drives a fresh clHarness into state s. REBOOTING starts from a
// saved lease; INIT is the wait after a DHCPNAK; RELEASED follows Release
// in BOUND.
func (h *clHarness) toState(s State) {
	h.t.Helper()
	switch s {
	case StateInit:
		h.toRequesting()
		h.reply(dhcp.Nak, nil)
	case StateSelecting:
		h.start()
	case StateRequesting:
		h.toRequesting()
	case StateChecking:
		h.toChecking()
	case StateBound:
		h.toBound()
	case StateRenewing:
		h.toBound()
		h.toRenewing()
	case StateRebinding:
		h.toBound()
		h.toRebinding()
	case StateRebooting:
		h.saved = clSavedLease(h.now.Add(-time.Minute))
		h.c = New(h.c.s, h.saved, clRand(3))
		h.start()
	case StateReleased:
		h.toBound()
		h.record(h.c.Release(h.now))
	default:
		h.t.Fatalf("no way to %v", s)
	}
	h.wantState(s)
}

func TestClientNAK(t *testing.T) {
	for _, s := range []State{StateRequesting, StateRebooting, StateRenewing, StateRebinding} {
		t.Run(s.String(), func(t *testing.T) {
			h := newClHarness(t, Settings{}, nil)
			h.toState(s)
			// In REBOOTING the address the last run left may be there.
			wasConfigured := h.config != nil || h.leftover
			xid := h.dhcp[len(h.dhcp)-1].msg.XID
			acts := h.reply(dhcp.Nak, nil)
			h.wantState(StateInit)
			if got := clHas[Deconfigure](acts); got != wasConfigured {
				t.Errorf("Deconfigure %v, configured %v", got, wasConfigured)
			}
			if !clHas[ForgetLease](acts) || h.saved != nil || h.c.Lease() != nil {
				t.Error("lease not forgotten")
			}
			if h.sockets.Open != SocketSet(0) {
				t.Errorf("sockets %+v while waiting", h.sockets)
			}
			if d := h.c.Deadline().Sub(h.now); d != defNAKWait {
				t.Errorf("wait %v after NAK", d)
			}
			h.fire()
			h.wantState(StateSelecting)
			d := h.last(dhcp.Discover)
			if d.msg.XID == xid {
				t.Error("same xid after NAK")
			}
			if _, ok := d.msg.Options.Get(dhcp.OptRequestedIP); ok {
				t.Error("refused address requested again")
			}
		})
	}
	t.Run("rebinding accepts any server", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRebinding)
		h.srv.id = clServer2
		h.reply(dhcp.Nak, nil)
		h.wantState(StateInit)
	})
	t.Run("backoff of repeated NAKs", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toRequesting()
		want := defNAKWait
		for i := 0; i < 9; i++ {
			h.reply(dhcp.Nak, nil)
			if d := h.c.Deadline().Sub(h.now); d != want {
				t.Fatalf("NAK %d: wait %v, want %v", i, d, want)
			}
			want = min(want*2, maxBackoff)
			h.fire()
			h.reply(dhcp.Offer, nil)
		}
		// A bind resets it.
		h.reply(dhcp.Ack, nil)
		for h.c.State() == StateChecking {
			h.fire()
		}
		if h.c.naks != 0 {
			t.Fatal("NAK count not reset by a bind")
		}
	})
}

func TestClientRenewRebindExpire(t *testing.T) {
	h := newClHarness(t, Settings{Timings: Timings{RetransMin: 10 * time.Second}}, nil)
	h.toBound()
	l := h.c.Lease()
	acts := func() []Action { h.toRenewing(); return h.acts }()
	r := h.last(dhcp.Request)
	if !r.unicast.IsValid() || r.unicast != clServer || r.msg.CIAddr != clAddr {
		t.Fatalf("renew to %v ciaddr %v", r.unicast, r.msg.CIAddr)
	}
	if _, ok := r.msg.Options.Get(dhcp.OptRequestedIP); ok {
		t.Error("renew with option 50")
	}
	if _, ok := r.msg.Options.Get(dhcp.OptServerID); ok {
		t.Error("renew with option 54")
	}
	if h.sockets.Open != SocketsOf(SocketUDP, SocketARPDefense) {
		t.Fatalf("renewing sockets %+v", h.sockets)
	}
	if !clHasLog(acts, "state RENEWING") {
		t.Error("no RENEWING log")
	}
	// Retransmissions at half the time left to T2, at least RetransMin,
	// never past T2.
	t2 := l.RebindAt()
	prev := h.now
	for h.c.State() == StateRenewing {
		h.fire()
		if h.c.State() != StateRenewing {
			break
		}
		want := max(t2.Sub(prev)/2, 10*time.Second)
		if prev.Add(want).After(t2) {
			want = t2.Sub(prev)
		}
		if got := h.now.Sub(prev); got != want {
			t.Fatalf("renew retransmission after %v, want %v", got, want)
		}
		if h.last(dhcp.Request).msg.XID != r.msg.XID {
			t.Fatal("new xid within RENEWING")
		}
		prev = h.now
	}
	h.wantState(StateRebinding)
	if !h.now.Equal(t2) {
		t.Fatalf("rebinding at %v, want T2 %v", h.now, t2)
	}
	rb := h.last(dhcp.Request)
	if rb.unicast.IsValid() || rb.source != clAddr || rb.msg.CIAddr != clAddr {
		t.Fatalf("rebind unicast %v source %v ciaddr %v", rb.unicast, rb.source, rb.msg.CIAddr)
	}
	if h.sockets.Open != SocketsOf(SocketRaw, SocketARPDefense) {
		t.Fatalf("rebinding sockets %+v", h.sockets)
	}
	exp := l.Expiry()
	prev = h.now
	for {
		acts = h.fire()
		if h.c.State() != StateRebinding {
			break
		}
		want := max(exp.Sub(prev)/2, 10*time.Second)
		if prev.Add(want).After(exp) {
			want = exp.Sub(prev)
		}
		if got := h.now.Sub(prev); got != want {
			t.Fatalf("rebind retransmission after %v, want %v", got, want)
		}
		prev = h.now
	}
	if !h.now.Equal(exp) {
		t.Fatalf("expired at %v, want %v", h.now, exp)
	}
	if !clHas[Deconfigure](acts) || !clHas[ForgetLease](acts) || h.config != nil {
		t.Fatalf("expiry actions %v", acts)
	}
	h.wantState(StateSelecting)
	if a, _ := h.last(dhcp.Discover).opt(dhcp.OptRequestedIP); a != clAddr {
		t.Errorf("discover after expiry asks for %v", a)
	}
}

func TestClientRenewalAck(t *testing.T) {
	for _, s := range []State{StateRenewing, StateRebinding} {
		t.Run(s.String(), func(t *testing.T) {
			h := newClHarness(t, Settings{}, nil)
			h.toState(s)
			reqAt := h.now
			h.now = h.now.Add(2 * time.Second)
			h.srv.dns = []netip.Addr{netip.MustParseAddr("192.0.2.54")}
			h.srv.mtu = 1400
			if s == StateRebinding {
				h.srv.id = clServer2 // another server may answer a rebind
			}
			acts := h.reply(dhcp.Ack, nil)
			h.wantState(StateBound)
			if !clHas[Configure](acts) || !clHas[SaveLease](acts) {
				t.Fatalf("renewal actions %v", acts)
			}
			l := h.config
			if l.DNS[0] != netip.MustParseAddr("192.0.2.54") || l.MTU != 1400 || !l.Acquired.Equal(reqAt) {
				t.Fatalf("renewed lease %+v", l)
			}
			if l.RouterMAC != clRouterMAC {
				t.Error("router mac lost on renewal")
			}
			if s == StateRebinding && l.ServerID != clServer2 {
				t.Error("server id of the rebinding server not taken")
			}
			if h.sockets.Open != SocketsOf(SocketARPDefense) {
				t.Fatalf("sockets %+v", h.sockets)
			}
			if !h.c.Deadline().Equal(l.RenewAt()) {
				t.Fatalf("deadline %v, want new T1 %v", h.c.Deadline(), l.RenewAt())
			}
		})
	}
	t.Run("new gateway is learned", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRenewing)
		h.srv.routes = true
		h.reply(dhcp.Ack, nil)
		if h.config.RouterMAC != (dhcp.MAC{}) || h.c.gw != gwLearn || h.sockets.Open != SocketsOf(SocketARP) {
			t.Fatalf("gateway change: mac %v phase %v sockets %+v", h.config.RouterMAC, h.c.gw, h.sockets)
		}
	})
	t.Run("late timer skips to rebinding", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.now = h.c.lease.RebindAt().Add(time.Second)
		h.record(h.c.HandleTimer(h.now))
		h.wantState(StateRebinding)
	})
	t.Run("late timer after expiry", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.now = h.c.lease.Expiry().Add(time.Hour)
		acts := h.record(h.c.HandleTimer(h.now))
		if !clHas[Deconfigure](acts) {
			t.Fatal(acts)
		}
		h.wantState(StateSelecting)
	})
}

func TestClientInitReboot(t *testing.T) {
	t.Run("ack", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRebooting)
		r := h.last(dhcp.Request)
		if a, _ := r.opt(dhcp.OptRequestedIP); a != clAddr {
			t.Errorf("option 50 = %v", a)
		}
		if _, ok := r.msg.Options.Get(dhcp.OptServerID); ok {
			t.Error("init-reboot request with a server id")
		}
		if r.unicast.IsValid() || r.msg.CIAddr != netip.IPv4Unspecified() {
			t.Errorf("unicast %v ciaddr %v", r.unicast, r.msg.CIAddr)
		}
		h.srv.id = clServer2 // any server may answer
		h.reply(dhcp.Ack, nil)
		h.wantState(StateChecking)
		h.fire()
		h.wantState(StateBound)
		if h.config.ServerID != clServer2 {
			t.Error("server id not taken from the ack")
		}
	})
	t.Run("no answer", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRebooting)
		prev := h.now
		for n := 0; n < defRebootTries-1; n++ {
			h.fire()
			h.wantState(StateRebooting)
			if !clBackoffOK(n, h.now.Sub(prev)) {
				t.Errorf("retransmission %d after %v", n, h.now.Sub(prev))
			}
			prev = h.now
		}
		acts := h.fire()
		h.wantState(StateSelecting)
		if clHas[Deconfigure](acts) || clHas[ForgetLease](acts) {
			t.Errorf("unexpected actions %v", acts)
		}
		if a, _ := h.last(dhcp.Discover).opt(dhcp.OptRequestedIP); a != clAddr {
			t.Errorf("discover asks for %v", a)
		}
	})
	t.Run("expired saved lease", func(t *testing.T) {
		saved := clSavedLease(clT0.Add(-2 * time.Hour))
		h := newClHarness(t, Settings{}, saved)
		acts := h.start()
		h.wantState(StateSelecting)
		if !clHas[ForgetLease](acts) {
			t.Error("expired lease not forgotten")
		}
		if a, _ := h.last(dhcp.Discover).opt(dhcp.OptRequestedIP); a != clAddr {
			t.Errorf("discover asks for %v", a)
		}
	})
	t.Run("invalid saved lease", func(t *testing.T) {
		saved := clSavedLease(clT0)
		saved.T1 = 2 * time.Hour
		h := newClHarness(t, Settings{}, saved)
		acts := h.start()
		h.wantState(StateSelecting)
		if !clHas[ForgetLease](acts) {
			t.Error("invalid lease not forgotten")
		}
	})
	t.Run("lease expires while rebooting", func(t *testing.T) {
		saved := clSavedLease(clT0.Add(-time.Hour + 5*time.Second))
		h := newClHarness(t, Settings{}, saved)
		h.start()
		h.wantState(StateRebooting)
		var acts []Action
		for h.c.State() == StateRebooting {
			acts = h.fire()
		}
		// The address the last run left goes with the lease.
		if !h.now.Equal(saved.Expiry()) || !clHas[ForgetLease](acts) || !clHas[Deconfigure](acts) {
			t.Fatalf("actions %v", acts)
		}
		h.wantState(StateSelecting)
	})
}

func TestClientARPCheck(t *testing.T) {
	conflicts := map[string]dhcp.ARP{
		"reply":      {Op: dhcp.ARPReply, SenderHW: clOtherMAC, SenderIP: clAddr, TargetHW: clMAC},
		"probe":      {Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: netip.IPv4Unspecified(), TargetIP: clAddr},
		"announce":   {Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: clAddr, TargetIP: clAddr},
		"any sender": {Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: clAddr, TargetIP: clRouter},
	}
	for _, mode := range []ARPMode{ARPFast, ARPRFC5227} {
		for name, a := range conflicts {
			t.Run(mode.String()+"/"+name, func(t *testing.T) {
				h := newClHarness(t, Settings{ARP: mode}, nil)
				h.toChecking()
				h.wantState(StateChecking)
				if mode == ARPRFC5227 {
					h.fire() // first probe
				}
				xid := h.last(dhcp.Request).msg.XID
				h.now = h.now.Add(3 * time.Millisecond)
				acts := h.arpIn(a)
				h.wantState(StateInit)
				dec := h.last(dhcp.Decline)
				if s, _ := dec.opt(dhcp.OptServerID); s != clServer {
					t.Errorf("decline server id %v", s)
				}
				if r, _ := dec.opt(dhcp.OptRequestedIP); r != clAddr {
					t.Errorf("decline option 50 %v", r)
				}
				if dec.msg.CIAddr != netip.IPv4Unspecified() || dec.unicast.IsValid() || dec.msg.XID != xid {
					t.Errorf("decline ciaddr %v unicast %v xid %x", dec.msg.CIAddr, dec.unicast, dec.msg.XID)
				}
				if !clHas[ForgetLease](acts) || clHas[Configure](acts) || h.config != nil {
					t.Errorf("actions %v", acts)
				}
				// The first conflict: the short, random wait.
				if d := h.c.Deadline().Sub(h.now); d < defConflictWait/10 || d > defConflictWait {
					t.Errorf("wait %v after decline, want %v to %v", d, defConflictWait/10, defConflictWait)
				}
				h.fire()
				d := h.last(dhcp.Discover)
				if d.msg.XID == xid {
					t.Error("same xid after decline")
				}
				if _, ok := d.msg.Options.Get(dhcp.OptRequestedIP); ok {
					t.Error("declined address requested again")
				}
			})
		}
	}
	t.Run("not conflicts", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toChecking()
		for _, a := range []dhcp.ARP{
			{Op: dhcp.ARPRequest, SenderHW: clMAC, SenderIP: netip.IPv4Unspecified(), TargetIP: clAddr}, // our own probe
			{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: clRouter, TargetIP: clRouter},
			{Op: dhcp.ARPReply, SenderHW: clOtherMAC, SenderIP: clRouter, TargetIP: clAddr},
		} {
			if acts := h.arpIn(a); len(acts) != 0 {
				t.Fatalf("%+v: %v", a, acts)
			}
		}
		h.fire()
		h.wantState(StateBound)
	})
	t.Run("rfc5227 timing", func(t *testing.T) {
		for seed := uint32(0); seed < 20; seed++ {
			h := newClHarness(t, Settings{ARP: ARPRFC5227}, nil)
			h.c.rnd = clRand(seed)
			h.toChecking()
			ack := h.now
			var probes []time.Time
			for h.c.State() == StateChecking {
				n := len(h.arp)
				h.fire()
				if len(h.arp) > n && h.arp[n].Frame == dhcp.ARPProbe(clMAC, clAddr) {
					probes = append(probes, h.now)
				}
			}
			h.wantState(StateBound)
			if len(probes) != defProbeNum {
				t.Fatalf("%d probes", len(probes))
			}
			if d := probes[0].Sub(ack); d < 0 || d > defProbeWait {
				t.Errorf("first probe after %v", d)
			}
			for i := 1; i < len(probes); i++ {
				if d := probes[i].Sub(probes[i-1]); d < defProbeMin || d > defProbeMax {
					t.Errorf("probe %d after %v", i, d)
				}
			}
			if d := h.now.Sub(probes[len(probes)-1]); d != defAnnounceWait {
				t.Errorf("bound %v after the last probe", d)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		h := newClHarness(t, Settings{ARP: ARPOff}, nil)
		h.toChecking()
		h.wantState(StateBound)
		for _, a := range h.arp {
			if a.Frame.SenderIP.IsUnspecified() {
				t.Fatal("probe with ARP off")
			}
		}
	})
	t.Run("carrier lost while checking", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toChecking()
		h.link(false)
		if !h.c.Deadline().IsZero() {
			t.Fatal("probe timer while the carrier is down")
		}
		h.link(true)
		if len(h.arp) != 2 || h.arp[1].Frame != dhcp.ARPProbe(clMAC, clAddr) {
			t.Fatalf("probing not restarted: %+v", h.arp)
		}
		h.fire()
		h.wantState(StateBound)
	})
}

func TestClientDefense(t *testing.T) {
	conflict := dhcp.ARP{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: clAddr, TargetIP: clAddr}
	announce := dhcp.ARPAnnouncement(clMAC, clAddr)
	countAnn := func(acts []Action) int {
		n := 0
		for _, a := range acts {
			if s, ok := a.(SendARP); ok && s.Frame == announce {
				n++
			}
		}
		return n
	}
	t.Run("second conflict within interval gives up", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.advance(5 * time.Second) // announcements done
		acts := h.arpIn(conflict)
		if countAnn(acts) != 1 {
			t.Fatalf("first conflict: %v", acts)
		}
		h.wantState(StateBound)
		h.now = h.now.Add(defDefendInterval - time.Millisecond)
		acts = h.arpIn(conflict)
		if countAnn(acts) != 0 || !clHas[Deconfigure](acts) || !clHas[ForgetLease](acts) {
			t.Fatalf("second conflict: %v", acts)
		}
		if clHas[SendDHCP](acts) {
			t.Fatal("decline or release for a bound address")
		}
		// A first conflict: discovery after the short wait.
		h.wantState(StateInit)
		if d := h.c.Deadline().Sub(h.now); d < defConflictWait/10 || d > defConflictWait {
			t.Errorf("wait %v after giving the address up", d)
		}
		h.fire()
		h.wantState(StateSelecting)
		if _, ok := h.last(dhcp.Discover).msg.Options.Get(dhcp.OptRequestedIP); ok {
			t.Error("conflicting address requested again")
		}
	})
	t.Run("second conflict after interval defends again", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.arpIn(conflict)
		h.advance(defDefendInterval)
		if acts := h.arpIn(conflict); countAnn(acts) != 1 {
			t.Fatalf("%v", acts)
		}
		h.wantState(StateBound)
	})
	t.Run("relentless rate limit", func(t *testing.T) {
		h := newClHarness(t, Settings{DefendRelentless: true}, nil)
		h.toBound()
		h.advance(5 * time.Second)
		total := 0
		start := h.now
		for i := 0; i < 1000; i++ {
			total += countAnn(h.arpIn(conflict))
			h.now = h.now.Add(100 * time.Millisecond)
		}
		h.wantState(StateBound)
		elapsed := h.now.Sub(start)
		if maxN := int(elapsed/defDefendInterval) + 1; total > maxN || total < maxN-1 {
			t.Fatalf("%d announcements in %v", total, elapsed)
		}
	})
	t.Run("defense in renewing", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRenewing)
		if acts := h.arpIn(conflict); countAnn(acts) != 1 {
			t.Fatalf("%v", acts)
		}
	})
	t.Run("own packets and other addresses", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		for _, a := range []dhcp.ARP{
			announce,
			{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: netip.MustParseAddr("192.0.2.9"), TargetIP: clAddr},
			{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: netip.IPv4Unspecified(), TargetIP: clAddr},
		} {
			if acts := h.arpIn(a); len(acts) != 0 {
				t.Fatalf("%+v: %v", a, acts)
			}
		}
	})
	t.Run("ignored when not configured", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateReleased)
		if acts := h.arpIn(conflict); len(acts) != 0 {
			t.Fatal(acts)
		}
	})
}

func TestClientLink(t *testing.T) {
	reply := func(mac dhcp.MAC) dhcp.ARP {
		return dhcp.ARP{Op: dhcp.ARPReply, SenderHW: mac, SenderIP: clRouter, TargetHW: clMAC, TargetIP: clAddr}
	}
	downUp := func(t *testing.T) *clHarness {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.advance(5 * time.Second)
		h.link(false)
		if acts := h.link(false); acts != nil {
			t.Fatal("repeated carrier down not ignored")
		}
		h.advance(time.Minute)
		h.link(true)
		h.wantState(StateBound)
		if h.sockets.Open != SocketsOf(SocketARP) {
			t.Fatalf("sockets %+v", h.sockets)
		}
		if q := h.arp[len(h.arp)-1].Frame; q != dhcp.ARPQuery(clMAC, clAddr, clRouter) {
			t.Fatalf("gateway query %+v", q)
		}
		return h
	}
	t.Run("same gateway", func(t *testing.T) {
		h := downUp(t)
		acts := h.arpIn(reply(clRouterMAC))
		h.wantState(StateBound)
		if clHas[Deconfigure](acts) || clHas[SendDHCP](acts) {
			t.Fatalf("%v", acts)
		}
		if h.arp[len(h.arp)-1].Frame != dhcp.ARPAnnouncement(clMAC, clAddr) || h.sockets.Open != SocketsOf(SocketARPDefense) {
			t.Fatalf("arp %+v sockets %+v", h.arp[len(h.arp)-1], h.sockets)
		}
	})
	t.Run("other gateway", func(t *testing.T) {
		h := downUp(t)
		h.arpIn(reply(clOtherMAC))
		h.wantState(StateRebooting)
		r := h.last(dhcp.Request)
		if a, _ := r.opt(dhcp.OptRequestedIP); a != clAddr {
			t.Fatalf("init-reboot asks for %v", a)
		}
		if h.config == nil {
			t.Fatal("deconfigured before the server said so")
		}
		acts := h.reply(dhcp.Nak, nil)
		if !clHas[Deconfigure](acts) {
			t.Fatal("NAK on another network did not deconfigure")
		}
		h.wantState(StateInit)
	})
	t.Run("other gateway, same network after all", func(t *testing.T) {
		h := downUp(t)
		h.arpIn(reply(clOtherMAC))
		acts := h.reply(dhcp.Ack, nil)
		h.wantState(StateBound)
		if !clHas[Configure](acts) || len(h.arp) == 0 {
			t.Fatal(acts)
		}
	})
	t.Run("gateway silent", func(t *testing.T) {
		h := downUp(t)
		h.advance(defGatewayTimeout)
		h.wantState(StateRebooting)
		// No answer either: the address goes.
		for h.c.State() == StateRebooting {
			h.fire()
		}
		h.wantState(StateSelecting)
		if h.config != nil {
			t.Fatal("still configured")
		}
	})
	t.Run("no sends while down", func(t *testing.T) {
		for _, s := range []State{StateSelecting, StateRequesting, StateRebooting, StateRenewing, StateRebinding, StateInit} {
			t.Run(s.String(), func(t *testing.T) {
				h := newClHarness(t, Settings{}, nil)
				h.toState(s)
				h.link(false)
				n := len(h.dhcp)
				for i := 0; i < 50 && !h.c.Deadline().IsZero(); i++ {
					h.fire()
				}
				h.record(h.c.Renew(h.now))
				if len(h.dhcp) != n {
					t.Fatal("sent while down")
				}
				h.link(true)
				if len(h.dhcp) == n && h.c.State() != StateInit {
					t.Fatalf("nothing sent after carrier up in %v", h.c.State())
				}
			})
		}
	})
	t.Run("exchange restarts on carrier up", func(t *testing.T) {
		for _, s := range []State{StateRenewing, StateRebinding} {
			h := newClHarness(t, Settings{}, nil)
			h.toState(s)
			h.advance(time.Second)
			h.link(false)
			h.advance(time.Second)
			n := len(h.dhcp)
			h.link(true)
			h.wantState(s)
			if len(h.dhcp) != n+1 || h.last(dhcp.Request).unicast.IsValid() != (s == StateRenewing) {
				t.Fatalf("%v: request not sent again", s)
			}
			h.reply(dhcp.Ack, nil)
			h.wantState(StateBound)
		}
	})
	t.Run("renew timer while down", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		h.link(false)
		h.advance(h.c.lease.RenewAt().Sub(h.now))
		h.wantState(StateRenewing)
		if !h.c.Deadline().Equal(h.c.lease.RebindAt()) {
			t.Fatalf("deadline %v, want T2", h.c.Deadline())
		}
		h.advance(h.c.lease.RebindAt().Sub(h.now))
		h.wantState(StateRebinding)
		acts := h.fire()
		if !clHas[Deconfigure](acts) {
			t.Fatal("lease did not expire while down")
		}
		h.wantState(StateSelecting)
		if !h.c.Deadline().IsZero() {
			t.Fatal("retransmission timer while down")
		}
		h.link(true)
		h.last(dhcp.Discover)
	})
	t.Run("learning cut short", func(t *testing.T) {
		h := newClHarness(t, Settings{ARP: ARPOff}, nil)
		h.toChecking()
		h.link(false)
		if h.c.gw != gwIdle || h.sockets.Open != SocketsOf(SocketARPDefense) {
			t.Fatalf("gw %v sockets %+v", h.c.gw, h.sockets)
		}
		h.link(true)
		h.wantState(StateRebooting)
	})
}

func TestClientSignals(t *testing.T) {
	states := []State{StateInit, StateSelecting, StateRequesting, StateChecking, StateBound,
		StateRenewing, StateRebinding, StateRebooting, StateReleased}
	for _, s := range states {
		for _, down := range []bool{false, true} {
			name := s.String()
			if down {
				name += "/down"
			}
			setup := func(t *testing.T) *clHarness {
				h := newClHarness(t, Settings{}, nil)
				h.toState(s)
				if down {
					h.link(false)
				}
				return h
			}
			t.Run(name+"/release", func(t *testing.T) {
				h := setup(t)
				configured := h.config != nil
				lease := h.c.Lease()
				n := len(h.dhcp)
				acts := h.record(h.c.Release(h.now))
				h.wantState(StateReleased)
				if s == StateReleased {
					if clHas[SendDHCP](acts) || clHas[ForgetLease](acts) {
						t.Fatal(acts)
					}
					return
				}
				if got := clHas[Deconfigure](acts); got != configured {
					t.Errorf("Deconfigure %v, configured %v", got, configured)
				}
				if !clHas[ForgetLease](acts) {
					t.Error("lease not forgotten")
				}
				sentRelease := len(h.dhcp) > n
				if sentRelease != (configured && !down) {
					t.Fatalf("release sent %v, configured %v down %v", sentRelease, configured, down)
				}
				if sentRelease {
					r := h.last(dhcp.Release)
					if r.unicast != lease.ServerID || r.msg.CIAddr != clAddr {
						t.Errorf("release to %v ciaddr %v", r.unicast, r.msg.CIAddr)
					}
					if _, ok := r.msg.Options.Get(dhcp.OptRequestedIP); ok {
						t.Error("release with option 50")
					}
					if a, _ := r.opt(dhcp.OptServerID); a != lease.ServerID {
						t.Errorf("release option 54 %v", a)
					}
				}
				if h.sockets.Open != SocketSet(0) || !h.c.Deadline().IsZero() || h.c.Lease() != nil {
					t.Errorf("released with sockets %+v deadline %v", h.sockets, h.c.Deadline())
				}
				// Quiet until Renew.
				h.advance(24 * time.Hour)
				if len(h.dhcp) != n+clCount[SendDHCP](acts) {
					t.Fatal("traffic while released")
				}
				h.link(true)
				h.record(h.c.Renew(h.now))
				h.wantState(StateSelecting)
				h.last(dhcp.Discover)
			})
			t.Run(name+"/renew", func(t *testing.T) {
				h := setup(t)
				wasCfg := h.config != nil
				acts := h.record(h.c.Renew(h.now))
				want := StateSelecting
				switch s {
				case StateBound, StateRenewing:
					want = StateRenewing
				case StateRebinding:
					want = StateRebinding
				case StateRebooting:
					want = StateRebooting
				}
				h.wantState(want)
				if clHas[Deconfigure](acts) {
					t.Error("renew deconfigured")
				}
				if (h.config != nil) != wasCfg {
					t.Error("configuration changed")
				}
				if !down && !clHas[SendDHCP](acts) {
					t.Error("renew sent nothing")
				}
				if want == StateRenewing && !down {
					h.reply(dhcp.Ack, nil)
					h.wantState(StateBound)
				}
			})
			for _, release := range []bool{false, true} {
				rn := "/stop"
				if release {
					rn = "/stop-release"
				}
				t.Run(name+rn, func(t *testing.T) {
					h := setup(t)
					configured := h.config != nil
					acts := h.record(h.c.Stop(h.now, release))
					h.wantState(StateStopped)
					if h.exit == nil || h.exit.Why != ExitStopped {
						t.Fatalf("exit %+v", h.exit)
					}
					if _, ok := acts[len(acts)-1].(Exit); !ok {
						t.Fatal("Exit not last")
					}
					if got := clHas[Deconfigure](acts); got != (release && configured) {
						t.Errorf("Deconfigure %v", got)
					}
					if !release && clHas[ForgetLease](acts) {
						t.Error("lease forgotten without release")
					}
					if h.sockets.Open != SocketSet(0) {
						t.Errorf("sockets %+v", h.sockets)
					}
					for _, f := range []func() []Action{
						func() []Action { return h.c.Stop(h.now, true) },
						func() []Action { return h.c.Renew(h.now) },
						func() []Action { return h.c.Release(h.now) },
						func() []Action { return h.c.HandleTimer(h.now.Add(time.Hour)) },
						func() []Action { return h.c.HandlePacket(h.now, &dhcp.Message{}) },
						func() []Action { return h.c.HandleARP(h.now, dhcp.ARP{SenderIP: clAddr}) },
						func() []Action { return h.c.HandleLink(h.now, h.down) },
					} {
						if acts := f(); len(acts) != 0 {
							t.Fatalf("actions after stop: %v", acts)
						}
					}
				})
			}
		}
	}
}

func TestClientOneShot(t *testing.T) {
	h := newClHarness(t, Settings{OneShot: true}, nil)
	h.toChecking()
	acts := h.fire()
	if h.exit == nil || h.exit.Why != ExitOneShot {
		t.Fatalf("exit %+v", h.exit)
	}
	h.wantState(StateStopped)
	if !clHas[Configure](acts) || !clHas[SaveLease](acts) || clHas[Deconfigure](acts) ||
		clHas[ForgetLease](acts) {
		t.Fatalf("%v", acts)
	}
	if h.config == nil {
		t.Fatal("not configured")
	}
	if clCount[SendARP](acts) != 1 {
		t.Errorf("%d arp sends", clCount[SendARP](acts))
	}
}

// TestClientRebind: a rebind request in BOUND or RENEWING goes to
// REBINDING at once, broadcasting a DHCPREQUEST with ciaddr and no server
// identifier (RFC 2131 section 4.4.5), and an answer from another server
// binds; in REBINDING it sends again; without a lease it discovers.
func TestClientRebind(t *testing.T) {
	for _, s := range []State{StateBound, StateRenewing} {
		t.Run(s.String(), func(t *testing.T) {
			h := newClHarness(t, Settings{}, nil)
			h.toState(s)
			before := len(h.dhcp)
			h.record(h.c.Rebind(h.now))
			h.wantState(StateRebinding)
			if len(h.dhcp) != before+1 {
				t.Fatalf("%d requests sent, want 1", len(h.dhcp)-before)
			}
			r := h.last(dhcp.Request)
			if r.unicast.IsValid() || r.source != clAddr || r.msg.CIAddr != clAddr {
				t.Fatalf("rebind unicast %v source %v ciaddr %v", r.unicast, r.source, r.msg.CIAddr)
			}
			if _, ok := r.msg.Options.Get(dhcp.OptServerID); ok {
				t.Error("rebind with option 54")
			}
			if h.sockets.Open != SocketsOf(SocketRaw, SocketARPDefense) {
				t.Fatalf("rebinding sockets %+v", h.sockets)
			}
			h.srv.id = clServer2
			h.reply(dhcp.Ack, nil)
			h.wantState(StateBound)
			if h.config == nil || h.config.ServerID != clServer2 {
				t.Fatalf("lease after rebind %+v", h.config)
			}
		})
	}
	t.Run("REBINDING sends again", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateRebinding)
		xid := h.last(dhcp.Request).msg.XID
		before := len(h.dhcp)
		h.record(h.c.Rebind(h.now))
		h.wantState(StateRebinding)
		if len(h.dhcp) != before+1 || h.last(dhcp.Request).msg.XID != xid {
			t.Fatalf("sent %d, same xid %v", len(h.dhcp)-before, h.last(dhcp.Request).msg.XID == xid)
		}
	})
	t.Run("RELEASED discovers", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toState(StateReleased)
		h.record(h.c.Rebind(h.now))
		h.wantState(StateSelecting)
	})
}
