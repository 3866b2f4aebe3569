package client

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// The client tests run the state machine against a scripted fake server
// that builds replies with the codec, and a fake clock: h.now, moved by the
// test and passed into every call.

var (
	clMAC       = dhcp.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	clOtherMAC  = dhcp.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}
	clRouterMAC = dhcp.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}
	clServer    = netip.MustParseAddr("192.0.2.1")
	clServer2   = netip.MustParseAddr("192.0.2.2")
	clAddr      = netip.MustParseAddr("192.0.2.50")
	clRouter    = netip.MustParseAddr("192.0.2.254")
	clT0        = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// clRand returns a deterministic stand-in for a CSPRNG.
func clRand(seed uint32) func() uint32 {
	x := seed
	return func() uint32 {
		x = x*1664525 + 1013904223
		return x
	}
}

// clFakeServer is a scripted DHCP server. Its fields shape every reply.
type clFakeServer struct {
	id         netip.Addr
	addr       netip.Addr
	leaseSecs  uint32 // 0: option 51 omitted
	t1, t2     uint32 // 0: omitted
	noServerID bool
	dns        []netip.Addr
	routes     bool // send option 121 beside option 3
	mtu        uint16
}

func newClFakeServer() *clFakeServer {
	return &clFakeServer{id: clServer, addr: clAddr, leaseSecs: 3600, t1: 1800, t2: 3150,
		dns: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}
}

