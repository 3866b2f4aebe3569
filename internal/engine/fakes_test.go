package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/sandbox"
)

// The fakes of this file stand in for the engine's peers: the supervisor
// (a Control made of channels), sockd (the real wire protocol, answering
// with one end of a fresh SOCK_SEQPACKET socketpair), ifch (the real text
// protocol over SOCK_SEQPACKET) and the netlink link-event socket (a unix
// datagram socketpair). The test keeps the other end of every socket sockd
// grants and plays the DHCP server, the gateway, or the kernel through it.
//
// Why SOCK_SEQPACKET for the granted sockets: the engine sends with
// Sendto and a sockaddr_ll (raw, arp) or sockaddr_in (udp). A unix
// SOCK_DGRAM socketpair refuses both with EINVAL (unix_dgram_sendmsg
// validates the address as a sockaddr_un), so the engine's DISCOVER would
// never leave; a SOCK_SEQPACKET pair accepts the address and ignores it
// (unix_seqpacket_sendmsg clears msg_namelen), keeps message boundaries,
// and socket.FileConn, Recvmsg and Recvfrom work on it. TestGrantedSocketKind
// pins both facts. What it cannot show is the destination address; the
// root-only TestEngineReleaseUnicastNetns uses real UDP sockets in a
// network namespace of its own for that.

// waitFor bounds every wait of these tests.
const waitFor = 5 * time.Second

var (
	tMAC       = dhcp.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x07}
	tRouterMAC = dhcp.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}
	tServer    = netip.MustParseAddr("192.0.2.1")
	tAddr      = netip.MustParseAddr("192.0.2.50")
	tRouter    = netip.MustParseAddr("192.0.2.254")
	tDNS       = []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("198.51.100.53")}
	tIfindex   = 7
)

// tConfig is the engine configuration of scenario 1: ARP off, RFC 4361
// client identifier from the state directory.
func tConfig() *config.Engine {
	return &config.Engine{
		ARP:      client.ARPOff,
		ClientID: config.ClientIDDUID,
		DUID:     tDUID,
		Link:     config.Link{Name: "eth0", Index: tIfindex, MAC: tMAC},
	}
}

// tDUID is the host's DUID, a DUID-UUID, as the supervisor hands it over.
var tDUID = []byte{0, 4, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x81, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}

// ---- the supervisor ----

var errControlGone = errors.New("fake supervisor: control channel closed")

// controlFake is the supervisor's end of the control channel: the test
// pushes commands into cmds or an error into fail; every event reported
// lands in events, after the check the real supervisor makes.
type controlFake struct {
	cmds   chan event.Command
	fail   chan error
	events chan event.Event
	gone   chan struct{}
	// reportErr, when set, is what Report returns (a supervisor whose
	// end is gone).
	reportErr error

	mu  sync.Mutex
	bad []string
}

func newControlFake() *controlFake {
	return &controlFake{
		cmds:   make(chan event.Command, 4),
		fail:   make(chan error, 1),
		events: make(chan event.Event, 256),
		gone:   make(chan struct{}),
	}
}

func (c *controlFake) Command() (event.Command, error) {
	select {
	case cmd := <-c.cmds:
		return cmd, nil
	case err := <-c.fail:
		return 0, err
	case <-c.gone:
		return 0, errControlGone
	}
}

func (c *controlFake) Report(ev event.Event) error {
	if c.reportErr != nil {
		return c.reportErr
	}
	// The supervisor decodes every event strictly: one the real channel
	// would not carry is an engine bug.
	if _, err := ev.MarshalBinary(); err != nil {
		c.complain("engine reported an event the supervisor rejects: %+v: %v", ev, err)
		return err
	}
	select {
	case c.events <- ev:
	default:
		c.complain("event buffer full at %+v", ev)
	}
	return nil
}

func (c *controlFake) complain(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bad = append(c.bad, fmt.Sprintf(format, args...))
}

// ---- ifch ----

// ifchFake is ifch: it reads one message, decodes it with the real
// grammar, and answers with respond's bytes (nil: close the channel).
type ifchFake struct {
	conn    *net.UnixConn
	cmds    chan ifch.Command
	respond func(ifch.Command) []byte

	mu  sync.Mutex
	bad []string
}

