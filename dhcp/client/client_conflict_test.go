package client

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// The conflict back-off (Timings.ConflictWait, DeclineWait,
// ConflictRateLimit), driven with the fake clock.

var (
	// clSquat is the squatter's answer to the client's probe of clAddr.
	clSquat = dhcp.ARP{Op: dhcp.ARPReply, SenderHW: clOtherMAC, SenderIP: clAddr, TargetHW: clMAC}
	// clClaim is another host announcing clAddr while the client holds it.
	clClaim = dhcp.ARP{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: clAddr, TargetIP: clAddr}
	clGood  = netip.MustParseAddr("192.0.2.51")
)

// discoverTimes returns when each DHCPDISCOVER h saw went out.
func (h *clHarness) discoverTimes() []time.Time {
	var ts []time.Time
	for _, s := range h.dhcp {
		if s.typ() == dhcp.Discover {
			ts = append(ts, s.at)
		}
	}
	return ts
}

// conflictRun drives a fresh client for d of simulated time on a network
// where the server answers at once and always offers clAddr, and another
// host claims clAddr: it answers every probe 2 ms after the DHCPACK, or,
// with afterBind, lets the probe pass and claims the bound address twice
// within a second, which makes the client give it up. It returns the
// number of binds.
func conflictRun(h *clHarness, d time.Duration, afterBind bool) int {
	h.t.Helper()
	end := h.now.Add(d)
	binds := 0
	h.start()
	for i := 0; i < 100000 && h.now.Before(end); i++ {
		switch h.c.State() {
		case StateSelecting:
			h.reply(dhcp.Offer, nil)
		case StateRequesting:
			h.reply(dhcp.Ack, nil)
		case StateChecking:
			if afterBind {
				h.fire()
				continue
			}
			h.now = h.now.Add(2 * time.Millisecond)
			if acts := h.arpIn(clSquat); !clHas[SendDHCP](acts) {
				h.t.Fatalf("no decline after a conflict: %v", acts)
			}
			h.last(dhcp.Decline)
		case StateBound:
			binds++
			for range 2 {
				h.now = h.now.Add(400 * time.Millisecond)
				h.arpIn(clClaim)
			}
			h.wantState(StateInit)
		case StateInit:
			h.fire()
		default:
			h.t.Fatalf("state %v", h.c.State())
		}
	}
	if h.now.Before(end) {
		h.t.Fatal("run did not reach its end")
	}
	return binds
}

// checkRate checks the DHCPDISCOVERs of a run where every address
// conflicts: the first two conflicts are followed by a DISCOVER within
// ConflictWait (plus the exchange, slack), every later one leaves at
// least DeclineWait after the one before, and from the tenth conflict at
// least ConflictRateLimit; over d, at most ceil(d/DeclineWait)+3 of them,
// and at least one per ConflictRateLimit plus slack (the client keeps
// trying).
func checkRate(t *testing.T, ds []time.Time, d, slack time.Duration) {
	t.Helper()
	if len(ds) < 12 {
		t.Fatalf("%d discovers", len(ds))
	}
	// ds[i] is the DISCOVER after the i-th conflict.
	for i := 1; i < len(ds); i++ {
		gap := ds[i].Sub(ds[i-1])
		switch {
		case i <= quickConflicts:
			if gap < defConflictWait/10 || gap > defConflictWait+slack {
				t.Errorf("conflict %d: next DISCOVER after %v, want %v to %v", i, gap, defConflictWait/10, defConflictWait+slack)
			}
		case i < maxConflicts:
			if gap < defDeclineWait || gap > defDeclineWait+slack {
				t.Errorf("conflict %d: next DISCOVER after %v, want %v", i, gap, defDeclineWait)
			}
		default:
			if gap < defConflictRate || gap > defConflictRate+slack {
				t.Errorf("conflict %d: next DISCOVER after %v, want %v", i, gap, defConflictRate)
			}
		}
	}
	maxN := int((d+defDeclineWait-1)/defDeclineWait) + 3
	minN := int(d / (defConflictRate + slack))
	if len(ds) > maxN || len(ds) < minN {
		t.Errorf("%d DISCOVERs in %v, want %d to %d", len(ds), d, minN, maxN)
	}
	t.Logf("%d DISCOVERs in %v", len(ds), d)
}