// reply builds a reply of type typ to req, then lets mod change it before
// it is encoded and decoded again, as it would travel on the wire.
func (s *clFakeServer) reply(t testing.TB, req *dhcp.Message, typ dhcp.MessageType, mod func(*dhcp.Message)) *dhcp.Message {
	t.Helper()
	m := &dhcp.Message{Op: dhcp.BootReply, HType: dhcp.HTypeEthernet, HLen: dhcp.HLenEthernet, XID: req.XID, CHAddr: req.CHAddr}
	o := &m.Options
	mustSet(t, o, dhcp.OptMessageType, []byte{byte(typ)})
	if !s.noServerID {
		mustSet(t, o, dhcp.OptServerID, s.id.AsSlice())
	}
	if typ != dhcp.Nak {
		m.YIAddr = s.addr
		if s.leaseSecs != 0 {
			mustSet(t, o, dhcp.OptLeaseTime, binary.BigEndian.AppendUint32(nil, s.leaseSecs))
		}
		if s.t1 != 0 {
			mustSet(t, o, dhcp.OptRenewalTime, binary.BigEndian.AppendUint32(nil, s.t1))
		}
		if s.t2 != 0 {
			mustSet(t, o, dhcp.OptRebindingTime, binary.BigEndian.AppendUint32(nil, s.t2))
		}
		mustSet(t, o, dhcp.OptSubnetMask, []byte{255, 255, 255, 0})
		mustSet(t, o, dhcp.OptRouter, clRouter.AsSlice())
		var dns []byte
		for _, a := range s.dns {
			dns = append(dns, a.AsSlice()...)
		}
		if len(dns) > 0 {
			mustSet(t, o, dhcp.OptDNS, dns)
		}
		if s.mtu != 0 {
			mustSet(t, o, dhcp.OptInterfaceMTU, binary.BigEndian.AppendUint16(nil, s.mtu))
		}
		if s.routes {
			r, err := dhcp.AppendRoutes(nil, []dhcp.Route{
				{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.253")},
				{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.252")},
			})
			if err != nil {
				t.Fatal(err)
			}
			mustSet(t, o, dhcp.OptClasslessRoutes, r)
		}
		mustSet(t, o, dhcp.OptDomainName, []byte("example.org"))
	}
	if mod != nil {
		mod(m)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out dhcp.Message
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &out
}

// clSent is one SendDHCP, decoded.
type clSent struct {
	msg     *dhcp.Message
	unicast netip.Addr
	source  netip.Addr
	at      time.Time
}

func (s clSent) typ() dhcp.MessageType {
	v, _ := s.msg.Options.Get(dhcp.OptMessageType)
	if len(v) != 1 {
		return 0
	}
	return dhcp.MessageType(v[0])
}

func (s clSent) opt(code dhcp.OptionCode) (netip.Addr, bool) {
	v, ok := s.msg.Options.Get(code)
	if !ok || len(v) != 4 {
		return netip.Addr{}, ok
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// clHarness drives a Client and keeps what the engine would: the sockets,
// the configured and saved lease, every packet sent. It checks the
// invariants of the action stream on every call.
type clHarness struct {
	t       *testing.T
	c       *Client
	srv     *clFakeServer
	now     time.Time
	acts    []Action // the last batch
	dhcp    []clSent
	arp     []SendARP
	sockets Sockets
	entered State // the state the last Transition entered
	notes   []Note
	config  *Lease
	// leftover: the saved lease's address from the last run may still be
	// on the interface.
	leftover bool
	saved    *Lease
	savedOK  bool // a SaveLease or ForgetLease was seen
	exit     *Exit
	down     bool
	errOK    bool // error logs are expected
}

func newClHarness(t *testing.T, s Settings, saved *Lease) *clHarness {
	t.Helper()
	if s.MAC == (dhcp.MAC{}) {
		s.MAC = clMAC
	}
	h := &clHarness{t: t, srv: newClFakeServer(), now: clT0, saved: saved}
	h.c = New(s, saved, clRand(1))
	return h
}

func (h *clHarness) record(acts []Action) []Action {
	t := h.t
	t.Helper()
	h.acts = acts
	for _, a := range acts {
		if h.exit != nil {
			t.Fatalf("action %#v after Exit", a)
		}
		switch a := a.(type) {
		case SendDHCP:
			if h.down {
				t.Fatalf("SendDHCP while the carrier is down")
			}
			if a.Unicast.IsValid() && (!h.sockets.Open.Has(SocketUDP) || !h.sockets.Addr.IsValid()) {
				t.Fatalf("unicast SendDHCP without the UDP socket bound to an address")
			}
			if !a.Unicast.IsValid() && !h.sockets.Open.Has(SocketRaw) {
				t.Fatalf("broadcast SendDHCP without the raw socket")
			}
			if len(a.Packet) < 300 {
				t.Fatalf("packet of %d octets", len(a.Packet))
			}
			m := new(dhcp.Message)
			if err := m.UnmarshalBinary(a.Packet); err != nil {
				t.Fatalf("client sent an undecodable message: %v", err)
			}
			if m.Op != dhcp.BootRequest || dhcp.MAC(m.CHAddr[:6]) != h.c.s.MAC {
				t.Fatalf("client sent op %v chaddr %x", m.Op, m.CHAddr)
			}
			h.dhcp = append(h.dhcp, clSent{msg: m, unicast: a.Unicast, source: a.Source, at: h.now})
		case SendARP:
			if h.down {
				t.Fatalf("SendARP while the carrier is down")
			}
			if !h.sockets.Open.Has(SocketARP) && !h.sockets.Open.Has(SocketARPDefense) {
				t.Fatalf("SendARP without an ARP socket")
			}
			if a.Frame.SenderHW != h.c.s.MAC {
				t.Fatalf("ARP from %v", a.Frame.SenderHW)
			}
			h.arp = append(h.arp, a)
		case Sockets:
			if a == h.sockets {
				t.Fatalf("Sockets %+v emitted without a change", a)
			}
			if a.Open.Has(SocketARP) && a.Open.Has(SocketARPDefense) {
				t.Fatalf("ARP and ARPDefense sockets at once")
			}
			if bound := a.Open.Has(SocketUDP) || a.Open.Has(SocketARPDefense); bound != a.Addr.IsValid() {
				t.Fatalf("Sockets %v with address %v: bound sockets need one, others none", a.Open, a.Addr)
			}
			h.sockets = a
		case Configure:
			if err := a.Lease.Validate(); err != nil {
				t.Fatalf("Configure with invalid lease: %v", err)
			}
			h.config, h.leftover = a.Lease, false
		case Deconfigure:
			if h.config == nil && !h.leftover {
				t.Fatalf("Deconfigure while not configured")
			}
			h.config, h.leftover = nil, false
		case SaveLease:
			if _, err := a.Lease.MarshalJSON(); err != nil {
				t.Fatalf("SaveLease with a lease that does not encode: %v", err)
			}
			h.saved, h.savedOK = a.Lease, true
		case ForgetLease:
			h.saved, h.savedOK = nil, true
		case Log:
			if a.Level >= slog.LevelError && !h.errOK {
				t.Fatalf("error log: %s %v", a.Msg, a.Attrs)
			}
			for _, r := range a.Msg {
				if r < 0x20 || r > 0x7e {
					t.Fatalf("log message %q is not printable ASCII", a.Msg)
				}
			}
		case Exit:
			h.exit = &a
		case Transition:
			if a.From == a.To || a.From != h.entered {
				t.Fatalf("transition %v -> %v after %v", a.From, a.To, h.entered)
			}
			h.entered = a.To
			if !ValidCause(a.Cause) {
				t.Fatalf("transition cause %q", a.Cause)
			}
		case Note:
			if a.Kind == 0 || a.Kind >= NumNotes {
				t.Fatalf("note %v", a.Kind)
			}
			h.notes = append(h.notes, a)
		default:
			t.Fatalf("unknown action %T", a)
		}
	}
	if d := h.c.Deadline(); !d.IsZero() && d.Before(h.now) && h.c.State() != StateStopped {
		t.Fatalf("deadline %v before now %v", d, h.now)
	}
	return acts
}

func (h *clHarness) start() []Action {
	h.t.Helper()
	// A usable saved lease was on the interface when the last run ended:
	// the client may have to remove it from there.
	h.leftover = h.saved != nil && h.saved.Validate() == nil && !h.saved.Expired(h.now)
	return h.record(h.c.Start(h.now))
}

func (h *clHarness) packet(m *dhcp.Message) []Action {
	h.t.Helper()
	return h.record(h.c.HandlePacket(h.now, m))
}

func (h *clHarness) arpIn(a dhcp.ARP) []Action {
	h.t.Helper()
	return h.record(h.c.HandleARP(h.now, a))
}

func (h *clHarness) link(up bool) []Action {
	h.t.Helper()
	h.down = !up
	return h.record(h.c.HandleLink(h.now, up))
}

// fire moves the clock to the deadline and runs the timer.
func (h *clHarness) fire() []Action {
	h.t.Helper()
	d := h.c.Deadline()
	if d.IsZero() {
		h.t.Fatalf("no deadline in %v", h.c.State())
	}
	if d.After(h.now) {
		h.now = d
	}
	return h.record(h.c.HandleTimer(h.now))
}

// advance moves the clock by d and runs the timer if one is due, in steps,
// as the engine would.
func (h *clHarness) advance(d time.Duration) {
	h.t.Helper()
	end := h.now.Add(d)
	for i := 0; i < 10000; i++ {
		dl := h.c.Deadline()
		if dl.IsZero() || dl.After(end) {
			break
		}
		h.fire()
	}
	h.now = end
}

// last returns the last DHCP message sent, which must have type typ.
func (h *clHarness) last(typ dhcp.MessageType) clSent {
	h.t.Helper()
	if len(h.dhcp) == 0 {
		h.t.Fatalf("nothing sent, want %v", typ)
	}
	s := h.dhcp[len(h.dhcp)-1]
	if s.typ() != typ {
		h.t.Fatalf("last sent %v, want %v", s.typ(), typ)
	}
	return s
}

func (h *clHarness) wantState(s State) {
	h.t.Helper()
	if got := h.c.State(); got != s {
		h.t.Fatalf("state %v, want %v", got, s)
	}
}

// reply answers the last message sent with typ.
func (h *clHarness) reply(typ dhcp.MessageType, mod func(*dhcp.Message)) []Action {
	h.t.Helper()
	return h.packet(h.srv.reply(h.t, h.dhcp[len(h.dhcp)-1].msg, typ, mod))
}

// toRequesting runs INIT -> SELECTING -> REQUESTING.
func (h *clHarness) toRequesting() {
	h.t.Helper()
	h.start()
	h.last(dhcp.Discover)
	h.reply(dhcp.Offer, nil)
	h.wantState(StateRequesting)
	h.last(dhcp.Request)
}

// toChecking runs up to ARP-CHECKING (or BOUND with ARPOff).
func (h *clHarness) toChecking() {
	h.t.Helper()
	h.toRequesting()
	h.reply(dhcp.Ack, nil)
}

// toBound runs up to BOUND and completes the post-bind ARP work: the
// gateway answers with clRouterMAC.
func (h *clHarness) toBound() {
	h.t.Helper()
	h.toChecking()
	if h.c.State() == StateChecking {
		for h.c.State() == StateChecking {
			h.fire()
		}
	}
	h.wantState(StateBound)
	if h.c.gw == gwLearn {
		h.arpIn(dhcp.ARP{Op: dhcp.ARPReply, SenderHW: clRouterMAC, SenderIP: clRouter, TargetHW: clMAC, TargetIP: clAddr})
	}
}

// toRenewing moves the clock to T1 and runs the timers up to it.
func (h *clHarness) toRenewing() {
	h.t.Helper()
	h.advance(h.c.lease.RenewAt().Sub(h.now))
	h.wantState(StateRenewing)
}

// toRebinding moves the clock to T2 and runs the timers up to it.
func (h *clHarness) toRebinding() {
	h.t.Helper()
	h.advance(h.c.lease.RebindAt().Sub(h.now))
	h.wantState(StateRebinding)
}

func clHas[T Action](acts []Action) bool {
	for _, a := range acts {
		if _, ok := a.(T); ok {
			return true
		}
	}
	return false
}

func clCount[T Action](acts []Action) int {
	n := 0
	for _, a := range acts {
		if _, ok := a.(T); ok {
			n++
		}
	}
	return n
}

func clHasLog(acts []Action, substr string) bool {
	for _, a := range acts {
		if l, ok := a.(Log); ok && strings.Contains(l.Msg, substr) {
			return true
		}
	}
	return false
}

func TestClientHappyPath(t *testing.T) {
	h := newClHarness(t, Settings{RequestAddr: netip.MustParseAddr("192.0.2.99"), Hostname: mustHost(t, "box")}, nil)
	acts := h.start()
	h.wantState(StateSelecting)
	if h.sockets.Open != SocketsOf(SocketRaw) {
		t.Fatalf("sockets %+v", h.sockets)
	}
	if !clHasLog(acts, "state SELECTING") {
		t.Error("no state log")
	}
	d := h.last(dhcp.Discover)
	if a, _ := d.opt(dhcp.OptRequestedIP); a != netip.MustParseAddr("192.0.2.99") {
		t.Errorf("discover option 50 = %v", a)
	}
	if d.unicast.IsValid() || d.msg.CIAddr.IsValid() && !d.msg.CIAddr.IsUnspecified() {
		t.Errorf("discover unicast %v ciaddr %v", d.unicast, d.msg.CIAddr)
	}
	if _, ok := d.msg.Options.Get(dhcp.OptHostname); !ok {
		t.Error("discover without option 12")
	}

	h.now = h.now.Add(1500 * time.Millisecond)
	h.reply(dhcp.Offer, nil)
	h.wantState(StateRequesting)
	r := h.last(dhcp.Request)
	if r.msg.XID != d.msg.XID {
		t.Errorf("request xid %x, discover %x", r.msg.XID, d.msg.XID)
	}
	if r.msg.Secs != 1 {
		t.Errorf("request secs %d, want 1", r.msg.Secs)
	}
	if a, _ := r.opt(dhcp.OptRequestedIP); a != clAddr {
		t.Errorf("request option 50 = %v", a)
	}
	if a, _ := r.opt(dhcp.OptServerID); a != clServer {
		t.Errorf("request option 54 = %v", a)
	}
	reqAt := h.now

	h.now = h.now.Add(time.Second)
	acts = h.reply(dhcp.Ack, nil)
	h.wantState(StateChecking)
	if h.sockets.Open != SocketsOf(SocketRaw, SocketARP) {
		t.Fatalf("checking sockets %+v", h.sockets)
	}
	if len(h.arp) != 1 || h.arp[0].Frame != dhcp.ARPProbe(clMAC, clAddr) {
		t.Fatalf("probe %+v", h.arp)
	}
	if clHas[Configure](acts) {
		t.Fatal("configured before the conflict check")
	}
	if got := h.c.Deadline().Sub(h.now); got != defFastWait {
		t.Errorf("fast wait %v", got)
	}
	acts = h.fire()
	h.wantState(StateBound)
	if !clHas[Configure](acts) || !clHas[SaveLease](acts) {
		t.Fatalf("bind actions %v", acts)
	}
	l := h.config
	want := &Lease{
		Addr: netip.MustParsePrefix("192.0.2.50/24"), Routers: []netip.Addr{clRouter},
		DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}, Domain: mustName(t, "example.org"),
		ServerID: clServer, LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 3150 * time.Second, Acquired: reqAt,
	}
	if !l.Equal(want) {
		t.Fatalf("lease\n%+v\nwant\n%+v", l, want)
	}
	if !h.saved.Equal(want) {
		t.Fatalf("saved %+v", h.saved)
	}
	// Announcement and gateway query at once, on the ARP socket.
	if h.sockets.Open != SocketsOf(SocketARP) {
		t.Fatalf("bound sockets %+v", h.sockets)
	}
	if n := len(h.arp); n != 3 || h.arp[1].Frame != dhcp.ARPAnnouncement(clMAC, clAddr) ||
		h.arp[2].Frame != dhcp.ARPQuery(clMAC, clAddr, clRouter) {
		t.Fatalf("arp after bind %+v", h.arp)
	}
	h.now = h.now.Add(5 * time.Millisecond)
	acts = h.arpIn(dhcp.ARP{Op: dhcp.ARPReply, SenderHW: clRouterMAC, SenderIP: clRouter, TargetHW: clMAC, TargetIP: clAddr})
	if !clHas[SaveLease](acts) || h.saved.RouterMAC != clRouterMAC {
		t.Fatalf("router mac not saved: %v", acts)
	}
	if h.sockets.Open != SocketsOf(SocketARPDefense) {
		t.Fatalf("sockets after learning %+v", h.sockets)
	}
	if h.c.Lease().RouterMAC != clRouterMAC {
		t.Error("Lease() without router mac")
	}
	// Second announcement ANNOUNCE_INTERVAL after the first.
	annAt := h.now.Add(-5 * time.Millisecond).Add(defAnnounceInterval)
	if got := h.c.Deadline(); !got.Equal(annAt) {
		t.Fatalf("deadline %v, want second announcement at %v", got, annAt)
	}
	h.fire()
	if n := len(h.arp); n != 4 || h.arp[3].Frame != dhcp.ARPAnnouncement(clMAC, clAddr) {
		t.Fatalf("second announcement %+v", h.arp)
	}
	// Then nothing until T1.
	if got := h.c.Deadline(); !got.Equal(reqAt.Add(30 * time.Minute)) {
		t.Fatalf("deadline %v, want T1", got)
	}
}

func TestClientStateStrings(t *testing.T) {
	seen := map[string]bool{}
	for s := StateInit; s <= StateStopped; s++ {
		n := s.String()
		if seen[n] || strings.HasPrefix(n, "state(") {
			t.Errorf("state %d: %q", s, n)
		}
		seen[n] = true
	}
	if State(99).String() != "state(99)" {
		t.Error(State(99).String())
	}
	for m, w := range map[ARPMode]string{ARPFast: "fast", ARPRFC5227: "rfc5227", ARPOff: "off", 9: "arpmode(9)"} {
		if m.String() != w {
			t.Errorf("%d: %q", m, m.String())
		}
	}
}

// TestClientKeepsLeaseWithBadOption checks that a malformed optional
// option costs only itself: the client takes the offer and binds, with
// that field absent from the lease, and warns once per reply.
func TestClientKeepsLeaseWithBadOption(t *testing.T) {
	cases := []struct {
		name  string
		code  dhcp.OptionCode
		value []byte
		check func(*Lease) bool
	}{
		{"bad host name", dhcp.OptHostname, []byte("a b"), func(l *Lease) bool { return l.Hostname.IsZero() }},
		{"mtu too small", dhcp.OptInterfaceMTU, []byte{0, 40}, func(l *Lease) bool { return l.MTU == 0 }},
		{"dns not a multiple of 4", dhcp.OptDNS, []byte{192, 0, 2, 1, 9}, func(l *Lease) bool { return len(l.DNS) == 0 }},
		{"routes malformed", dhcp.OptClasslessRoutes, []byte{33}, func(l *Lease) bool { return len(l.Routes) == 0 }},
		{"dns 0.0.0.0 beside a good one", dhcp.OptDNS, []byte{0, 0, 0, 0, 192, 0, 2, 53}, func(l *Lease) bool {
			return len(l.DNS) == 1 && l.DNS[0] == netip.MustParseAddr("192.0.2.53")
		}},
		{"loopback ntp", dhcp.OptNTPServers, []byte{127, 0, 0, 1}, func(l *Lease) bool { return len(l.NTP) == 0 }},
		{"broadcast 0.0.0.0", dhcp.OptBroadcast, []byte{0, 0, 0, 0}, func(l *Lease) bool { return !l.Broadcast.IsValid() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newClHarness(t, Settings{ClientID: dhcp.NewClientIDMAC(clMAC), ARP: ARPOff}, nil)
			bad := func(m *dhcp.Message) {
				if err := m.Options.Set(c.code, c.value); err != nil {
					t.Fatal(err)
				}
			}
			h.start()
			warned := func(acts []Action) int {
				n := 0
				for _, a := range acts {
					if l, ok := a.(Log); ok && l.Level == slog.LevelWarn {
						n++
					}
				}
				return n
			}
			if n := warned(h.reply(dhcp.Offer, bad)); n != 1 {
				t.Fatalf("%d warnings for the offer, want 1", n)
			}
			h.wantState(StateRequesting)
			h.last(dhcp.Request)
			h.reply(dhcp.Ack, bad)
			h.wantState(StateBound)
			if h.config == nil || !c.check(h.config) {
				t.Fatalf("configured lease %+v keeps the dropped option %d", h.config, c.code)
			}
			if !h.config.Addr.IsValid() || len(h.config.DNS)+len(h.config.Routes)+len(h.config.Routers) == 0 {
				t.Fatalf("configured lease %+v lost its valid fields", h.config)
			}
		})
	}
}

func TestClientHostileReplies(t *testing.T) {
	type tc struct {
		name  string
		state State
		srv   func(*clFakeServer)
		typ   dhcp.MessageType
		mod   func(*dhcp.Message)
	}
	bad := func(code dhcp.OptionCode, v []byte) func(*dhcp.Message) {
		return func(m *dhcp.Message) {
			if v == nil {
				m.Options.Del(code)
				return
			}
			if err := m.Options.Set(code, v); err != nil {
				panic(err)
			}
		}
	}
	cases := []tc{
		{"wrong xid", StateSelecting, nil, dhcp.Offer, func(m *dhcp.Message) { m.XID++ }},
		{"wrong chaddr", StateSelecting, nil, dhcp.Offer, func(m *dhcp.Message) { m.CHAddr[5] ^= 1 }},
		{"bootrequest", StateSelecting, nil, dhcp.Offer, func(m *dhcp.Message) { m.Op = dhcp.BootRequest }},
		{"not ethernet", StateSelecting, nil, dhcp.Offer, func(m *dhcp.Message) { m.HType = 6 }},
		{"offer without server id", StateSelecting, func(s *clFakeServer) { s.noServerID = true }, dhcp.Offer, nil},
		{"server id broadcast", StateSelecting, func(s *clFakeServer) { s.id = netip.MustParseAddr("255.255.255.255") }, dhcp.Offer, nil},
		{"yiaddr zero", StateSelecting, func(s *clFakeServer) { s.addr = netip.IPv4Unspecified() }, dhcp.Offer, nil},
		{"yiaddr broadcast", StateSelecting, func(s *clFakeServer) { s.addr = netip.MustParseAddr("255.255.255.255") }, dhcp.Offer, nil},
		{"yiaddr multicast", StateSelecting, func(s *clFakeServer) { s.addr = netip.MustParseAddr("224.0.0.1") }, dhcp.Offer, nil},
		{"yiaddr loopback", StateSelecting, func(s *clFakeServer) { s.addr = netip.MustParseAddr("127.0.0.1") }, dhcp.Offer, nil},
		{"yiaddr subnet broadcast", StateSelecting, func(s *clFakeServer) { s.addr = netip.MustParseAddr("192.0.2.255") }, dhcp.Offer, nil},
		{"missing lease time", StateSelecting, func(s *clFakeServer) { s.leaseSecs = 0 }, dhcp.Offer, nil},
		{"lease time zero", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptLeaseTime, []byte{0, 0, 0, 0})},
		{"no message type", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptMessageType, nil)},
		{"message type request", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptMessageType, []byte{byte(dhcp.Request)})},
		{"message type malformed", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptMessageType, []byte{2, 2})},
		{"ack in selecting", StateSelecting, nil, dhcp.Ack, nil},
		{"nak in selecting", StateSelecting, nil, dhcp.Nak, nil},
		{"client id mismatch", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptClientID, []byte{1, 2, 3, 4, 5, 6, 7})},
		{"non-contiguous mask", StateSelecting, nil, dhcp.Offer, bad(dhcp.OptSubnetMask, []byte{255, 0, 255, 0})},
		{"ack from another server", StateRequesting, func(s *clFakeServer) { s.id = clServer2 }, dhcp.Ack, nil},
		{"nak from another server", StateRequesting, func(s *clFakeServer) { s.id = clServer2 }, dhcp.Nak, nil},
		{"ack for another address", StateRequesting, func(s *clFakeServer) { s.addr = netip.MustParseAddr("192.0.2.51") }, dhcp.Ack, nil},
		{"offer in requesting", StateRequesting, nil, dhcp.Offer, nil},
		{"ack without lease time", StateRequesting, func(s *clFakeServer) { s.leaseSecs = 0 }, dhcp.Ack, nil},
		{"ack wrong xid", StateRequesting, nil, dhcp.Ack, func(m *dhcp.Message) { m.XID ^= 0x80 }},
		{"ack from another server in renewing", StateRenewing, func(s *clFakeServer) { s.id = clServer2 }, dhcp.Ack, nil},
		{"nak from another server in renewing", StateRenewing, func(s *clFakeServer) { s.id = clServer2 }, dhcp.Nak, nil},
		{"offer in renewing", StateRenewing, nil, dhcp.Offer, nil},
		{"ack for another address in rebinding", StateRebinding, func(s *clFakeServer) { s.addr = netip.MustParseAddr("192.0.2.51") }, dhcp.Ack, nil},
		{"ack in bound", StateBound, nil, dhcp.Ack, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newClHarness(t, Settings{ClientID: dhcp.NewClientIDMAC(clMAC)}, nil)
			switch c.state {
			case StateSelecting:
				h.start()
			case StateRequesting:
				h.toRequesting()
			case StateRenewing, StateRebinding, StateBound:
				h.toBound()
				if c.state != StateBound {
					h.toRenewing()
				}
				if c.state == StateRebinding {
					h.toRebinding()
				}
			}
			h.wantState(c.state)
			if c.srv != nil {
				c.srv(h.srv)
			}
			before := len(h.dhcp)
			dl := h.c.Deadline()
			acts := h.reply(c.typ, c.mod)
			h.wantState(c.state)
			if len(h.dhcp) != before || !h.c.Deadline().Equal(dl) {
				t.Fatalf("dropped reply changed something: %v", acts)
			}
			if len(acts) != 1 || acts[0].(Log).Level != slog.LevelDebug || !strings.HasPrefix(acts[0].(Log).Msg, "dropped") {
				t.Fatalf("actions %v, want one debug log", acts)
			}
		})
	}
	t.Run("nil message", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.start()
		if acts := h.packet(nil); acts != nil {
			t.Fatal(acts)
		}
	})
	t.Run("before start", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		if acts := h.record(h.c.HandlePacket(h.now, &dhcp.Message{})); acts != nil {
			t.Fatal(acts)
		}
		if acts := h.record(h.c.HandleARP(h.now, dhcp.ARP{})); acts != nil {
			t.Fatal(acts)
		}
		if acts := h.record(h.c.HandleTimer(h.now)); acts != nil {
			t.Fatal(acts)
		}
	})
}

