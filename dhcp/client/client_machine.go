package client

import (
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// transitions lists, for each state, the states it may move to. Anything
// else is a bug: setState logs it and refuses (compare dhcpleased's
// state_transition, which aborts).
var transitions = [...]uint16{
	StateInit:       bits(StateSelecting, StateInitReboot, StateReleased, StateStopped),
	StateSelecting:  bits(StateRequesting, StateInit, StateReleased, StateStopped),
	StateRequesting: bits(StateChecking, StateBound, StateInit, StateReleased, StateStopped),
	StateChecking:   bits(StateBound, StateInit, StateReleased, StateStopped),
	// BOUND to REBINDING: only by a rebind request (Rebind).
	StateBound:      bits(StateRenewing, StateRebinding, StateInit, StateInitReboot, StateReleased, StateStopped),
	StateRenewing:   bits(StateBound, StateRebinding, StateInit, StateInitReboot, StateReleased, StateStopped),
	StateRebinding:  bits(StateBound, StateInit, StateInitReboot, StateReleased, StateStopped),
	StateInitReboot: bits(StateRebooting, StateInit, StateReleased, StateStopped),
	StateRebooting:  bits(StateChecking, StateBound, StateInit, StateReleased, StateStopped),
	StateReleased:   bits(StateInit, StateStopped),
	StateStopped:    0,
}

func bits(states ...State) uint16 {
	var b uint16
	for _, s := range states {
		b |= 1 << s
	}
	return b
}

// setState moves to state to, logging one line. It refuses (and logs a
// bug) a transition that the table does not allow. Every state arms its
// own timer, so the state timer is cleared.
func (c *Client) setState(now time.Time, to State, reason string, attrs ...slog.Attr) bool {
	from := c.state
	if int(from) >= len(transitions) || transitions[from]&(1<<to) == 0 {
		c.log(slog.LevelError, "dhcp: bug: invalid state transition",
			slog.String("from", from.String()), slog.String("to", to.String()), slog.String("reason", reason))
		return false
	}
	c.state = to
	c.timer = time.Time{}
	a := make([]slog.Attr, 0, 2+len(attrs))
	a = append(a, slog.String("from", from.String()), slog.String("reason", reason))
	c.log(slog.LevelInfo, "state "+to.String(), append(a, attrs...)...)
	t := Transition{From: from, To: to, Cause: reason}
	if c.lease != nil {
		t.Addr = c.lease.Addr
	}
	c.acts = append(c.acts, t)
	if !c.holdSockets {
		c.syncSockets()
	}
	return true
}

func (c *Client) log(level slog.Level, msg string, attrs ...slog.Attr) {
	c.acts = append(c.acts, Log{Level: level, Msg: msg, Attrs: attrs})
}

func (c *Client) note(k NoteKind, addr netip.Addr, mac dhcp.MAC) {
	c.acts = append(c.acts, Note{Kind: k, Addr: addr, MAC: mac})
}

func (c *Client) drop(why string, attrs ...slog.Attr) {
	c.log(slog.LevelDebug, "dropped "+why, attrs...)
}

// dropEntry warns that one entry of a reply's list (what) was left out of
// the lease.
func (c *Client) dropEntry(what string, a netip.Addr) {
	c.log(slog.LevelWarn, "ignored an unusable "+what+" address, kept the rest of the lease", slog.String("address", a.String()))
}

// fail stops the client after an error it cannot recover from.
func (c *Client) fail(now time.Time, err error) {
	c.log(slog.LevelError, "dhcp client failed", slog.String("err", err.Error()))
	c.setState(now, StateStopped, "error")
	c.acts = append(c.acts, Exit{Why: ExitFailed, Err: err})
}

// wantSockets returns the sockets the current state needs.
func (c *Client) wantSockets() Sockets {
	var open []Socket
	switch c.state {
	case StateSelecting, StateRequesting, StateChecking, StateInitReboot, StateRebooting, StateRebinding:
		open = append(open, SocketRaw)
	case StateRenewing:
		open = append(open, SocketUDP)
	}
	if c.releasing && c.state != StateRenewing {
		open = append(open, SocketUDP)
	}
	arp := c.state == StateChecking || (c.configured && c.gw != gwIdle)
	if arp {
		open = append(open, SocketARP)
	}
	if c.configured && !arp && c.state != StateReleased && c.state != StateStopped {
		open = append(open, SocketARPDefense)
	}
	// A bound socket needs the lease's address: in the moment between
	// dropping a lease and leaving RENEWING there is none, so none.
	var s Sockets
	for _, k := range open {
		if k.Bound() && c.lease == nil {
			continue
		}
		s.Open |= SocketsOf(k)
		if k.Bound() {
			s.Addr = c.lease.Addr.Addr()
		}
		if k == SocketUDP {
			s.Server = c.lease.ServerID
		}
	}
	return s
}

func (c *Client) syncSockets() {
	if s := c.wantSockets(); s != c.sockets {
		c.sockets = s
		c.acts = append(c.acts, s)
	}
}

// --- sending ---

func (c *Client) newXID() { c.xid = c.rnd() }

// secs is the secs field: seconds since the exchange began (RFC 2131
// section 2).
func (c *Client) secs(now time.Time) uint16 {
	d := now.Sub(c.exStart) / time.Second
	return uint16(min(max(d, 0), 0xffff))
}

// sendDHCP emits a built message, or stops the client if the builder
// failed (only settings that Validate rejects make it fail).
func (c *Client) sendDHCP(now time.Time, b []byte, err error, unicast, source netip.Addr) bool {
	if err != nil {
		c.fail(now, err)
		return false
	}
	c.acts = append(c.acts, SendDHCP{Packet: b, Unicast: unicast, Source: source})
	return true
}

func newPacket() []byte { return make([]byte, 0, 320) }

func (c *Client) sendDiscover(now time.Time) {
	if c.linkDown {
		return
	}
	b, err := c.cc.AppendDiscover(newPacket(), c.xid, c.secs(now), c.hint)
	c.sendDHCP(now, b, err, netip.Addr{}, netip.Addr{})
}

// sendRequest sends the DHCPREQUEST of the current state (RFC 2131
// section 4.3.2, table 5).
func (c *Client) sendRequest(now time.Time) {
	if c.linkDown {
		return
	}
	var (
		b               []byte
		err             error
		unicast, source netip.Addr
	)
	switch c.state {
	case StateRequesting:
		b, err = c.cc.AppendRequestSelecting(newPacket(), c.xid, c.secs(now), c.cand.Addr.Addr(), c.cand.ServerID)
	case StateRebooting:
		b, err = c.cc.AppendRequestInitReboot(newPacket(), c.xid, c.secs(now), c.lease.Addr.Addr())
	case StateRenewing:
		b, err = c.cc.AppendRequestRenewing(newPacket(), c.xid, c.secs(now), c.lease.Addr.Addr())
		unicast = c.lease.ServerID
	case StateRebinding:
		b, err = c.cc.AppendRequestRebinding(newPacket(), c.xid, c.secs(now), c.lease.Addr.Addr())
		source = c.lease.Addr.Addr()
	default:
		c.log(slog.LevelError, "dhcp: bug: request in state "+c.state.String())
		return
	}
	c.sendDHCP(now, b, err, unicast, source)
}

func (c *Client) sendARP(a dhcp.ARP) {
	if c.linkDown {
		return
	}
	c.acts = append(c.acts, SendARP{Frame: a})
}

// --- timers ---

// jitter returns a uniform random duration in [-1 s, +1 s] (RFC 2131
// section 4.1).
func (c *Client) jitter() time.Duration {
	return time.Duration(c.rnd()%2001)*time.Millisecond - time.Second
}

// randBetween returns a uniform random duration in [lo, hi], in
// milliseconds.
func (c *Client) randBetween(lo, hi time.Duration) time.Duration {
	span := int64((hi - lo) / time.Millisecond)
	if span <= 0 {
		return lo
	}
	return lo + time.Duration(int64(c.rnd())%(span+1))*time.Millisecond
}

// backoff returns the wait after the n-th transmission (counting from 0)
// of DISCOVER or REQUEST: 4 s doubled each time up to 64 s, plus or minus
// up to 1 s (RFC 2131 section 4.1).
func (c *Client) backoff(n int) time.Duration {
	return min(4*time.Second<<min(n, 4), maxBackoff) + c.jitter()
}

// transmit sends the message of the current exchange and arms the
// retransmission timer, unless the carrier is down.
func (c *Client) transmit(now time.Time) {
	if c.linkDown {
		c.timer = time.Time{}
		return
	}
	if c.state == StateSelecting {
		c.sendDiscover(now)
	} else {
		c.sendRequest(now)
	}
	if c.state == StateStopped {
		return
	}
	c.timer = now.Add(c.backoff(c.tries))
	c.tries++
}

// armRenew arms the RENEWING timer: half the time left to T2, at least
// RetransMin, but never past T2 (RFC 2131 section 4.4.5).
func (c *Client) armRenew(now time.Time) {
	t2 := c.lease.RebindAt()
	if c.linkDown {
		c.timer = t2
		return
	}
	if t2.IsZero() { // infinite lease, renewed by request: no T2
		c.timer = now.Add(c.s.Timings.RetransMin)
		return
	}
	next := now.Add(max(t2.Sub(now)/2, c.s.Timings.RetransMin))
	if next.After(t2) {
		next = t2
	}
	c.timer = next
}

// pastT2 reports whether the lease is due for REBINDING at now.
func (c *Client) pastT2(now time.Time) bool {
	t2 := c.lease.RebindAt()
	return !t2.IsZero() && !now.Before(t2)
}

// armRebind arms the REBINDING timer: half the time left to expiry, at
// least RetransMin, never past expiry (RFC 2131 section 4.4.5).
func (c *Client) armRebind(now time.Time) {
	if c.linkDown {
		c.timer = time.Time{}
		return
	}
	if c.lease.Infinite() {
		c.timer = now.Add(c.s.Timings.RetransMin)
		return
	}
	exp := c.lease.Expiry()
	next := now.Add(max(exp.Sub(now)/2, c.s.Timings.RetransMin))
	if next.After(exp) {
		next = exp
	}
	c.timer = next
}

func (c *Client) handleTimer(now time.Time) {
	c.settle(now)
	if c.holdsLease() && c.lease.Expired(now) {
		c.expire(now)
		return
	}
	if c.arpDue(now) {
		c.arpTick(now)
	}
	if c.timer.IsZero() || now.Before(c.timer) {
		return
	}
	switch c.state {
	case StateInit:
		c.discover(now, "wait over")
	case StateSelecting:
		c.transmit(now)
	case StateRequesting:
		if c.tries >= c.s.Timings.RequestTries {
			c.cand = nil
			c.toInit(now, "no answer to request", 0)
			return
		}
		c.transmit(now)
	case StateRebooting:
		if c.tries >= c.s.Timings.RebootTries {
			c.rebootTimeout(now)
			return
		}
		c.transmit(now)
	case StateChecking:
		c.checkTick(now)
	case StateBound:
		c.enterRenewing(now, "t1")
	case StateRenewing:
		if c.pastT2(now) {
			c.enterRebinding(now)
			return
		}
		c.sendRequest(now)
		c.armRenew(now)
	case StateRebinding:
		c.sendRequest(now)
		c.armRebind(now)
	default:
		c.timer = time.Time{}
	}
}

// --- transitions ---

// toInit moves to INIT, dropping every exchange, and starts discovery after
// wait (at once if wait is 0).
func (c *Client) toInit(now time.Time, reason string, wait time.Duration) {
	c.stopARP()
	if !c.setState(now, StateInit, reason) {
		return
	}
	c.cand = nil
	if wait > 0 {
		c.timer = now.Add(wait)
		return
	}
	c.discover(now, reason)
}

// discover starts a new exchange from INIT: a new xid and a DHCPDISCOVER
// (RFC 2131 section 4.4.1).
func (c *Client) discover(now time.Time, reason string) {
	if !c.setState(now, StateSelecting, reason) {
		return
	}
	c.newXID()
	c.exStart = now
	c.tries = 0
	c.transmit(now)
}

// initReboot confirms c.lease with a DHCPREQUEST without server
// identifier (RFC 2131 section 3.2).
func (c *Client) initReboot(now time.Time, reason string) {
	c.stopARP()
	if !c.setState(now, StateInitReboot, reason) {
		return
	}
	if !c.setState(now, StateRebooting, reason) {
		return
	}
	c.newXID()
	c.exStart, c.reqSent = now, now
	c.tries = 0
	c.transmit(now)
}

// unconfigure removes the lease from the interface if it may be there:
// the client configured it, or a previous run did (a saved lease being
// rebooted, whose address the last run left with its lifetime).
// Deconfigure removes only what ifch installed, so asking when nothing is
// there is harmless.
func (c *Client) unconfigure() {
	if c.configured || c.leftover {
		c.acts = append(c.acts, Deconfigure{})
	}
	c.configured, c.leftover = false, false
}

// rebootTimeout ends REBOOTING without an answer: the lease is given up
// (RFC 2131 section 3.2 step 5 allows keeping it; the client prefers a
// fresh DISCOVER that asks for the same address).
func (c *Client) rebootTimeout(now time.Time) {
	// A leftover address stays: its lease has not expired, and RFC 2131
	// section 3.2 even lets the client keep using it.
	if c.configured {
		c.acts = append(c.acts, Deconfigure{})
		c.configured = false
	}
	c.hint = c.lease.Addr.Addr()
	c.lease = nil
	c.toInit(now, "no answer to init-reboot request", 0)
}

func (c *Client) enterRenewing(now time.Time, reason string) {
	if !c.setState(now, StateRenewing, reason) {
		return
	}
	if c.pastT2(now) {
		c.enterRebinding(now)
		return
	}
	c.newXID()
	c.exStart, c.reqSent = now, now
	c.sendRequest(now)
	c.armRenew(now)
}

func (c *Client) enterRebinding(now time.Time) { c.enterRebindingFor(now, "t2") }

func (c *Client) enterRebindingFor(now time.Time, reason string) {
	if !c.setState(now, StateRebinding, reason) {
		return
	}
	c.newXID()
	c.exStart, c.reqSent = now, now
	c.sendRequest(now)
	c.armRebind(now)
}

// nak handles a DHCPNAK: the lease is gone (RFC 2131 section 3.1 step 5,
// 3.2 step 4, 4.4.5).
func (c *Client) nak(now time.Time, server netip.Addr) {
	c.log(slog.LevelWarn, "server refused the request", slog.String("server", server.String()),
		slog.String("state", c.state.String()))
	c.unconfigure()
	c.acts = append(c.acts, ForgetLease{})
	c.lease = nil
	c.hint = netip.Addr{}
	wait := min(c.s.Timings.NAKWait<<min(c.naks, 7), maxBackoff)
	c.naks++
	c.toInit(now, "dhcpnak", wait)
}

// expire handles the end of the lease (RFC 2131 section 4.4.5).
func (c *Client) expire(now time.Time) {
	c.log(slog.LevelWarn, "lease expired", slog.String("address", c.lease.Addr.String()))
	c.note(NoteLeaseExpired, c.lease.Addr.Addr(), dhcp.MAC{})
	c.unconfigure()
	c.acts = append(c.acts, ForgetLease{})
	c.hint = c.lease.Addr.Addr()
	c.lease = nil
	c.toInit(now, "lease expired", 0)
}

// dropLease releases the lease for Release and Stop: DHCPRELEASE if an
// address is configured and the carrier is up, then Deconfigure and
// ForgetLease.
func (c *Client) dropLease(now time.Time, release bool) {
	if c.configured {
		if release && !c.linkDown {
			c.releasing = true
			c.syncSockets()
			b, err := c.cc.AppendRelease(newPacket(), c.rnd(), c.lease.Addr.Addr(), c.lease.ServerID)
			c.releasing = false
			if !c.sendDHCP(now, b, err, c.lease.ServerID, netip.Addr{}) {
				return
			}
		}
		c.acts = append(c.acts, Deconfigure{})
		c.configured = false
	}
	c.acts = append(c.acts, ForgetLease{})
	c.lease, c.cand = nil, nil
	c.hint = netip.Addr{}
	c.stopARP()
	c.syncSockets()
}

func (c *Client) renew(now time.Time) {
	switch c.state {
	case StateBound:
		c.enterRenewing(now, "renew requested")
	case StateRenewing, StateRebinding:
		c.log(slog.LevelInfo, "renew requested: sending again")
		c.sendRequest(now)
		if c.state == StateRenewing {
			c.armRenew(now)
		} else {
			c.armRebind(now)
		}
	case StateRebooting:
		c.log(slog.LevelInfo, "renew requested: sending again")
		c.tries = 0
		c.transmit(now)
	case StateInit:
		c.cand = nil
		c.discover(now, "renew requested")
	default:
		c.toInit(now, "renew requested", 0)
	}
}

func (c *Client) handleLink(now time.Time, up bool) {
	c.linkDown = !up
	if !up {
		c.log(slog.LevelWarn, "carrier lost", slog.String("state", c.state.String()))
		c.note(NoteCarrierDown, netip.Addr{}, dhcp.MAC{})
		c.stopARP()
		c.syncSockets()
		switch c.state {
		case StateSelecting, StateRequesting, StateRebooting, StateChecking, StateRebinding:
			c.timer = time.Time{}
		case StateRenewing:
			c.armRenew(now)
		}
		return
	}
	c.log(slog.LevelInfo, "carrier up", slog.String("state", c.state.String()))
	c.note(NoteCarrierUp, netip.Addr{}, dhcp.MAC{})
	switch c.state {
	case StateSelecting, StateRequesting, StateRebooting:
		c.tries = 0
		c.transmit(now)
	case StateRenewing:
		c.sendRequest(now)
		c.armRenew(now)
	case StateRebinding:
		c.sendRequest(now)
		c.armRebind(now)
	case StateChecking:
		c.startProbing(now)
	case StateBound:
		c.checkGateway(now)
	}
}

// --- replies ---

func (c *Client) handlePacket(now time.Time, m *dhcp.Message) {
	switch c.state {
	case StateSelecting, StateRequesting, StateRebooting, StateRenewing, StateRebinding:
	default:
		c.drop("message: not expecting one", slog.String("state", c.state.String()))
		return
	}
	r, err := c.parseReply(m)
	if err != nil {
		c.drop("message", slog.String("err", err.Error()))
		return
	}
	for _, oe := range r.Dropped() {
		c.log(slog.LevelWarn, "ignored a malformed option, kept the rest of the "+r.Type.String(),
			slog.Int("option", int(oe.Code)), slog.String("err", oe.Err.Error()))
	}
	for _, oe := range r.Cut() {
		c.log(slog.LevelWarn, "kept only the first addresses of a long list",
			slog.Int("option", int(oe.Code)), slog.String("err", oe.Err.Error()))
	}
	switch c.state {
	case StateSelecting:
		if r.Type != dhcp.Offer {
			c.drop("message: not an offer", slog.String("type", r.Type.String()))
			return
		}
		l, err := r.lease(now, c.s.IgnoreClasslessRoutes, c.dropEntry)
		if err != nil {
			c.drop("offer", slog.String("err", err.Error()))
			return
		}
		c.cand = l
		if !c.setState(now, StateRequesting, "offer", slog.String("address", l.Addr.String()),
			slog.String("server", l.ServerID.String())) {
			return
		}
		c.reqSent = now
		c.tries = 0
		c.transmit(now)
	case StateRequesting:
		if r.ServerID != c.cand.ServerID {
			c.drop("message: not from the selected server", slog.String("server", r.ServerID.String()))
			return
		}
		c.ackOrNak(now, r, c.cand.Addr.Addr())
	case StateRebooting:
		c.ackOrNak(now, r, c.lease.Addr.Addr())
	case StateRenewing:
		if r.ServerID != c.lease.ServerID {
			c.drop("message: not from the lease's server", slog.String("server", r.ServerID.String()))
			return
		}
		c.ackOrNak(now, r, c.lease.Addr.Addr())
	case StateRebinding:
		c.ackOrNak(now, r, c.lease.Addr.Addr())
	}
}

// ackOrNak handles a DHCPACK or DHCPNAK for a request of addr.
func (c *Client) ackOrNak(now time.Time, r *clientReply, addr netip.Addr) {
	switch r.Type {
	case dhcp.Nak:
		c.nak(now, r.ServerID)
		return
	case dhcp.Ack:
	default:
		c.drop("message: not an ack or nak", slog.String("type", r.Type.String()))
		return
	}
	if r.Msg.YIAddr != addr {
		c.drop("ack: for another address", slog.String("yiaddr", r.Msg.YIAddr.String()), slog.String("requested", addr.String()))
		return
	}
	l, err := r.lease(c.reqSent, c.s.IgnoreClasslessRoutes, c.dropEntry)
	if err != nil {
		c.drop("ack", slog.String("err", err.Error()))
		return
	}
	if r.shortLease {
		c.log(slog.LevelWarn, "short lease", slog.String("server", r.ServerID.String()), slog.String("lease", durString(l.LeaseTime)))
	}
	switch c.state {
	case StateRequesting:
		c.startCheck(now, l)
	case StateRebooting:
		if c.configured {
			c.rebind(now, l, "init-reboot ack")
		} else {
			c.startCheck(now, l)
		}
	default:
		c.rebind(now, l, "renewed")
	}
}

// bind binds a new lease after the conflict check (RFC 2131 section 4.4.1).
func (c *Client) bind(now time.Time, l *Lease) {
	c.cand = nil
	c.lease = l
	c.configured, c.leftover = true, false
	c.naks = 0
	if c.conflicts > 0 {
		c.settleAt = now.Add(c.s.ARPTimings.DefendInterval)
	}
	c.hint = l.Addr.Addr()
	c.defended = false
	c.annLeft, c.annAt = c.s.ARPTimings.AnnounceNum, now
	if c.s.OneShot {
		c.annLeft = min(c.annLeft, 1)
	} else {
		c.startGatewayLearn(now)
	}
	if !c.bound(now, l, "lease obtained") {
		return
	}
	if c.s.OneShot {
		c.arpTick(now)
		c.setState(now, StateStopped, "one-shot")
		c.acts = append(c.acts, Exit{Why: ExitOneShot})
		return
	}
	c.arpTick(now)
}

// rebind takes a DHCPACK for the address already configured: renewing,
// rebinding, or INIT-REBOOT after a carrier change.
func (c *Client) rebind(now time.Time, l *Lease, reason string) {
	old := c.lease
	if old.Gateway() == l.Gateway() {
		l.RouterMAC = old.RouterMAC
	}
	c.lease = l
	c.naks = 0
	if l.RouterMAC == (dhcp.MAC{}) && c.gw == gwIdle {
		c.startGatewayLearn(now)
	}
	if !c.bound(now, l, reason) {
		return
	}
	c.arpTick(now)
}

// bound enters BOUND with lease l: the transition, then the interface's
// configuration and the saved lease, and only then the sockets BOUND
// wants. Opening a socket is a round trip to sockd, and the address must
// not wait for the ARP socket of the gateway check.
func (c *Client) bound(now time.Time, l *Lease, reason string) bool {
	c.holdSockets = true
	ok := c.setState(now, StateBound, reason, leaseAttrs(l)...)
	c.holdSockets = false
	if ok {
		c.acts = append(c.acts, Configure{Lease: l}, SaveLease{Lease: l})
		c.timer = l.RenewAt()
	}
	c.syncSockets()
	return ok
}

// --- logging ---

func durString(d time.Duration) string {
	if d == InfiniteLease {
		return "infinite"
	}
	return d.String()
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// leaseAttrs returns the facts of l for a log line. Names are validated
// types, but they still go into attributes, never into a message.
func leaseAttrs(l *Lease) []slog.Attr {
	a := []slog.Attr{
		slog.String("address", l.Addr.String()),
		slog.String("server", l.ServerID.String()),
		slog.String("lease", durString(l.LeaseTime)),
		slog.String("t1", durString(l.T1)),
		slog.String("t2", durString(l.T2)),
	}
	if gw := l.Gateway(); gw.IsValid() {
		a = append(a, slog.String("gateway", gw.String()))
	}
	if len(l.Routes) > 0 {
		s := make([]string, len(l.Routes))
		for i, r := range l.Routes {
			s[i] = r.String()
		}
		a = append(a, slog.String("routes", strings.Join(s, ",")))
	}
	if len(l.DNS) > 0 {
		a = append(a, slog.String("dns", joinAddrs(l.DNS)))
	}
	if !l.Domain.IsZero() {
		a = append(a, slog.String("domain", l.Domain.String()))
	}
	if len(l.Search) > 0 {
		s := make([]string, len(l.Search))
		for i, n := range l.Search {
			s[i] = n.String()
		}
		a = append(a, slog.String("search", strings.Join(s, ",")))
	}
	if l.MTU != 0 {
		a = append(a, slog.Int("mtu", int(l.MTU)))
	}
	if !l.Hostname.IsZero() {
		a = append(a, slog.String("hostname", l.Hostname.String()))
	}
	if len(l.NTP) > 0 {
		a = append(a, slog.String("ntp", joinAddrs(l.NTP)))
	}
	return a
}