// ifchOK is a healthy ifch on an interface with carrier.
func ifchOK(c ifch.Command) []byte {
	if _, ok := c.(*ifch.Carrier); ok {
		return ifchReply(ifch.Reply{Carrier: ifch.CarrierUp})
	}
	return ifchReply(ifch.Reply{})
}

func ifchReply(r ifch.Reply) []byte {
	b, err := r.MarshalText()
	if err != nil {
		panic(err)
	}
	return b
}

func (f *ifchFake) serve() {
	buf := make([]byte, ifch.MaxMessageSize+1)
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			return
		}
		c, err := ifch.Unmarshal(buf[:n])
		if err != nil {
			f.complain("engine sent ifch a message that breaks the grammar: %q: %v", buf[:n], err)
			return
		}
		select {
		case f.cmds <- c:
		default:
			f.complain("ifch command buffer full")
		}
		reply := f.respond(c)
		if reply == nil {
			f.conn.Close()
			return
		}
		if _, err := f.conn.Write(reply); err != nil {
			return
		}
	}
}

func (f *ifchFake) complain(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad = append(f.bad, fmt.Sprintf(format, args...))
}

// ---- sockd ----

// sockdAnswer is how sockdFake answers one request. The zero value grants
// a fresh SOCK_SEQPACKET socket.
type sockdAnswer struct {
	// errno refuses the request (a reply without descriptor).
	errno unix.Errno
	// raw is sent instead of a well-formed reply.
	raw []byte
	// file is sent instead of a socketpair end, with errno in the reply
	// (0: a grant); the fake closes it.
	file *os.File
	// hangUp closes the channel instead of answering.
	hangUp bool
}

// sockdGrant is one request and, when a socket was granted from a
// socketpair, the test's end of it.
type sockdGrant struct {
	req  sockd.Request
	peer *net.UnixConn
}

// sockdFake is the socket broker, speaking the real wire protocol. It
// grants SOCK_SEQPACKET socketpairs and keeps a duplicate of the engine's
// end of each: a frame the engine asks it to transmit is written there, as
// if the engine had sent it on that socket, so the test reads everything
// the engine put on the wire from the grant's peer.
type sockdFake struct {
	conn   *net.UnixConn
	answer func(sockd.Request) sockdAnswer
	grants chan sockdGrant

	mu    sync.Mutex
	reqs  []sockd.Request
	sent  []sockd.Request
	peers []*net.UnixConn
	// ends are the duplicates of the engine's ends, by kind, latest
	// grant last; order is the kinds in the order granted.
	ends  map[client.Socket][]*os.File
	order []client.Socket
	bad   []string
}

func (f *sockdFake) requests() []sockd.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sockd.Request(nil), f.reqs...)
}

func (f *sockdFake) complain(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad = append(f.bad, fmt.Sprintf(format, args...))
}