func TestClientLeaseTimes(t *testing.T) {
	const inf = infiniteSeconds
	cases := []struct {
		name                  string
		lease, t1, t2         uint32
		wantL, wantT1, wantT2 time.Duration
	}{
		{"both given", 3600, 1000, 2000, time.Hour, 1000 * time.Second, 2000 * time.Second},
		{"none given", 3600, 0, 0, time.Hour, 1800 * time.Second, 3150 * time.Second},
		{"t1 above t2", 3600, 3000, 2000, time.Hour, 1800 * time.Second, 3150 * time.Second},
		{"t1 equal t2", 3600, 2000, 2000, time.Hour, 1800 * time.Second, 3150 * time.Second},
		{"t2 equal lease", 3600, 1000, 3600, time.Hour, 1000 * time.Second, 3150 * time.Second},
		{"t2 above lease", 3600, 1000, 9000, time.Hour, 1000 * time.Second, 3150 * time.Second},
		{"only t1, below default t2", 3600, 3000, 0, time.Hour, 3000 * time.Second, 3150 * time.Second},
		{"only t1, above default t2", 3600, 3300, 0, time.Hour, 1800 * time.Second, 3150 * time.Second},
		{"only t2, above default t1", 3600, 0, 2000, time.Hour, 1800 * time.Second, 2000 * time.Second},
		{"only t2, below default t1", 3600, 0, 1000, time.Hour, 1800 * time.Second, 3150 * time.Second},
		{"odd lease", 3601, 0, 0, 3601 * time.Second, 1800 * time.Second, 3150 * time.Second},
		{"short lease as given", 10, 0, 0, 10 * time.Second, 5 * time.Second, 8 * time.Second},
		{"short lease, t1 and t2 beyond it", 20, 25, 35, 20 * time.Second, 10 * time.Second, 17 * time.Second},
		{"infinite", inf, 0, 0, InfiniteLease, InfiniteLease, InfiniteLease},
		{"infinite with t1 only", inf, 100, 0, InfiniteLease, InfiniteLease, InfiniteLease},
		{"infinite with t1 and t2", inf, 100, 200, InfiniteLease, 100 * time.Second, 200 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newClHarness(t, Settings{ARP: ARPOff}, nil)
			h.srv.leaseSecs, h.srv.t1, h.srv.t2 = c.lease, c.t1, c.t2
			h.toChecking()
			h.wantState(StateBound)
			l := h.config
			if l.LeaseTime != c.wantL || l.T1 != c.wantT1 || l.T2 != c.wantT2 {
				t.Fatalf("lease %v t1 %v t2 %v, want %v %v %v", l.LeaseTime, l.T1, l.T2, c.wantL, c.wantT1, c.wantT2)
			}
			if c.wantL != InfiniteLease {
				// The address is never used past the server's lease: with
				// no answer, the client is in INIT by then.
				h.advance(c.wantL + time.Second)
				if st := h.c.State(); st == StateBound || st == StateRenewing || st == StateRebinding {
					t.Fatalf("%v after the lease of %v ended", st, c.wantL)
				}
				return
			}
			if c.wantT1 == InfiniteLease {
				if !l.RenewAt().IsZero() || !l.Expiry().IsZero() || l.Expired(h.now.Add(1e6*time.Hour)) {
					t.Fatal("infinite lease with a deadline")
				}
				// Only the gateway query and announcements remain.
				h.advance(time.Minute)
				if d := h.c.Deadline(); !d.IsZero() {
					t.Fatalf("deadline %v for an infinite lease", d)
				}
				h.advance(1000 * time.Hour)
				h.wantState(StateBound)
				// A renew by request still works, and stays in RENEWING.
				h.record(h.c.Renew(h.now))
				h.wantState(StateRenewing)
				if d := h.c.Deadline().Sub(h.now); d != defRetransMin {
					t.Fatalf("renew retransmission after %v", d)
				}
				h.fire()
				h.wantState(StateRenewing)
				h.reply(dhcp.Ack, nil)
				h.wantState(StateBound)
			}
		})
	}
}

