package client

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// stopARP cancels announcements and gateway queries. The caller syncs the
// sockets (usually through setState).
func (c *Client) stopARP() {
	c.annLeft = 0
	c.gw = gwIdle
	c.gwTries = 0
}

// startGatewayLearn queues the query that learns the gateway's hardware
// address after a bind, if the lease has a gateway.
func (c *Client) startGatewayLearn(now time.Time) {
	if !c.lease.Gateway().IsValid() {
		return
	}
	c.gw, c.gwTries, c.gwAt = gwLearn, 0, now
}

// checkGateway starts the RFC 4436 reachability test after the carrier
// came back in BOUND: the gateway must answer from the hardware address it
// had. Without a known gateway or address, the lease is confirmed with
// INIT-REBOOT at once.
func (c *Client) checkGateway(now time.Time) {
	if !c.lease.Gateway().IsValid() || c.lease.RouterMAC == (dhcp.MAC{}) {
		c.initReboot(now, "carrier up, gateway unknown")
		return
	}
	c.gw, c.gwTries, c.gwAt = gwCheck, 0, now
	c.syncSockets()
	c.arpTick(now)
}

func (c *Client) arpDue(now time.Time) bool {
	return (c.annLeft > 0 && !now.Before(c.annAt)) || (c.gw != gwIdle && !now.Before(c.gwAt))
}

// arpTick sends the announcements and gateway queries that are due and
// ends a gateway query that has timed out.
func (c *Client) arpTick(now time.Time) {
	if c.annLeft > 0 && !now.Before(c.annAt) && c.lease != nil {
		c.sendARP(dhcp.ARPAnnouncement(c.s.MAC, c.lease.Addr.Addr()))
		c.annLeft--
		c.annAt = now.Add(c.s.ARPTimings.AnnounceInterval)
	}
	if c.gw == gwIdle || now.Before(c.gwAt) || c.lease == nil {
		return
	}
	if c.gwTries < gatewayQueries {
		c.sendARP(dhcp.ARPQuery(c.s.MAC, c.lease.Addr.Addr(), c.lease.Gateway()))
		c.gwTries++
		c.gwAt = now.Add(c.s.ARPTimings.GatewayTimeout / gatewayQueries)
		return
	}
	phase := c.gw
	c.gw, c.gwTries = gwIdle, 0
	c.syncSockets()
	if phase == gwLearn {
		c.log(slog.LevelWarn, "gateway does not answer arp", slog.String("gateway", c.lease.Gateway().String()))
		return
	}
	c.initReboot(now, "carrier up, gateway does not answer arp")
}

// startCheck begins the conflict check of a new lease (RFC 5227 section
// 2.1), or binds it at once with ARPOff.
func (c *Client) startCheck(now time.Time, l *Lease) {
	c.cand = l
	if c.s.ARP == ARPOff {
		c.bind(now, l)
		return
	}
	if !c.setState(now, StateChecking, "ack", slog.String("address", l.Addr.String()),
		slog.String("mode", c.s.ARP.String())) {
		return
	}
	c.startProbing(now)
}

// startProbing (re)starts the probe sequence.
func (c *Client) startProbing(now time.Time) {
	c.probes = 0
	if c.linkDown {
		c.timer = time.Time{}
		return
	}
	if c.s.ARP == ARPFast {
		c.checkTick(now)
		return
	}
	c.timer = now.Add(c.randBetween(0, c.s.ARPTimings.ProbeWait))
}

// checkTick sends the next probe or, when all have gone out and the last
// wait is over, binds.
func (c *Client) checkTick(now time.Time) {
	t := &c.s.ARPTimings
	num, last := t.ProbeNum, t.AnnounceWait
	if c.s.ARP == ARPFast {
		num, last = 1, t.FastWait
	}
	if c.probes >= num {
		c.bind(now, c.cand)
		return
	}
	c.sendARP(dhcp.ARPProbe(c.s.MAC, c.cand.Addr.Addr()))
	c.probes++
	if c.probes < num {
		c.timer = now.Add(c.randBetween(t.ProbeMin, t.ProbeMax))
	} else {
		c.timer = now.Add(last)
	}
}

func (c *Client) handleARP(now time.Time, a dhcp.ARP) {
	if c.state == StateChecking && c.cand != nil {
		if a.ProbeConflict(c.cand.Addr.Addr(), c.s.MAC) {
			c.conflict(now, a)
		}
		return
	}
	if !c.configured || c.lease == nil || c.state == StateStopped {
		return
	}
	addr := c.lease.Addr.Addr()
	if a.DefenseConflict(addr, c.s.MAC) {
		c.defend(now, a)
		return
	}
	if c.gw != gwIdle && a.Op == dhcp.ARPReply && a.SenderIP == c.lease.Gateway() && a.TargetIP == addr &&
		a.SenderHW != c.s.MAC {
		c.gatewayReply(now, a)
	}
}

// conflictWait counts one more address conflict in a row and returns the
// wait before the next discovery (Timings.ConflictWait): a random 1/10 to
// all of ConflictWait after the first quickConflicts conflicts,
// DeclineWait after the next ones, ConflictRateLimit from maxConflicts.
// The short wait is random so that hosts that lost an address at the same
// moment do not all come back at once, and never zero so that the server
// has the DHCPDECLINE in hand before the DHCPDISCOVER.
func (c *Client) conflictWait(now time.Time) time.Duration {
	c.settle(now)
	c.settleAt = time.Time{}
	c.conflicts = min(c.conflicts+1, maxConflicts)
	t := &c.s.Timings
	switch {
	case c.conflicts >= maxConflicts:
		return t.ConflictRateLimit
	case c.conflicts > quickConflicts:
		return t.DeclineWait
	}
	return c.randBetween(t.ConflictWait/10, t.ConflictWait)
}