func (f *sockdFake) serve() {
	for {
		msg, err := sandbox.RecvUpTo(f.conn, sockd.MaxRequestSize)
		if err != nil {
			if !errors.Is(err, sandbox.ErrPeerClosed) && !errors.Is(err, net.ErrClosed) {
				f.complain("sockd channel: %v", err)
			}
			return
		}
		var req sockd.Request
		if err := req.UnmarshalBinary(msg); err != nil {
			f.complain("engine sent sockd a malformed request % x: %v", msg, err)
			return
		}
		if req.Op == sockd.OpTransmit {
			if err := f.transmit(req); err != nil {
				f.complain("sockd transmit %+v: %v", req, err)
				return
			}
			continue
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		g := sockdGrant{req: req}
		a := sockdAnswer{}
		if f.answer != nil {
			a = f.answer(req)
		}
		switch {
		case a.hangUp:
			f.conn.Close()
			f.grants <- g
			return
		case a.raw != nil:
			err = sandbox.Send(f.conn, a.raw)
		case a.file != nil:
			rep, _ := sockd.Reply{Op: sockd.OpOpen, Kind: req.Kind, Errno: uint32(a.errno)}.MarshalBinary()
			err = sandbox.SendFD(f.conn, rep, int(a.file.Fd()))
			a.file.Close()
		case a.errno != 0:
			rep, _ := sockd.Reply{Op: sockd.OpOpen, Kind: req.Kind, Errno: uint32(a.errno)}.MarshalBinary()
			err = sandbox.Send(f.conn, rep)
		default:
			g.peer, err = f.grant(req)
		}
		if err != nil {
			f.complain("sockd answer to %+v: %v", req, err)
			return
		}
		select {
		case f.grants <- g:
		default:
			f.complain("sockd grant buffer full")
		}
	}
}

// transmit checks a frame as sockd does, writes it where the test reads
// the engine's socket of that kind (an ARP frame goes to whichever of the
// ARP and defense sockets was granted last) and answers.
func (f *sockdFake) transmit(req sockd.Request) error {
	frame := req.Payload
	switch req.Kind {
	case client.SocketRaw:
		if hw := dhcp.MAC(req.Payload[28:34]); hw != tMAC {
			return fmt.Errorf("dhcp message from %v", hw)
		}
		src := req.Addr
		if !src.IsValid() {
			src = netip.IPv4Unspecified()
		}
		d := dhcp.Datagram{Src: netip.AddrPortFrom(src, 68), Dst: netip.MustParseAddrPort("255.255.255.255:67"), TTL: 64, Payload: req.Payload}
		var err error
		if frame, err = d.AppendBinary(nil); err != nil {
			return err
		}
	case client.SocketARP:
		if a, _ := dhcp.ParseARP(req.Payload); a.SenderHW != tMAC {
			return fmt.Errorf("arp frame from %v", a.SenderHW)
		}
	}
	f.mu.Lock()
	f.sent = append(f.sent, req)
	end := f.latest(req.Kind)
	f.mu.Unlock()
	if end == nil {
		return fmt.Errorf("transmit on %s before any such socket was granted", req.Kind)
	}
	if _, err := unix.Write(int(end.Fd()), frame); err != nil {
		return err
	}
	rep, _ := sockd.Reply{Op: sockd.OpTransmit, Kind: req.Kind}.MarshalBinary()
	return sandbox.Send(f.conn, rep)
}

// latest returns the duplicate of the engine's end a transmission of kind
// goes to; f.mu is held.
func (f *sockdFake) latest(kind client.Socket) *os.File {
	last := func(k client.Socket) (*os.File, int) {
		for i := len(f.order) - 1; i >= 0; i-- {
			if f.order[i] == k {
				ends := f.ends[k]
				return ends[len(ends)-1], i
			}
		}
		return nil, -1
	}
	if kind != client.SocketARP {
		e, _ := last(kind)
		return e
	}
	a, ai := last(client.SocketARP)
	d, di := last(client.SocketARPDefense)
	if di > ai {
		return d
	}
	return a
}

// grant sends the engine one end of a fresh SOCK_SEQPACKET pair and
// returns the other.
func (f *sockdFake) grant(req sockd.Request) (*net.UnixConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	rep, _ := sockd.Reply{Op: sockd.OpOpen, Kind: req.Kind}.MarshalBinary()
	err = sandbox.SendFD(f.conn, rep, fds[0])
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	peer, err := sandbox.UnixConn(os.NewFile(uintptr(fds[1]), "test end of "+req.Kind.String()))
	if err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	f.mu.Lock()
	f.peers = append(f.peers, peer)
	if f.ends == nil {
		f.ends = map[client.Socket][]*os.File{}
	}
	f.ends[req.Kind] = append(f.ends[req.Kind], os.NewFile(uintptr(fds[0]), "sockd's copy of the engine end of "+req.Kind.String()))
	f.order = append(f.order, req.Kind)
	f.mu.Unlock()
	return peer, nil
}

// closeEnds closes the duplicates of the engine's ends.
func (f *sockdFake) closeEnds() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ends := range f.ends {
		for _, e := range ends {
			e.Close()
		}
	}
	f.ends = nil
}

// ---- the harness ----

// syncBuffer is a log sink the engine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is one engine on its fakes. Build it with newHarness, adjust
// the fakes' behaviour, then start it.
type harness struct {
	t     *testing.T
	cfg   *config.Engine
	dir   string
	log   *syncBuffer
	e     *Engine
	ctl   *controlFake
	ifch  *ifchFake
	sockd *sockdFake
	// leased are the Leased events seen so far (see event).
	leased []event.Event
	// links is the engine's end of the link-event socket; linksPeer the
	// test's, written only by the tests of link events.
	links     *socket.Conn
	linksPeer *os.File

	done    chan int
	code    int
	exited  bool
	started bool
	wg      sync.WaitGroup
}