// clBackoffOK reports whether d is within 1 s of the RFC 2131 section 4.1
// wait after the n-th transmission.
func clBackoffOK(n int, d time.Duration) bool {
	base := min(4*time.Second<<n, 64*time.Second)
	return d >= base-time.Second && d <= base+time.Second
}

func TestClientBackoff(t *testing.T) {
	for _, rnd := range []func() uint32{clRand(1), clRand(7), func() uint32 { return 0 }, func() uint32 { return 2000 }} {
		c := New(Settings{MAC: clMAC}, nil, rnd)
		h := &clHarness{t: t, c: c, now: clT0, srv: newClFakeServer()}
		h.start()
		xid := h.last(dhcp.Discover).msg.XID
		prev := h.now
		for n := 0; n < 8; n++ {
			h.fire()
			s := h.last(dhcp.Discover)
			if d := h.now.Sub(prev); !clBackoffOK(n, d) {
				t.Errorf("retransmission %d after %v", n, d)
			}
			if s.msg.XID != xid {
				t.Errorf("retransmission with a new xid")
			}
			if want := uint16(h.now.Sub(clT0) / time.Second); s.msg.Secs != want {
				t.Errorf("secs %d, want %d", s.msg.Secs, want)
			}
			prev = h.now
		}
		if len(h.dhcp) != 9 {
			t.Fatalf("%d discovers", len(h.dhcp))
		}
	}
}