func TestClientConflictBackoff(t *testing.T) {
	t.Run("first conflict: DISCOVER within the short wait", func(t *testing.T) {
		for seed := uint32(0); seed < 50; seed++ {
			h := newClHarness(t, Settings{}, nil)
			h.c.rnd = clRand(seed)
			h.toChecking()
			h.now = h.now.Add(time.Millisecond)
			at := h.now
			h.arpIn(clSquat)
			h.last(dhcp.Decline)
			h.fire()
			d := h.last(dhcp.Discover)
			if w := d.at.Sub(at); w < defConflictWait/10 || w > defConflictWait {
				t.Fatalf("seed %d: DISCOVER %v after the conflict, want %v to %v", seed, w, defConflictWait/10, defConflictWait)
			}
			if _, ok := d.msg.Options.Get(dhcp.OptRequestedIP); ok {
				t.Fatal("declined address requested again")
			}
		}
	})
	t.Run("good address after one conflict", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toChecking()
		h.now = h.now.Add(time.Millisecond)
		at := h.now
		h.arpIn(clSquat)
		h.fire()
		h.srv.addr = clGood // the server took the DHCPDECLINE
		h.reply(dhcp.Offer, nil)
		if r, _ := h.last(dhcp.Request).opt(dhcp.OptRequestedIP); r != clGood {
			t.Fatalf("requested %v", r)
		}
		h.reply(dhcp.Ack, nil)
		for h.c.State() == StateChecking {
			h.fire()
		}
		h.wantState(StateBound)
		if h.config == nil || h.config.Addr.Addr() != clGood {
			t.Fatalf("configured %+v", h.config)
		}
		// Server answers at once: the short wait and the fast check's
		// window are all there is, well below dhcpcd's 5.8 s.
		if d := h.now.Sub(at); d > defConflictWait+defFastWait {
			t.Fatalf("bound %v after the conflict", d)
		}
		if h.c.conflicts != 1 {
			t.Fatalf("%d conflicts counted at the bind", h.c.conflicts)
		}
	})
	t.Run("every offer conflicts for an hour", func(t *testing.T) {
		for _, mode := range []ARPMode{ARPFast, ARPRFC5227} {
			t.Run(mode.String(), func(t *testing.T) {
				h := newClHarness(t, Settings{ARP: mode}, nil)
				if n := conflictRun(h, time.Hour, false); n != 0 || h.config != nil {
					t.Fatalf("%d binds, configured %+v", n, h.config)
				}
				// RFC 5227 mode: the 1 s PROBE_WAIT is part of the exchange.
				checkRate(t, h.discoverTimes(), time.Hour, 100*time.Millisecond+h.c.s.ARPTimings.ProbeWait)
			})
		}
	})
	t.Run("every bound address claimed for an hour", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		binds := conflictRun(h, time.Hour, true)
		ds := h.discoverTimes()
		// A bind and a give-up per cycle: the last cycle may be unfinished.
		if binds < len(ds)-1 || binds > len(ds) {
			t.Errorf("%d binds, %d DISCOVERs", binds, len(ds))
		}
		// Each cycle adds the check's window and the claims' 800 ms.
		checkRate(t, ds, time.Hour, defFastWait+time.Second)
	})
	t.Run("count holds through a bind", func(t *testing.T) {
		h, bound := boundAfterConflicts(t, 4)
		if dl := h.c.Deadline(); dl.After(bound.Add(defDefendInterval)) {
			t.Fatalf("deadline %v after the bind, past the settle time", dl.Sub(bound))
		}
		// Lost within DefendInterval of the bind: the fifth conflict.
		h.advance(defDefendInterval / 2)
		claimTwice(h, clGood)
		if h.now.Sub(bound) >= defDefendInterval {
			t.Fatalf("lost %v after the bind", h.now.Sub(bound))
		}
		if d := h.c.Deadline().Sub(h.now); d != defDeclineWait {
			t.Fatalf("wait %v after losing the address within the defend interval, want %v", d, defDeclineWait)
		}
	})
	t.Run("count resets once the address held", func(t *testing.T) {
		h, bound := boundAfterConflicts(t, 4)
		h.advance(defDefendInterval)
		if h.c.conflicts != 0 || !h.c.settleAt.IsZero() {
			t.Fatalf("%d conflicts, settle %v after the address held", h.c.conflicts, h.c.settleAt)
		}
		if h.now.Sub(bound) != defDefendInterval {
			t.Fatalf("advanced %v", h.now.Sub(bound))
		}
		// The next conflict is a first one again.
		claimTwice(h, clGood)
		if d := h.c.Deadline().Sub(h.now); d < defConflictWait/10 || d > defConflictWait {
			t.Fatalf("wait %v after a conflict that follows a held address", d)
		}
	})
	t.Run("no extra timer without conflicts", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toBound()
		if !h.c.settleAt.IsZero() || h.c.conflicts != 0 {
			t.Fatalf("settle %v, %d conflicts", h.c.settleAt, h.c.conflicts)
		}
	})
	t.Run("settle timer after the lease is gone", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.toChecking()
		h.arpIn(clSquat)
		h.fire()
		h.srv.addr = clGood
		h.reply(dhcp.Offer, nil)
		h.reply(dhcp.Ack, nil)
		for h.c.State() == StateChecking {
			h.fire()
		}
		h.record(h.c.Release(h.now))
		// The timer still fires, but a released address did not hold.
		h.advance(defDefendInterval)
		if h.c.conflicts != 1 || !h.c.settleAt.IsZero() || !h.c.Deadline().IsZero() {
			t.Fatalf("%d conflicts, settle %v, deadline %v", h.c.conflicts, h.c.settleAt, h.c.Deadline())
		}
	})
}