func seqpacketConns(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	ca, cb, err := sandbox.SeqpacketConns()
	if err != nil {
		t.Fatal(err)
	}
	return ca, cb
}

func newHarness(t *testing.T, cfg *config.Engine) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, dir: t.TempDir(), log: &syncBuffer{}, ctl: newControlFake(), done: make(chan int, 1)}
	// The directory as the supervisor prepares it: the engine's files
	// exist, empty; the engine creates none.
	for _, f := range StateFiles {
		if err := os.WriteFile(filepath.Join(h.dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	engSockd, srvSockd := seqpacketConns(t)
	engIfch, srvIfch := seqpacketConns(t)
	h.sockd = &sockdFake{conn: srvSockd, grants: make(chan sockdGrant, 32)}
	h.ifch = &ifchFake{conn: srvIfch, cmds: make(chan ifch.Command, 64), respond: ifchOK}

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	engLinks := os.NewFile(uintptr(fds[0]), "links")
	h.links, err = socket.FileConn(engLinks, "links")
	engLinks.Close() // FileConn holds a copy
	if err != nil {
		t.Fatal(err)
	}
	h.linksPeer = os.NewFile(uintptr(fds[1]), "links peer")

	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.e = New(cfg, Ends{Sockd: engSockd, Ifch: engIfch, Links: h.links, Control: h.ctl, StateDir: h.dir}, logger)
	t.Cleanup(func() { h.cleanup(engSockd, engIfch) })
	return h
}

// start runs the fakes and the engine.
func (h *harness) start() {
	h.started = true
	h.wg.Add(3)
	go func() { defer h.wg.Done(); h.sockd.serve() }()
	go func() { defer h.wg.Done(); h.ifch.serve() }()
	go func() { defer h.wg.Done(); h.done <- h.e.Run() }()
}

// wait returns Run's exit status, failing the test if Run does not return
// within the bound.
func (h *harness) wait() int {
	h.t.Helper()
	if h.exited {
		return h.code
	}
	select {
	case h.code = <-h.done:
		h.exited = true
		return h.code
	case <-time.After(waitFor):
		h.t.Fatalf("Run did not return within %v", waitFor)
		return -1
	}
}

// running fails the test if Run has returned.
func (h *harness) running() {
	h.t.Helper()
	select {
	case h.code = <-h.done:
		h.exited = true
		h.t.Fatalf("Run returned %d, want it still running", h.code)
	default:
	}
}

// cleanup ends the engine (if it still runs: the supervisor goes away and
// the peers close their channels), then every socket, every goroutine of
// the fakes and of the engine, and reports what the fakes saw wrong.
func (h *harness) cleanup(engSockd, engIfch *net.UnixConn) {
	t := h.t
	close(h.ctl.gone)
	h.sockd.conn.Close()
	h.ifch.conn.Close()
	if h.started && !h.exited {
		select {
		case h.code = <-h.done:
			h.exited = true
		case <-time.After(waitFor):
			t.Errorf("Run did not return within %v after its peers went away", waitFor)
		}
	}
	// Run has returned: its sockets are the test's to close. The engine
	// leaves them to process exit; closing them ends their readers.
	if h.exited || !h.started {
		for _, c := range h.e.socks {
			if c != nil {
				c.Close()
			}
		}
	}
	h.links.Close()
	h.linksPeer.Close()
	engSockd.Close()
	engIfch.Close()
	h.sockd.mu.Lock()
	for _, p := range h.sockd.peers {
		p.Close()
	}
	h.sockd.mu.Unlock()
	h.sockd.closeEnds()

	fakes := make(chan struct{})
	go func() { h.wg.Wait(); close(fakes) }()
	select {
	case <-fakes:
	case <-time.After(waitFor):
		t.Errorf("fake peers did not end within %v", waitFor)
	}
	if h.exited {
		if leaks := waitEngineGoroutines(waitFor); leaks != "" {
			t.Errorf("engine goroutines left after Run returned:\n%s", leaks)
		}
	}
	for _, bad := range [][]string{h.ctl.bad, h.ifch.bad, h.sockd.bad} {
		for _, s := range bad {
			t.Error(s)
		}
	}
	if t.Failed() {
		t.Logf("engine log:\n%s", h.log.String())
	}
}

// waitEngineGoroutines waits until no goroutine runs an Engine method and
// returns the stacks of those that remain.
func waitEngineGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "internal/engine.(*Engine).") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- what the test reads from its fakes ----

// event returns the next event the engine reported.
//
// Leased events (the lease's timers, sent after each move to BOUND) are
// kept in h.leased rather than returned, so that the tests of the state
// events need not list them.
func (h *harness) event() event.Event {
	h.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case ev := <-h.ctl.events:
			if ev.Kind == event.Leased {
				h.leased = append(h.leased, ev)
				continue
			}
			return ev
		case <-deadline:
			h.t.Fatalf("no event within %v", waitFor)
			return event.Event{}
		}
	}
}