func TestClientRequestingTimeout(t *testing.T) {
	h := newClHarness(t, Settings{}, nil)
	h.toRequesting()
	xid := h.last(dhcp.Request).msg.XID
	prev := h.now
	for n := 0; n < defRequestTries-1; n++ {
		h.fire()
		h.wantState(StateRequesting)
		if d := h.now.Sub(prev); !clBackoffOK(n, d) {
			t.Errorf("request retransmission %d after %v", n, d)
		}
		prev = h.now
		if h.last(dhcp.Request).msg.XID != xid {
			t.Error("new xid in a retransmission")
		}
	}
	acts := h.fire()
	h.wantState(StateSelecting)
	if !clHasLog(acts, "state INIT") {
		t.Error("no INIT log")
	}
	if d := h.last(dhcp.Discover); d.msg.XID == xid {
		t.Error("discovery again with the old xid")
	}
}

func TestClientInvalidTransition(t *testing.T) {
	h := newClHarness(t, Settings{}, nil)
	h.errOK = true
	h.c.acts = nil
	if h.c.setState(h.now, StateBound, "test") {
		t.Fatal("INIT -> BOUND accepted")
	}
	acts := h.record(h.c.take())
	h.wantState(StateInit)
	if len(acts) != 1 || acts[0].(Log).Level != slog.LevelError {
		t.Fatalf("actions %v", acts)
	}
	// Every state has a row, and STOPPED has no way out.
	for s := StateInit; s <= StateStopped; s++ {
		if s != StateStopped && transitions[s] == 0 {
			t.Errorf("%v has no transitions", s)
		}
	}
	h.c.state = StateStopped
	if h.c.setState(h.now, StateInit, "test") {
		t.Fatal("left STOPPED")
	}
	// A request in a state that sends none is a logged bug.
	h.c.state = StateBound
	h.c.acts = nil
	h.c.sendRequest(h.now)
	if acts := h.c.take(); len(acts) != 1 || acts[0].(Log).Level != slog.LevelError {
		t.Fatalf("actions %v", acts)
	}
	h.c.state = StateStopped
	h.c.timer = h.now
	h.c.acts = nil
	h.c.handleTimer(h.now)
	if !h.c.timer.IsZero() {
		t.Error("timer in STOPPED not cleared")
	}
}