// settle resets the conflict count once a bound address has held for
// DefendInterval (settleAt, armed by bind after a conflict): only an
// address that another host left alone that long ends a run of
// conflicts, so that a host that claims each address soon after the bind
// meets the same back-off as one that answers every probe.
func (c *Client) settle(now time.Time) {
	if c.settleAt.IsZero() || now.Before(c.settleAt) {
		return
	}
	c.settleAt = time.Time{}
	if c.configured && c.lease != nil {
		c.conflicts = 0
	}
}

// conflict handles another host's claim on the address being checked:
// DHCPDECLINE to the server that offered it (RFC 2131 section 3.1 step 5)
// and a new discovery after the conflict back-off (conflictWait), without
// asking for that address.
func (c *Client) conflict(now time.Time, a dhcp.ARP) {
	l := c.cand
	wait := c.conflictWait(now)
	c.log(slog.LevelWarn, "address in use by another host", slog.String("address", l.Addr.Addr().String()),
		slog.String("mac", a.SenderHW.String()), slog.Int("conflicts", c.conflicts), slog.String("retry_in", wait.String()))
	c.note(NoteConflict, l.Addr.Addr(), a.SenderHW)
	if !c.linkDown {
		// Broadcast, from 0.0.0.0: the client has no address.
		b, err := c.cc.AppendDecline(newPacket(), c.xid, l.Addr.Addr(), l.ServerID)
		if !c.sendDHCP(now, b, err, netip.Addr{}, netip.Addr{}) {
			return
		}
	}
	c.acts = append(c.acts, ForgetLease{})
	c.cand, c.lease = nil, nil
	c.hint = netip.Addr{}
	c.toInit(now, "address in use", wait)
}

// defend handles a conflicting ARP packet for the bound address
// (RFC 5227 section 2.4): defend with one announcement if the last defense
// is older than DefendInterval; otherwise give the address up, or, when
// relentless, ignore the packet. Never more than one announcement per
// DefendInterval.
func (c *Client) defend(now time.Time, a dhcp.ARP) {
	addr := c.lease.Addr.Addr()
	if !c.defended || now.Sub(c.lastDefense) >= c.s.ARPTimings.DefendInterval {
		c.defended, c.lastDefense = true, now
		c.log(slog.LevelWarn, "defending address against a conflict", slog.String("address", addr.String()),
			slog.String("mac", a.SenderHW.String()))
		c.sendARP(dhcp.ARPAnnouncement(c.s.MAC, addr))
		return
	}
	if c.s.DefendRelentless {
		c.log(slog.LevelDebug, "conflict within the defend interval: ignored", slog.String("mac", a.SenderHW.String()))
		return
	}
	// The loss counts as a conflict: a host that lets the probe pass and
	// then claims the bound address meets the same back-off.
	wait := c.conflictWait(now)
	c.log(slog.LevelWarn, "address claimed again within the defend interval: giving it up",
		slog.String("address", addr.String()), slog.String("mac", a.SenderHW.String()),
		slog.Int("conflicts", c.conflicts), slog.String("retry_in", wait.String()))
	c.acts = append(c.acts, Deconfigure{}, ForgetLease{})
	c.configured = false
	c.lease = nil
	c.hint = netip.Addr{}
	c.toInit(now, "address conflict", wait)
}

// gatewayReply handles the gateway's ARP reply.
func (c *Client) gatewayReply(now time.Time, a dhcp.ARP) {
	phase := c.gw
	c.gw, c.gwTries = gwIdle, 0
	c.syncSockets()
	gw := c.lease.Gateway()
	if phase == gwLearn {
		if a.SenderHW[0]&1 != 0 {
			c.log(slog.LevelWarn, "gateway answered with a multicast mac", slog.String("mac", a.SenderHW.String()))
			return
		}
		l := c.lease.Clone()
		l.RouterMAC = a.SenderHW
		c.lease = l
		c.log(slog.LevelInfo, "gateway hardware address", slog.String("gateway", gw.String()),
			slog.String("mac", a.SenderHW.String()))
		c.note(NoteGateway, gw, a.SenderHW)
		c.acts = append(c.acts, SaveLease{Lease: l})
		return
	}
	if a.SenderHW == c.lease.RouterMAC {
		c.log(slog.LevelInfo, "carrier up, same gateway: keeping the lease", slog.String("gateway", gw.String()),
			slog.String("mac", a.SenderHW.String()))
		c.note(NoteGatewaySame, gw, a.SenderHW)
		c.annLeft, c.annAt = 1, now
		c.arpTick(now)
		return
	}
	c.log(slog.LevelInfo, "carrier up, gateway changed", slog.String("gateway", gw.String()),
		slog.String("mac", a.SenderHW.String()), slog.String("was", c.lease.RouterMAC.String()))
	c.note(NoteGatewayChanged, gw, a.SenderHW)
	c.initReboot(now, "gateway changed")
}