// eventsUntil returns the events up to and including the first one for
// which stop is true.
func (h *harness) eventsUntil(stop func(event.Event) bool) []event.Event {
	h.t.Helper()
	var evs []event.Event
	for {
		ev := h.event()
		evs = append(evs, ev)
		if stop(ev) {
			return evs
		}
	}
}

// noMoreEvents fails if the engine has reported anything not yet read.
func (h *harness) noMoreEvents() {
	h.t.Helper()
	select {
	case ev := <-h.ctl.events:
		h.t.Errorf("unexpected event %+v", ev)
	default:
	}
}

// ifchCmd returns the next command the engine sent ifch.
func (h *harness) ifchCmd() ifch.Command {
	h.t.Helper()
	select {
	case c := <-h.ifch.cmds:
		return c
	case <-time.After(waitFor):
		h.t.Fatalf("no ifch command within %v", waitFor)
		return nil
	}
}

// ifchText is c in the wire grammar, for comparisons and messages.
func ifchText(c ifch.Command) string {
	b, err := ifch.Marshal(c)
	if err != nil {
		return fmt.Sprintf("unencodable %T: %v", c, err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// wantIfch reads the next ifch command and checks its first line.
func (h *harness) wantIfch(line string) ifch.Command {
	h.t.Helper()
	c := h.ifchCmd()
	if got, _, _ := strings.Cut(ifchText(c), "\n"); got != line {
		h.t.Fatalf("ifch got %q, want %q", ifchText(c), line)
	}
	return c
}

// grant returns the next sockd request, which must be of kind.
func (h *harness) grant(kind client.Socket) sockdGrant {
	h.t.Helper()
	select {
	case g := <-h.sockd.grants:
		if g.req.Kind != kind {
			h.t.Fatalf("sockd request for %v, want %v", g.req.Kind, kind)
		}
		if g.req.Ifindex != uint32(h.cfg.Link.Index) {
			h.t.Errorf("sockd request for ifindex %d, want %d", g.req.Ifindex, h.cfg.Link.Index)
		}
		return g
	case <-time.After(waitFor):
		h.t.Fatalf("no sockd request for %v within %v", kind, waitFor)
		return sockdGrant{}
	}
}

// noMoreGrants fails if sockd got a request not yet read.
func (h *harness) noMoreGrants() {
	h.t.Helper()
	select {
	case g := <-h.sockd.grants:
		h.t.Errorf("unexpected sockd request %+v", g.req)
	default:
	}
}

// readPacket reads one message from a granted socket's test end.
func readPacket(t *testing.T, c *net.UnixConn) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading what the engine sent: %v", err)
	}
	return buf[:n]
}

// readDHCP reads one frame from the raw socket's test end: an IPv4/UDP
// datagram from 0.0.0.0:68 (or src) to 255.255.255.255:67 holding a
// BOOTREQUEST.
func readDHCP(t *testing.T, raw *net.UnixConn, src netip.Addr) *dhcp.Message {
	t.Helper()
	b := readPacket(t, raw)
	d, err := dhcp.ParseDatagram(b, 0)
	if err != nil {
		t.Fatalf("engine sent a bad frame: %v", err)
	}
	if want := netip.AddrPortFrom(src, 68); d.Src != want {
		t.Errorf("frame from %v, want %v", d.Src, want)
	}
	if want := netip.MustParseAddrPort("255.255.255.255:67"); d.Dst != want {
		t.Errorf("frame to %v, want %v", d.Dst, want)
	}
	return decodeRequest(t, d.Payload)
}

func decodeRequest(t *testing.T, b []byte) *dhcp.Message {
	t.Helper()
	m := new(dhcp.Message)
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatalf("engine sent a bad dhcp message: %v", err)
	}
	if m.Op != dhcp.BootRequest {
		t.Fatalf("engine sent op %v", m.Op)
	}
	return m
}