func TestClientBadSettings(t *testing.T) {
	cases := map[string]Settings{
		"zero mac":       {},
		"multicast mac":  {MAC: dhcp.MAC{1, 0, 0, 0, 0, 1}},
		"vendor class":   {MAC: clMAC, VendorClass: make([]byte, 256)},
		"request addr":   {MAC: clMAC, RequestAddr: netip.MustParseAddr("224.0.0.1")},
		"arp mode":       {MAC: clMAC, ARP: 7},
		"negative":       {MAC: clMAC, ARPTimings: ARPTimings{FastWait: -1}},
		"negative count": {MAC: clMAC, Timings: Timings{RequestTries: -1}},
		"probe min max":  {MAC: clMAC, ARPTimings: ARPTimings{ProbeMin: 3 * time.Second}},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if s.Validate() == nil {
				t.Fatal("Validate accepted")
			}
			h := &clHarness{t: t, c: New(s, nil, clRand(1)), now: clT0, errOK: true}
			h.start()
			if h.exit == nil || h.exit.Why != ExitFailed {
				t.Fatalf("exit %+v", h.exit)
			}
			h.wantState(StateStopped)
			if acts := h.c.Renew(h.now); acts != nil {
				t.Fatal(acts)
			}
		})
	}
	t.Run("renew first", func(t *testing.T) {
		h := &clHarness{t: t, c: New(Settings{}, nil, clRand(1)), now: clT0, errOK: true}
		h.record(h.c.Renew(h.now))
		if h.exit == nil || h.exit.Why != ExitFailed {
			t.Fatalf("exit %+v", h.exit)
		}
	})
	t.Run("nil rnd", func(t *testing.T) {
		h := &clHarness{t: t, c: New(Settings{MAC: clMAC}, nil, nil), now: clT0, errOK: true}
		h.start()
		if h.exit == nil || h.exit.Why != ExitFailed {
			t.Fatalf("exit %+v", h.exit)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		h := newClHarness(t, Settings{}, nil)
		h.start()
		h.errOK = true
		if acts := h.start(); len(acts) != 1 {
			t.Fatal(acts)
		}
		h.wantState(StateSelecting)
	})
	if err := (&Settings{MAC: clMAC}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestClientCaptures drives the client with the OFFER and ACK that real
// servers sent (../testdata/captures) and checks the lease it binds.
func TestClientCaptures(t *testing.T) {
	mac := dhcp.MAC{0x02, 0x6e, 0x64, 0x68, 0x63, 0x01}
	for _, srv := range []string{"dnsmasq", "kea", "dhcpd", "udhcpd"} {
		t.Run(srv, func(t *testing.T) {
			var offer, ack dhcp.Message
			for name, m := range map[string]*dhcp.Message{"offer": &offer, "ack": &ack} {
				b := clReadCapture(t, srv+"-"+name+".bin")
				if err := m.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
			}
			if offer.XID != ack.XID {
				t.Skip("offer and ack of different exchanges")
			}
			xid := offer.XID
			c := New(Settings{MAC: mac, ClientID: dhcp.NewClientIDMAC(mac), ARP: ARPOff}, nil,
				func() uint32 { return xid })
			h := &clHarness{t: t, c: c, now: clT0}
			h.start()
			h.packet(&offer)
			h.wantState(StateRequesting)
			h.packet(&ack)
			h.wantState(StateBound)
			l := h.config
			if l.Addr.Bits() != 24 || l.ServerID != netip.MustParseAddr("10.77.0.1") || l.LeaseTime != 120*time.Second ||
				l.T1 != 50*time.Second || l.T2 != 95*time.Second || l.MTU != 1400 || len(l.Routes) != 2 ||
				len(l.Routers) != 0 || len(l.Search) != 3 || len(l.DNS) != 2 || l.Domain.String() != "lab.example" ||
				l.Gateway() != netip.MustParseAddr("10.77.0.1") {
				t.Fatalf("lease %+v", l)
			}
		})
	}
}

func TestClientGatewayFromRoutes(t *testing.T) {
	h := newClHarness(t, Settings{ARP: ARPOff}, nil)
	h.srv.routes = true
	h.toChecking()
	h.wantState(StateBound)
	if len(h.config.Routers) != 0 || len(h.config.Routes) != 2 {
		t.Fatalf("option 3 beside option 121: %+v", h.config)
	}
	gw := netip.MustParseAddr("192.0.2.252")
	if q := h.arp[len(h.arp)-1].Frame; q != dhcp.ARPQuery(clMAC, clAddr, gw) {
		t.Fatalf("gateway query %+v", q)
	}
	// A reply from another address, or one not for us, is ignored.
	h.arpIn(dhcp.ARP{Op: dhcp.ARPReply, SenderHW: clRouterMAC, SenderIP: clRouter, TargetHW: clMAC, TargetIP: clAddr})
	if h.c.gw != gwLearn {
		t.Fatal("reply from the option 3 router accepted")
	}
	// A multicast MAC is not learned.
	acts := h.arpIn(dhcp.ARP{Op: dhcp.ARPReply, SenderHW: dhcp.MAC{1, 0, 0x5e, 0, 0, 1}, SenderIP: gw, TargetHW: clMAC, TargetIP: clAddr})
	if clHas[SaveLease](acts) || h.c.lease.RouterMAC != (dhcp.MAC{}) {
		t.Fatal("multicast router mac learned")
	}
}

func TestClientGatewaySilent(t *testing.T) {
	h := newClHarness(t, Settings{ARP: ARPOff}, nil)
	h.toChecking()
	h.advance(defGatewayTimeout)
	if h.c.gw != gwIdle || h.sockets.Open != SocketsOf(SocketARPDefense) {
		t.Fatalf("gateway query not ended: %v %+v", h.c.gw, h.sockets)
	}
	q := 0
	for _, a := range h.arp {
		if a.Frame == dhcp.ARPQuery(clMAC, clAddr, clRouter) {
			q++
		}
	}
	if q != gatewayQueries {
		t.Fatalf("%d queries", q)
	}
	if h.c.lease.RouterMAC != (dhcp.MAC{}) {
		t.Fatal("router mac without a reply")
	}
}

func TestClientNoRouter(t *testing.T) {
	h := newClHarness(t, Settings{ARP: ARPOff}, nil)
	h.toRequesting()
	h.reply(dhcp.Ack, func(m *dhcp.Message) { m.Options.Del(dhcp.OptRouter); m.Options.Del(dhcp.OptSubnetMask) })
	h.wantState(StateBound)
	if h.c.gw != gwIdle || h.config.Addr.Bits() != 24 {
		t.Fatalf("gw %v lease %v", h.c.gw, h.config.Addr)
	}
	// Carrier up without a gateway: INIT-REBOOT.
	h.link(false)
	h.link(true)
	h.wantState(StateRebooting)
}

func TestClassfulBits(t *testing.T) {
	for a, want := range map[string]int{"10.1.2.3": 8, "172.16.0.1": 16, "192.168.1.1": 24} {
		if got := classfulBits(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s: %d", a, got)
		}
	}
}

func TestClientDeadlineOrder(t *testing.T) {
	h := newClHarness(t, Settings{}, nil)
	if !h.c.Deadline().IsZero() {
		t.Fatal("deadline before start")
	}
	h.toBound()
	times := []time.Time{h.c.timer, h.c.annAt}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	if !h.c.Deadline().Equal(times[0]) {
		t.Fatalf("deadline %v, timers %v", h.c.Deadline(), times)
	}
}

func clReadCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "captures", name))
	if err != nil {
		t.Skip(err)
	}
	return b
}

