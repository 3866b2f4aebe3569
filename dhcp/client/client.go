package client

import (
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// State is a state of the DHCP client (RFC 2131 section 4.4, figure
// 5), plus ARP-CHECKING (the RFC 5227 conflict check between DHCPACK and
// BOUND), RELEASED (after a release by request, until a renew) and STOPPED
// (after Stop or a one-shot bind; terminal).
type State uint8

// Client states. The zero value is INIT.
const (
	StateInit State = iota
	StateSelecting
	StateRequesting
	StateChecking
	StateBound
	StateRenewing
	StateRebinding
	StateInitReboot
	StateRebooting
	StateReleased
	StateStopped
)

// Valid reports whether s is one of the states above.
func (s State) Valid() bool { return s <= StateStopped }

// String returns the RFC 2131 name of s.
func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateSelecting:
		return "SELECTING"
	case StateRequesting:
		return "REQUESTING"
	case StateChecking:
		return "ARP-CHECKING"
	case StateBound:
		return "BOUND"
	case StateRenewing:
		return "RENEWING"
	case StateRebinding:
		return "REBINDING"
	case StateInitReboot:
		return "INIT-REBOOT"
	case StateRebooting:
		return "REBOOTING"
	case StateReleased:
		return "RELEASED"
	case StateStopped:
		return "STOPPED"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// ARPMode selects the address conflict check the client runs between a
// DHCPACK and binding the address (RFC 2131 section 4.4.1: the client
// SHOULD probe the address; RFC 5227 section 2.1).
type ARPMode uint8

// ARP conflict check modes.
const (
	// ARPFast sends one probe at once and binds if nothing answers within
	// ARPTimings.FastWait. A host that holds the address answers the probe
	// from its kernel's ARP code; on a LAN that takes well under 10 ms,
	// and even a host in Wi-Fi power save, woken at its next DTIM beacon
	// (typically every 100 to 300 ms), answers within the default 250 ms
	// often enough. What the fast mode gives up is RFC 5227's random
	// delay and repetition, which protect against lost probes and against
	// two hosts probing at once; the DHCP server has usually pinged the
	// address before offering it, too. It is the default.
	ARPFast ARPMode = iota
	// ARPRFC5227 is the check of RFC 5227 section 2.1.1: wait a random
	// time up to PROBE_WAIT, send PROBE_NUM probes PROBE_MIN to PROBE_MAX
	// apart, then wait ANNOUNCE_WAIT. About 4 to 7 seconds.
	ARPRFC5227
	// ARPOff binds without checking.
	ARPOff
)

// String returns the name of m as the command line spells it.
func (m ARPMode) String() string {
	switch m {
	case ARPFast:
		return "fast"
	case ARPRFC5227:
		return "rfc5227"
	case ARPOff:
		return "off"
	}
	return "arpmode(" + strconv.Itoa(int(m)) + ")"
}

// ARPTimings are the ARP timing constants. A zero field takes its default,
// the RFC 5227 section 1.1 value where there is one.
type ARPTimings struct {
	FastWait         time.Duration // ARPFast: wait after the probe; 250 ms
	ProbeWait        time.Duration // PROBE_WAIT: random delay before the first probe, up to 1 s
	ProbeNum         int           // PROBE_NUM: 3 probes
	ProbeMin         time.Duration // PROBE_MIN: 1 s
	ProbeMax         time.Duration // PROBE_MAX: 2 s
	AnnounceWait     time.Duration // ANNOUNCE_WAIT: 2 s after the last probe
	AnnounceNum      int           // ANNOUNCE_NUM: 2 announcements after binding
	AnnounceInterval time.Duration // ANNOUNCE_INTERVAL: 2 s between them
	DefendInterval   time.Duration // DEFEND_INTERVAL: 10 s
	// GatewayTimeout is how long the client waits for the gateway's ARP
	// reply, after binding (to learn its hardware address) and after the
	// carrier comes back (to check it, RFC 4436 section 2.2); it queries
	// twice in that time. 2 s.
	GatewayTimeout time.Duration
}

// Timings are the DHCP timing constants. A zero field takes its
// default.
type Timings struct {
	// RetransMin is the shortest wait between retransmissions in RENEWING
	// and REBINDING (RFC 2131 section 4.4.5: 60 s).
	RetransMin time.Duration
	// ConflictWait, DeclineWait and ConflictRateLimit are the back-off
	// after an address conflict: a DHCPDECLINE of an address another host
	// answered for, or a bound address given up to another host (RFC 5227
	// section 2.4 (b)). Conflicts are counted in a row: the count is reset
	// once a bound address has held for ARPTimings.DefendInterval. After
	// the first and second conflicts discovery starts again after a random
	// wait of up to ConflictWait (1 s); after the third to the ninth, after
	// DeclineWait (10 s, the wait RFC 2131 section 3.1 step 5 recommends
	// after every DHCPDECLINE); from the tenth (RFC 5227's MAX_CONFLICTS),
	// after ConflictRateLimit (60 s, RFC 5227's RATE_LIMIT_INTERVAL).
	// Settings.Validate requires ConflictWait <= DeclineWait <=
	// ConflictRateLimit.
	ConflictWait, DeclineWait, ConflictRateLimit time.Duration
	// NAKWait is the wait after a DHCPNAK before discovery starts again:
	// 1 s, doubled by every further DHCPNAK before a bind, up to 64 s, so
	// that a server that keeps refusing cannot make the client spin.
	NAKWait time.Duration
	// RequestTries is how many DHCPREQUESTs the client sends in
	// REQUESTING before it goes back to INIT (RFC 2131 section 3.1 step
	// 5); 4.
	RequestTries int
	// RebootTries is how many DHCPREQUESTs the client sends in REBOOTING
	// before it gives up the old lease and goes to INIT (RFC 2131 section
	// 3.2 step 5); 3, about 28 seconds with the backoff.
	RebootTries int
	// RefusedWait is the wait before discovering again after the first
	// lease ifch refused; it doubles with each refusal in a row up to
	// RefusedMaxWait. 10 s and 5 min.
	RefusedWait, RefusedMaxWait time.Duration
}

// Default timing constants.
const (
	defFastWait         = 250 * time.Millisecond
	defProbeWait        = time.Second
	defProbeNum         = 3
	defProbeMin         = time.Second
	defProbeMax         = 2 * time.Second
	defAnnounceWait     = 2 * time.Second
	defAnnounceNum      = 2
	defAnnounceInterval = 2 * time.Second
	defDefendInterval   = 10 * time.Second
	defGatewayTimeout   = 2 * time.Second
	defRetransMin       = 60 * time.Second
	defConflictWait     = time.Second
	defDeclineWait      = 10 * time.Second
	defConflictRate     = 60 * time.Second
	defNAKWait          = time.Second
	defRefusedWait      = 10 * time.Second
	defRefusedMaxWait   = 5 * time.Minute
	defRequestTries     = 4
	defRebootTries      = 3
	maxBackoff          = 64 * time.Second
	gatewayQueries      = 2
	// shortLeaseSeconds: a lease shorter than this is used as given (the
	// address is never kept past the server's lease, RFC 2131 section
	// 4.4.5) and logged. Raising it, as the client did, made it renew
	// after the server's lease had ended while still using the address.
	// How often a short lease makes the client send is bounded by the
	// server's answers: RENEWING and REBINDING retransmit at most every
	// RetransMin, and T1, T2 and the expiry are the only other timers.
	shortLeaseSeconds = 60
)

// The conflict back-off's counts: quickConflicts is how many conflicts in
// a row are followed by the short ConflictWait; maxConflicts is RFC
// 5227's MAX_CONFLICTS, from which ConflictRateLimit applies.
const (
	quickConflicts = 2
	maxConflicts   = 10
)

// Settings configures a [Client]. Zero fields take defaults.
type Settings struct {
	MAC            dhcp.MAC          // the interface's hardware address: chaddr, ARP sender
	ClientID       dhcp.ClientID     // option 61 (RFC 4361); zero: omitted
	Hostname       dhcp.Hostname     // option 12 sent to the server; zero: omitted
	VendorClass    []byte            // option 60, 1 to 255 octets; nil: omitted
	ParamRequest   []dhcp.OptionCode // option 55; nil: DefaultParamRequest()
	MaxMessageSize uint16            // option 57; 0: 576 (RFC 2131 section 2)
	BroadcastFlag  bool              // set the BROADCAST flag before an address is bound
	// RequestAddr is sent as option 50 in DHCPDISCOVER when the client has
	// no previous address to ask for (RFC 2131 section 4.4.1).
	RequestAddr netip.Addr
	// ARP selects the conflict check before binding; the zero value is
	// ARPFast.
	ARP ARPMode
	// ARPTimings and Timings override timing constants, mostly for tests.
	ARPTimings ARPTimings
	Timings    Timings
	// DefendRelentless keeps the address however often another host
	// claims it, defending at most once per DefendInterval (RFC 5227
	// section 2.4 (c)); otherwise a second conflict within DefendInterval
	// makes the client give the address up (section 2.4 (b)).
	DefendRelentless bool
	// OneShot makes the client exit after the first bind, leaving the
	// address configured with its lifetimes.
	OneShot bool
	// IgnoreClasslessRoutes ignores option 121, so that option 3 is the
	// default route (an operator's choice against TunnelVision-style
	// routes, CVE-2024-3661). By default option 121 is used and option 3
	// ignored when both are present (RFC 3442 section 2).
	IgnoreClasslessRoutes bool
}

// Validate reports settings the client cannot work with: a MAC that is
// zero or not unicast, an option the builders would reject, a RequestAddr
// that is not unicast IPv4, an unknown ARP mode, a negative timing,
// ProbeMin above ProbeMax, or conflict waits that do not grow.
func (s *Settings) Validate() error {
	if s.MAC == (dhcp.MAC{}) || s.MAC[0]&1 != 0 {
		return errors.New("dhcp: client mac " + s.MAC.String() + " is not a unicast address")
	}
	cc := s.config()
	if err := cc.Validate(); err != nil {
		return err
	}
	if s.RequestAddr.IsValid() && !usableUnicast(s.RequestAddr) {
		return errors.New("dhcp: requested address " + s.RequestAddr.String() + " is not unicast IPv4")
	}
	if s.ARP > ARPOff {
		return errors.New("dhcp: unknown arp mode " + s.ARP.String())
	}
	a, t := s.ARPTimings, s.Timings
	for _, d := range []time.Duration{a.FastWait, a.ProbeWait, a.ProbeMin, a.ProbeMax, a.AnnounceWait,
		a.AnnounceInterval, a.DefendInterval, a.GatewayTimeout, t.RetransMin, t.ConflictWait, t.DeclineWait, t.ConflictRateLimit, t.NAKWait, t.RefusedWait, t.RefusedMaxWait} {
		if d < 0 {
			return errors.New("dhcp: negative timing " + d.String())
		}
	}
	if a.ProbeNum < 0 || a.AnnounceNum < 0 || t.RequestTries < 0 || t.RebootTries < 0 {
		return errors.New("dhcp: negative count")
	}
	n := s.withDefaults()
	if n.ARPTimings.ProbeMin > n.ARPTimings.ProbeMax {
		return errors.New("dhcp: probe min " + n.ARPTimings.ProbeMin.String() + " above probe max " + n.ARPTimings.ProbeMax.String())
	}
	if nt := n.Timings; nt.ConflictWait > nt.DeclineWait || nt.DeclineWait > nt.ConflictRateLimit {
		return errors.New("dhcp: conflict waits " + nt.ConflictWait.String() + ", " + nt.DeclineWait.String() + ", " +
			nt.ConflictRateLimit.String() + " do not grow")
	}
	return nil
}

func (s *Settings) config() dhcp.ClientConfig {
	pr := s.ParamRequest
	if pr == nil {
		pr = dhcp.DefaultParamRequest()
	}
	mms := s.MaxMessageSize
	if mms == 0 {
		mms = dhcp.MinMaxMessageSize
	}
	return dhcp.ClientConfig{
		MAC: s.MAC, ClientID: s.ClientID, Hostname: s.Hostname, VendorClass: s.VendorClass,
		ParamRequest: pr, MaxMessageSize: mms, Broadcast: s.BroadcastFlag,
	}
}

func orDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func orInt(n *int, def int) {
	if *n == 0 {
		*n = def
	}
}

func (s *Settings) withDefaults() Settings {
	n := *s
	a, t := &n.ARPTimings, &n.Timings
	orDur(&a.FastWait, defFastWait)
	orDur(&a.ProbeWait, defProbeWait)
	orInt(&a.ProbeNum, defProbeNum)
	orDur(&a.ProbeMin, defProbeMin)
	orDur(&a.ProbeMax, defProbeMax)
	orDur(&a.AnnounceWait, defAnnounceWait)
	orInt(&a.AnnounceNum, defAnnounceNum)
	orDur(&a.AnnounceInterval, defAnnounceInterval)
	orDur(&a.DefendInterval, defDefendInterval)
	orDur(&a.GatewayTimeout, defGatewayTimeout)
	orDur(&t.RetransMin, defRetransMin)
	orDur(&t.ConflictWait, defConflictWait)
	orDur(&t.DeclineWait, defDeclineWait)
	orDur(&t.ConflictRateLimit, defConflictRate)
	orDur(&t.NAKWait, defNAKWait)
	orDur(&t.RefusedWait, defRefusedWait)
	orDur(&t.RefusedMaxWait, defRefusedMaxWait)
	orInt(&t.RequestTries, defRequestTries)
	orInt(&t.RebootTries, defRebootTries)
	return n
}

// gwPhase is what the client is doing with the gateway's hardware address.
type gwPhase uint8

const (
	gwIdle  gwPhase = iota
	gwLearn         // after a bind: learn it
	gwCheck         // after the carrier came back: compare it (RFC 4436)
)

// Client is the DHCP client state machine of RFC 2131 section 4.4, with the
// ARP conflict check, announcements and defense of RFC 5227 and the
// reachability check of RFC 4436. It does no I/O and reads no clock: the
// caller passes the time into every call and carries out the [Action]s each
// call returns, in order. Between calls it must call HandleTimer once the
// time reaches Deadline.
//
// A Client is not safe for concurrent use. No method panics on any input;
// an impossible transition (a bug) is logged at error level and leaves the
// state as it was.
type Client struct {
	s     Settings
	cc    dhcp.ClientConfig
	rnd   func() uint32
	bad   error
	saved *Lease

	state    State
	started  bool
	linkDown bool
	acts     []Action

	xid     uint32
	exStart time.Time // start of the exchange, for secs
	reqSent time.Time // first request of the exchange: where a lease starts
	tries   int       // messages sent in the exchange
	timer   time.Time // the state's timer; zero: none

	hint       netip.Addr // option 50 of DHCPDISCOVER
	cand       *Lease     // the offer (REQUESTING) or the acked lease (ARP-CHECKING)
	lease      *Lease     // the bound lease, or the one being confirmed (REBOOTING)
	configured bool       // lease is on the interface
	leftover   bool       // the saved lease's address may still be on the interface from the last run
	naks       int        // DHCPNAKs since the last bind
	conflicts  int        // address conflicts in a row, up to maxConflicts
	settleAt   time.Time  // when the bound address has held long enough to reset conflicts; zero: not armed

	probes int // probes sent in ARP-CHECKING

	annLeft     int
	annAt       time.Time
	gw          gwPhase
	gwTries     int
	gwAt        time.Time
	defended    bool
	lastDefense time.Time

	sockets Sockets
	// holdSockets defers setState's socket change to its caller, which
	// puts other actions first (see bound).
	holdSockets bool
	// reply is where each message is decoded (parseReply).
	reply     clientReply
	releasing bool
	refusals  int // leases ifch refused in a row
}

// New returns a client in INIT. saved, if not nil, is the lease from
// the lease file: if it is valid and unexpired when Start is called, the
// client starts in INIT-REBOOT (RFC 2131 section 3.2). rnd supplies
// transaction ids and the randomization of timers; it must be
// unpredictable to other hosts (a CSPRNG). Settings are checked with
// [Settings.Validate]: with invalid settings, Start logs the error and
// returns Exit.
func New(s Settings, saved *Lease, rnd func() uint32) *Client {
	c := &Client{bad: s.Validate(), rnd: rnd}
	if rnd == nil {
		c.bad = errors.New("dhcp: no random source")
		c.rnd = func() uint32 { return 0 }
	}
	c.s = s.withDefaults()
	c.cc = c.s.config()
	if saved != nil {
		c.saved = saved.Clone()
	}
	c.hint = s.RequestAddr
	return c
}

// State returns the current state.
func (c *Client) State() State { return c.state }

// Lease returns a copy of the lease the client holds (BOUND, RENEWING,
// REBINDING) or is confirming (REBOOTING), or nil.
func (c *Client) Lease() *Lease {
	if c.lease == nil {
		return nil
	}
	return c.lease.Clone()
}

// Deadline returns when HandleTimer must be called next, or the zero Time
// if no timer is running.
func (c *Client) Deadline() time.Time {
	var d time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	earlier(c.timer)
	if c.annLeft > 0 {
		earlier(c.annAt)
	}
	if c.gw != gwIdle {
		earlier(c.gwAt)
	}
	if c.holdsLease() {
		earlier(c.lease.Expiry())
	}
	earlier(c.settleAt)
	return d
}

// holdsLease reports whether c.lease counts: its expiry ends it.
func (c *Client) holdsLease() bool {
	if c.lease == nil {
		return false
	}
	switch c.state {
	case StateBound, StateRenewing, StateRebinding, StateRebooting:
		return true
	}
	return false
}

// Start begins: INIT-REBOOT with the saved lease if it is valid and
// unexpired, otherwise INIT, which sends a DHCPDISCOVER at once (the
// random 1 to 10 s start-up delay of RFC 2131 section 4.4.1 is not used:
// a service manager starts one client per interface, not a whole network
// at once). It may be called once.
func (c *Client) Start(now time.Time) []Action {
	c.acts = nil
	if c.started {
		c.log(slog.LevelError, "dhcp: bug: client started twice")
		return c.take()
	}
	c.started = true
	if c.bad != nil {
		c.fail(now, c.bad)
		return c.take()
	}
	if l := c.saved; l != nil {
		c.saved = nil
		switch err := l.Validate(); {
		case err != nil:
			c.log(slog.LevelWarn, "ignoring invalid saved lease", slog.String("err", err.Error()))
			c.acts = append(c.acts, ForgetLease{})
		case l.Expired(now):
			c.log(slog.LevelInfo, "saved lease has expired", leaseAttrs(l)...)
			c.acts = append(c.acts, ForgetLease{})
			c.hint = l.Addr.Addr()
		default:
			c.lease = l
			c.hint = l.Addr.Addr()
			c.leftover = true
			c.initReboot(now, "saved lease")
			return c.take()
		}
	}
	c.discover(now, "start")
	return c.take()
}

// HandlePacket processes a DHCP message received on either DHCP socket
// (already checked by its IP and UDP framing). Anything that is not a
// well-formed reply to the client's current exchange, from an acceptable
// server, is dropped with a debug log (RFC 2131 sections 3.1, 4.4.1).
// The client keeps nothing of m: the caller may reuse it once
// HandlePacket returns.
func (c *Client) HandlePacket(now time.Time, m *dhcp.Message) []Action {
	c.acts = nil
	if !c.started || m == nil || c.state == StateStopped {
		return nil
	}
	c.handlePacket(now, m)
	return c.take()
}

// HandleARP processes an ARP packet received on either ARP socket: a
// conflict while checking an address, a conflict with the bound address
// (defense), or the gateway's reply to a query.
func (c *Client) HandleARP(now time.Time, a dhcp.ARP) []Action {
	c.acts = nil
	if !c.started || c.state == StateStopped {
		return nil
	}
	c.handleARP(now, a)
	return c.take()
}

// HandleTimer runs whatever timers are due at now. Calling it early does
// nothing; calling it late (after a suspend) catches up: a lease that has
// expired in the meantime is dropped.
func (c *Client) HandleTimer(now time.Time) []Action {
	c.acts = nil
	if !c.started || c.state == StateStopped {
		return nil
	}
	c.handleTimer(now)
	return c.take()
}

// HandleLink reports the carrier state. While it is down the client sends
// nothing and runs no retransmission timer; lease timers keep running.
// When it comes back in BOUND the client checks that the gateway still
// answers ARP from the same hardware address (RFC 4436) and otherwise
// confirms the lease with INIT-REBOOT; in any other state it restarts its
// current exchange.
func (c *Client) HandleLink(now time.Time, up bool) []Action {
	c.acts = nil
	if up == !c.linkDown || c.state == StateStopped {
		return nil
	}
	c.handleLink(now, up)
	return c.take()
}

// Renew handles a renew request (SIGUSR1): RENEWING at once when bound,
// the current exchange sent again in RENEWING, REBINDING and REBOOTING,
// and discovery from scratch in every other state, RELEASED included.
func (c *Client) Renew(now time.Time) []Action {
	c.acts = nil
	if c.state == StateStopped {
		return nil
	}
	c.started = true
	if c.bad != nil {
		c.fail(now, c.bad)
		return c.take()
	}
	c.renew(now)
	return c.take()
}

// Rebind handles a rebind request (the control socket's rebind): with a
// lease in BOUND or RENEWING, REBINDING at once, broadcasting a
// DHCPREQUEST that any server may answer (RFC 2131 section 4.4.5), as if
// T2 had passed; in REBINDING the request is sent again; in every other
// state it does what Renew does.
func (c *Client) Rebind(now time.Time) []Action {
	c.acts = nil
	if c.state == StateStopped {
		return nil
	}
	c.started = true
	if c.bad != nil {
		c.fail(now, c.bad)
		return c.take()
	}
	switch c.state {
	case StateBound, StateRenewing:
		c.enterRebindingFor(now, "rebind requested")
	default:
		c.renew(now)
	}
	return c.take()
}

// Release handles a release request (SIGUSR2): if an address is
// configured, send a DHCPRELEASE to its server (RFC 2131 section 4.4.6) and
// deconfigure it; forget the lease; wait in RELEASED, sending nothing,
// until Renew.
func (c *Client) Release(now time.Time) []Action {
	c.acts = nil
	switch c.state {
	case StateStopped:
		return nil
	case StateReleased:
		c.log(slog.LevelInfo, "already released")
		return c.take()
	}
	c.started = true
	c.dropLease(now, true)
	c.setState(now, StateReleased, "release requested")
	return c.take()
}

// Refused tells the client that the interface could not be configured
// with the lease of its last Configure (ifch refused it: an address
// outside the allowed ranges, say). The lease is unusable on this host:
// the client releases it, forgets it, and starts over after a wait that
// doubles with each refusal in a row (RefusedWait, up to RefusedMaxWait),
// rather than stay BOUND with nothing configured. Configured ends a run
// of refusals.
func (c *Client) Refused(now time.Time) []Action {
	c.acts = nil
	if !c.configured || (c.state != StateBound && c.state != StateRenewing && c.state != StateRebinding) {
		return nil // a refusal that no longer concerns the lease held
	}
	wait := c.s.Timings.RefusedWait << min(c.refusals, 16)
	wait = min(wait, c.s.Timings.RefusedMaxWait)
	c.refusals++
	c.log(slog.LevelError, "lease refused by ifch: releasing it", slog.String("address", c.lease.Addr.String()),
		slog.String("retry_in", wait.String()))
	c.dropLease(now, true)
	c.toInit(now, "configuration refused", wait)
	return c.take()
}

// Configured tells the client that its last Configure was applied.
func (c *Client) Configured() { c.refusals = 0 }

// Stop ends the client (SIGTERM). With release it first releases as
// Release does; without, it leaves the address configured and the lease
// file in place, so that the kernel expires the address with its lifetime
// and a restart can confirm the lease with INIT-REBOOT. The last action is
// Exit.
func (c *Client) Stop(now time.Time, release bool) []Action {
	c.acts = nil
	if c.state == StateStopped {
		return nil
	}
	if release && c.state != StateReleased {
		c.dropLease(now, true)
	}
	c.setState(now, StateStopped, "stop requested")
	c.acts = append(c.acts, Exit{Why: ExitStopped})
	return c.take()
}

func (c *Client) take() []Action {
	a := c.acts
	c.acts = nil
	return a
}