func msgType(m *dhcp.Message) dhcp.MessageType {
	v, ok := m.Options.Get(dhcp.OptMessageType)
	if !ok || len(v) != 1 {
		return 0
	}
	return dhcp.MessageType(v[0])
}

func optAddr(m *dhcp.Message, code dhcp.OptionCode) netip.Addr {
	v, ok := m.Options.Get(code)
	if !ok || len(v) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(v))
}

// ---- the DHCP server ----

// dhcpServer builds the server's replies. Its fields shape every OFFER
// and ACK.
type dhcpServer struct {
	id        netip.Addr
	addr      netip.Addr
	leaseSecs uint32
	routers   []netip.Addr
	dns       []netip.Addr
	domain    string
	search    []string
	routes    []dhcp.Route
}

func newDHCPServer() *dhcpServer {
	return &dhcpServer{id: tServer, addr: tAddr, leaseSecs: 3600, routers: []netip.Addr{tRouter}, dns: tDNS}
}

func addrBytes(as []netip.Addr) []byte {
	var b []byte
	for _, a := range as {
		b = append(b, a.AsSlice()...)
	}
	return b
}

// message is the reply of type typ to req.
func (s *dhcpServer) message(t *testing.T, req *dhcp.Message, typ dhcp.MessageType) *dhcp.Message {
	t.Helper()
	m := &dhcp.Message{Op: dhcp.BootReply, HType: dhcp.HTypeEthernet, HLen: dhcp.HLenEthernet,
		XID: req.XID, Flags: req.Flags, CHAddr: req.CHAddr}
	set := func(code dhcp.OptionCode, v []byte) {
		t.Helper()
		if err := m.Options.Set(code, v); err != nil {
			t.Fatalf("option %v: %v", code, err)
		}
	}
	set(dhcp.OptMessageType, []byte{byte(typ)})
	set(dhcp.OptServerID, s.id.AsSlice())
	if id, ok := req.Options.Get(dhcp.OptClientID); ok {
		set(dhcp.OptClientID, id)
	}
	if typ == dhcp.Nak {
		return m
	}
	m.YIAddr = s.addr
	set(dhcp.OptLeaseTime, binary.BigEndian.AppendUint32(nil, s.leaseSecs))
	set(dhcp.OptSubnetMask, []byte{255, 255, 255, 0})
	if len(s.routers) > 0 {
		set(dhcp.OptRouter, addrBytes(s.routers))
	}
	if len(s.dns) > 0 {
		set(dhcp.OptDNS, addrBytes(s.dns))
	}
	if s.domain != "" {
		set(dhcp.OptDomainName, []byte(s.domain))
	}
	if len(s.search) > 0 {
		var names []dhcp.DomainName
		for _, n := range s.search {
			dn, err := dhcp.ParseDomainName(n)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, dn)
		}
		v, err := dhcp.AppendDomainSearch(nil, names)
		if err != nil {
			t.Fatal(err)
		}
		set(dhcp.OptDomainSearch, v)
	}
	if len(s.routes) > 0 {
		v, err := dhcp.AppendRoutes(nil, s.routes)
		if err != nil {
			t.Fatal(err)
		}
		set(dhcp.OptClasslessRoutes, v)
	}
	return m
}

// frame is the reply as the raw socket delivers it: IPv4/UDP from the
// server's port 67 to the client's port 68.
func (s *dhcpServer) frame(t *testing.T, req *dhcp.Message, typ dhcp.MessageType) []byte {
	t.Helper()
	p, err := s.message(t, req, typ).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d := dhcp.Datagram{Src: netip.AddrPortFrom(s.id, 67), Dst: netip.MustParseAddrPort("255.255.255.255:68"), TTL: 64, Payload: p}
	b, err := d.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send writes one packet into a granted socket's test end.
func send(t *testing.T, c *net.UnixConn, b []byte) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("writing to the engine's socket: %v", err)
	}
}