// TestClientIgnoreClasslessRoutes: with option 121 switched off, option 3
// is the default route and the server's classless routes are not used.
func TestClientIgnoreClasslessRoutes(t *testing.T) {
	h := newClHarness(t, Settings{ARP: ARPOff, IgnoreClasslessRoutes: true}, nil)
	h.srv.routes = true
	h.toChecking()
	h.wantState(StateBound)
	if len(h.config.Routes) != 0 || len(h.config.Routers) == 0 || h.config.Gateway() != clRouter {
		t.Fatalf("lease %+v: want option 3's router and no classless routes", h.config)
	}
}

// TestClientRefused: a lease ifch refused is released and forgotten, and
// the client discovers again after a wait that doubles up to its cap; a
// lease configured ends the run of refusals.
func TestClientRefused(t *testing.T) {
	h := newClHarness(t, Settings{ARP: ARPOff, Timings: Timings{RefusedWait: 10 * time.Second, RefusedMaxWait: 25 * time.Second}}, nil)
	h.errOK = true
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second} {
		h.toChecking()
		h.wantState(StateBound)
		n := len(h.dhcp)
		h.record(h.c.Refused(h.now))
		h.wantState(StateInit)
		if rel := h.last(dhcp.Release); rel.unicast != clServer || len(h.dhcp) != n+1 {
			t.Fatalf("refusal %d: no DHCPRELEASE to the server", i+1)
		}
		if !h.savedOK || h.saved != nil {
			t.Fatalf("refusal %d: the lease file was kept", i+1)
		}
		if d := h.c.Deadline().Sub(h.now); d != wait {
			t.Fatalf("refusal %d: discovery again in %v, want %v", i+1, d, wait)
		}
		h.advance(wait)
		h.wantState(StateSelecting)
	}
	// A refusal that comes too late (the client moved on) does nothing.
	if acts := h.c.Refused(h.now); len(acts) != 0 {
		t.Fatalf("refusal while SELECTING: %v", acts)
	}
	h.c.Configured()
	if h.c.refusals != 0 {
		t.Fatal("Configured did not end the run of refusals")
	}
}

// TestClientConfiguresBeforeSockets: the batch that binds a lease puts
// Configure before any socket change. A socket opens through a round trip
// to sockd, and the address (the lease's whole point) must not wait for
// the ARP socket of the gateway check or the defence socket.
func TestClientConfiguresBeforeSockets(t *testing.T) {
	for _, mode := range []ARPMode{ARPOff, ARPFast} {
		h := newClHarness(t, Settings{ARP: mode}, nil)
		h.toRequesting()
		acts := h.reply(dhcp.Ack, nil)
		for h.c.State() == StateChecking {
			acts = h.fire()
		}
		h.wantState(StateBound)
		configured, socketsAfter := -1, -1
		for i, a := range acts {
			switch a.(type) {
			case Configure:
				configured = i
			case Sockets:
				if configured < 0 {
					t.Fatalf("%v: sockets %+v changed at action %d, before the configuration", mode, a, i)
				}
				socketsAfter = i
			}
		}
		if configured < 0 || socketsAfter < 0 {
			t.Fatalf("%v: bind batch %v: want Configure, then the sockets of BOUND", mode, acts)
		}
	}
}