// boundAfterConflicts returns a client bound to clGood after n conflicts
// on clAddr in a row, and when it bound.
func boundAfterConflicts(t *testing.T, n int) (*clHarness, time.Time) {
	t.Helper()
	h := newClHarness(t, Settings{}, nil)
	h.toChecking()
	for i := range n {
		h.arpIn(clSquat)
		h.wantState(StateInit)
		if i == n-1 {
			h.srv.addr = clGood // the server has run out of bad addresses
		}
		h.fire()
		h.reply(dhcp.Offer, nil)
		h.reply(dhcp.Ack, nil)
	}
	for h.c.State() == StateChecking {
		h.fire()
	}
	h.wantState(StateBound)
	if h.config == nil || h.config.Addr.Addr() != clGood || h.c.conflicts != n {
		t.Fatalf("configured %+v after %d conflicts", h.config, h.c.conflicts)
	}
	return h, h.now
}

// claimTwice has another host claim addr twice within a second, which
// makes a bound client give it up.
func claimTwice(h *clHarness, addr netip.Addr) {
	h.t.Helper()
	claim := dhcp.ARP{Op: dhcp.ARPRequest, SenderHW: clOtherMAC, SenderIP: addr, TargetIP: addr}
	h.arpIn(claim)
	h.now = h.now.Add(time.Second)
	h.arpIn(claim)
	h.wantState(StateInit)
}

func TestClientConflictSettings(t *testing.T) {
	bad := map[string]Timings{
		"negative conflict wait":  {ConflictWait: -1},
		"negative rate limit":     {ConflictRateLimit: -time.Second},
		"short above decline":     {ConflictWait: 11 * time.Second},
		"decline above limit":     {DeclineWait: 2 * time.Minute},
		"limit below the default": {ConflictRateLimit: 5 * time.Second},
	}
	for name, tm := range bad {
		s := Settings{MAC: clMAC, Timings: tm}
		if s.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, tm := range []Timings{
		{},
		{ConflictWait: 10 * time.Second},
		{ConflictWait: time.Millisecond, DeclineWait: time.Millisecond, ConflictRateLimit: time.Millisecond},
		{DeclineWait: time.Minute},
	} {
		s := Settings{MAC: clMAC, Timings: tm}
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", tm, err)
		}
	}
}
