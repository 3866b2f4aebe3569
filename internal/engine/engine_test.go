package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/linkev"
	"github.com/ndhc-go/ndhc/internal/sockd"
)

var cmpAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var tPrefix = netip.PrefixFrom(tAddr, 24)

func stateEv(from, to client.State, addr netip.Prefix, cause string) event.Event {
	return event.Event{Kind: event.State, From: from, To: to, Addr: addr, Cause: cause}
}

func exitingEv(r event.Reason) event.Event { return event.Event{Kind: event.Exiting, Reason: r} }

func isKind(k event.Kind) func(event.Event) bool {
	return func(ev event.Event) bool { return ev.Kind == k }
}

func wantEvents(t *testing.T, got, want []event.Event) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got, want)
	}
}

func wantKinds(t *testing.T, h *harness, want ...client.Socket) {
	t.Helper()
	var got []client.Socket
	for _, r := range h.sockd.requests() {
		got = append(got, r.Kind)
	}
	if !slices.Equal(got, want) {
		t.Errorf("sockd requests %v, want %v", got, want)
	}
}

// acquire plays the server from the engine's start to its configure:
// up, carrier, the raw socket, DISCOVER, OFFER, REQUEST, ACK, and the ARP
// socket that learns the gateway's hardware address. It returns the raw
// socket's grant, the REQUEST, and what ifch was asked to configure.
func (h *harness) acquire(srv *dhcpServer) (raw, arp sockdGrant, req *dhcp.Message, conf *ifch.Configure) {
	t := h.t
	t.Helper()
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	raw = h.grant(client.SocketRaw)
	disc := readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(disc) != dhcp.Discover {
		t.Fatalf("first message %v, want DHCPDISCOVER", msgType(disc))
	}
	send(t, raw.peer, srv.frame(t, disc, dhcp.Offer))
	req = readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(req) != dhcp.Request {
		t.Fatalf("second message %v, want DHCPREQUEST", msgType(req))
	}
	send(t, raw.peer, srv.frame(t, req, dhcp.Ack))
	// The address first, then the ARP socket of the gateway check.
	conf, ok := h.wantIfch("configure eth0").(*ifch.Configure)
	if !ok {
		t.Fatal("configure is not an *ifch.Configure")
	}
	arp = h.grant(client.SocketARP)
	return raw, arp, req, conf
}

// waitFile waits until the engine has written path (SaveLease follows the
// configure and its event).
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st, err := os.Stat(path)
		if err == nil && st.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v: %v", path, waitFor, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop sends the supervisor's stop and checks a clean exit.
func (h *harness) stop() []event.Event {
	h.t.Helper()
	h.ctl.cmds <- event.Stop
	evs := h.eventsUntil(isKind(event.Exiting))
	if code := h.wait(); code != exitcode.OK {
		h.t.Errorf("Run returned %d after stop, want %d", code, exitcode.OK)
	}
	return evs
}

// TestGrantedSocketKind pins the kernel behaviour the fake sockd relies
// on: a unix SOCK_SEQPACKET pair keeps message boundaries through the
// socket.Conn calls the engine makes (Write on its UDP socket, Recvmsg on
// its packet sockets).
func TestGrantedSocketKind(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "engine end")
	c, err := socket.FileConn(f, "engine end")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if _, err := c.Write([]byte("frame")); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	for range 2 {
		if n, err := unix.Read(fds[1], buf); err != nil || string(buf[:n]) != "frame" {
			t.Errorf("peer read %q, %v", buf[:n], err)
		}
	}
	if _, err := unix.Write(fds[1], []byte("reply")); err != nil {
		t.Fatal(err)
	}
	oob := make([]byte, 64)
	if n, _, _, _, err := c.Recvmsg(context.Background(), buf, oob, 0); err != nil || string(buf[:n]) != "reply" {
		t.Errorf("Recvmsg %q, %v", buf[:n], err)
	}
}

// TestEngineColdStart is scenario 1: a first start with ARP off, from
// nothing to BOUND and configured, and a stop that leaves the address.
func TestEngineColdStart(t *testing.T) {
	h := newHarness(t, tConfig())
	srv := newDHCPServer()
	srv.domain = "example.org"
	srv.search = []string{"corp.example.org", "example.net"}
	h.start()

	// ifch first: the link up, then its carrier; only then sockets.
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	raw := h.grant(client.SocketRaw)
	if raw.req.Addr.IsValid() {
		t.Errorf("raw socket request carries address %v", raw.req.Addr)
	}
	disc := readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(disc) != dhcp.Discover {
		t.Fatalf("first message %v, want DHCPDISCOVER", msgType(disc))
	}
	if got := dhcp.MAC(disc.HWAddr()); got != tMAC {
		t.Errorf("chaddr %v, want %v", got, tMAC)
	}
	// Option 61 is RFC 4361's: type 255, the IAID the engine created in
	// its directory, and the host's DUID from the supervisor.
	duid := tDUID
	iaid, err := os.ReadFile(filepath.Join(h.dir, IAIDFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(iaid) != 4 {
		t.Errorf("iaid % x: want 4 bytes", iaid)
	}
	if ents, _ := os.ReadDir(h.dir); len(ents) != len(StateFiles) {
		t.Errorf("%d files in the engine's directory, want its %d alone", len(ents), len(StateFiles))
	}
	id, _ := disc.Options.Get(dhcp.OptClientID)
	if want := append(append([]byte{255}, iaid...), duid...); string(id) != string(want) {
		t.Errorf("client identifier % x, want % x", id, want)
	}

	send(t, raw.peer, srv.frame(t, disc, dhcp.Offer))
	req := readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(req) != dhcp.Request || req.XID != disc.XID {
		t.Fatalf("after the offer: %v xid %#x, want DHCPREQUEST xid %#x", msgType(req), req.XID, disc.XID)
	}
	if got := optAddr(req, dhcp.OptRequestedIP); got != tAddr {
		t.Errorf("requested address %v, want %v", got, tAddr)
	}
	if got := optAddr(req, dhcp.OptServerID); got != tServer {
		t.Errorf("server identifier %v, want %v", got, tServer)
	}
	send(t, raw.peer, srv.frame(t, req, dhcp.Ack))

	// BOUND: the raw socket goes, an ARP socket comes to learn the
	// gateway's hardware address, then ifch gets the whole lease.
	arp := h.grant(client.SocketARP)
	if arp.req.Addr.IsValid() {
		t.Errorf("arp socket request carries address %v", arp.req.Addr)
	}
	conf := h.wantIfch("configure eth0").(*ifch.Configure)
	want := &ifch.Configure{
		Interface: "eth0",
		Address:   tPrefix,
		Router:    tRouter,
		DNS:       tDNS,
		Domain:    "example.org",
		Search:    []string{"corp.example.org", "example.net"},
	}
	if diff := cmp.Diff(want, conf, cmpAddrs, cmpopts.IgnoreFields(ifch.Configure{}, "Valid", "Preferred")); diff != "" {
		t.Errorf("configure (-want +got):\n%s", diff)
	}
	if conf.Valid != conf.Preferred || conf.Valid > 3600 || conf.Valid < 3600-5 {
		t.Errorf("lifetimes valid %v preferred %v, want the 3600 s lease's remainder", conf.Valid, conf.Preferred)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Configured)), []event.Event{
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
		stateEv(client.StateSelecting, client.StateRequesting, netip.Prefix{}, "offer"),
		stateEv(client.StateRequesting, client.StateBound, tPrefix, "lease obtained"),
		{Kind: event.Configured, Addr: tPrefix},
	})

	// The engine asks the gateway for its hardware address; the gateway
	// answers; the lease keeps it and the defense socket replaces the
	// ARP socket.
	for {
		b := readPacket(t, arp.peer)
		a, err := dhcp.ParseARP(b)
		if err != nil {
			t.Fatalf("engine sent a bad arp packet: %v", err)
		}
		if a.Op == dhcp.ARPRequest && a.SenderIP == tAddr && a.TargetIP == tRouter {
			if a.SenderHW != tMAC {
				t.Errorf("gateway query from %v, want %v", a.SenderHW, tMAC)
			}
			break
		}
		if a.SenderIP != tAddr || a.TargetIP != tAddr {
			t.Fatalf("unexpected arp packet %+v", a)
		}
	}
	ans := dhcp.ARP{Op: dhcp.ARPReply, SenderHW: tRouterMAC, SenderIP: tRouter, TargetHW: tMAC, TargetIP: tAddr}
	b, err := ans.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, arp.peer, b)
	def := h.grant(client.SocketARPDefense)
	if def.req.Addr != tAddr {
		t.Errorf("defense socket for %v, want %v", def.req.Addr, tAddr)
	}
	wantEvents(t, []event.Event{h.event()}, []event.Event{
		{Kind: event.Noted, Note: client.NoteGateway, Addr: netip.PrefixFrom(tRouter, 32), MAC: tRouterMAC},
	})

	// A stop without release leaves the address and the lease file for
	// the next start.
	wantEvents(t, h.stop(), []event.Event{
		stateEv(client.StateBound, client.StateStopped, tPrefix, "stop requested"),
		exitingEv(event.ReasonStopped),
	})
	h.noMoreEvents()
	select {
	case c := <-h.ifch.cmds:
		t.Errorf("ifch got %q after the configure, want nothing", ifchText(c))
	default:
	}
	// Exactly the sockets the states needed, in order.
	wantKinds(t, h, client.SocketRaw, client.SocketARP, client.SocketARPDefense)
	h.noMoreGrants()

	lb, err := os.ReadFile(filepath.Join(h.dir, LeaseFile))
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.ParseLease(lb)
	if err != nil {
		t.Fatalf("lease file: %v", err)
	}
	if l.Addr != tPrefix || l.ServerID != tServer || !slices.Equal(l.Routers, []netip.Addr{tRouter}) ||
		!slices.Equal(l.DNS, tDNS) || l.LeaseTime != time.Hour || l.RouterMAC != tRouterMAC ||
		l.Domain.String() != "example.org" || len(l.Search) != 2 {
		t.Errorf("saved lease %+v", l)
	}
	if since := time.Since(l.Acquired); since < 0 || since > waitFor {
		t.Errorf("lease acquired %v ago", since)
	}
}

// TestEngineIfchRefusesConfigure is scenario 2: ifch's refusal is an
// event with ifch's code as its cause, not an exit.
func TestEngineIfchRefusesConfigure(t *testing.T) {
	h := newHarness(t, tConfig())
	h.ifch.respond = func(c ifch.Command) []byte {
		if _, ok := c.(*ifch.Configure); ok {
			return ifchReply(ifch.Reply{Code: ifch.ErrOutOfRange, Reason: "address: 192.0.2.50 not in 10.0.0.0/8"})
		}
		return ifchOK(c)
	}
	srv := newDHCPServer()
	srv.domain = "example.org" // no option 119: the domain is the search list
	h.start()
	_, _, _, conf := h.acquire(srv)
	if conf.Domain != "example.org" || !slices.Equal(conf.Search, []string{"example.org"}) {
		t.Errorf("domain %q, search %q: want the domain as the search list", conf.Domain, conf.Search)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Refused)), []event.Event{
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
		stateEv(client.StateSelecting, client.StateRequesting, netip.Prefix{}, "offer"),
		stateEv(client.StateRequesting, client.StateBound, tPrefix, "lease obtained"),
		{Kind: event.Refused, Addr: tPrefix, Cause: "out-of-range"},
	})
	// The lease is unusable here: released through a UDP socket on the
	// leased address, forgotten, and the client waits before it starts
	// over, instead of staying BOUND with nothing configured.
	udp := h.grant(client.SocketUDP)
	if udp.req.Addr != tAddr {
		t.Errorf("udp socket for %v, want the leased %v", udp.req.Addr, tAddr)
	}
	if err := udp.peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := udp.peer.Read(buf)
	if err != nil {
		t.Fatalf("no DHCPRELEASE of the refused lease: %v", err)
	}
	if rel := decodeRequest(t, buf[:n]); msgType(rel) != dhcp.Release || rel.CIAddr != tAddr {
		t.Errorf("sent %v for %v, want a DHCPRELEASE of %v", msgType(rel), rel.CIAddr, tAddr)
	}
	wantEvents(t, h.eventsUntil(func(e event.Event) bool { return e.Kind == event.State && e.To == client.StateInit }), []event.Event{
		stateEv(client.StateBound, client.StateInit, netip.Prefix{}, "configuration refused"),
	})
	h.running()
	if !strings.Contains(h.log.String(), "lease not configured") {
		t.Error("the refusal is not logged")
	}
	if b, err := os.ReadFile(filepath.Join(h.dir, LeaseFile)); err != nil || len(b) != 0 {
		t.Errorf("lease file of a refused lease: %q, %v; want it empty", b, err)
	}
	// Still alive: it obeys the next command.
	wantEvents(t, h.stop(), []event.Event{
		stateEv(client.StateInit, client.StateStopped, netip.Prefix{}, "stop requested"),
		exitingEv(event.ReasonStopped),
	})
}

// TestEngineLinkReady: when the supervisor saw the link up and running,
// the engine asks sockd for its socket and sends the DISCOVER without a
// round trip to ifch; ifch hears from it first at the configuration.
func TestEngineLinkReady(t *testing.T) {
	cfg := tConfig()
	cfg.LinkReady = true
	h := newHarness(t, cfg)
	srv := newDHCPServer()
	h.start()
	raw := h.grant(client.SocketRaw)
	disc := readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(disc) != dhcp.Discover {
		t.Fatalf("first message %v, want DHCPDISCOVER", msgType(disc))
	}
	send(t, raw.peer, srv.frame(t, disc, dhcp.Offer))
	send(t, raw.peer, srv.frame(t, readDHCP(t, raw.peer, netip.IPv4Unspecified()), dhcp.Ack))
	// The first ifch command is the configuration: no "up", no "carrier".
	h.wantIfch("configure eth0")
}

// TestEngineStopRelease is scenario 3 with ReleaseOnExit: a UDP socket on
// the leased address, a DHCPRELEASE through it, then deconfigure, and the
// lease file is gone.
func TestEngineStopRelease(t *testing.T) {
	cfg := tConfig()
	cfg.ReleaseOnExit = true
	h := newHarness(t, cfg)
	h.start()
	h.acquire(newDHCPServer())
	h.eventsUntil(isKind(event.Configured))
	waitFile(t, filepath.Join(h.dir, LeaseFile))

	h.ctl.cmds <- event.Stop
	udp := h.grant(client.SocketUDP)
	if udp.req.Addr != tAddr {
		t.Errorf("udp socket for %v, want the leased %v", udp.req.Addr, tAddr)
	}
	h.wantIfch("deconfigure eth0")
	// The DHCPRELEASE went out before the deconfigure: it is queued
	// already.
	if err := udp.peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := udp.peer.Read(buf)
	if err != nil {
		t.Fatalf("no DHCPRELEASE before the deconfigure: %v", err)
	}
	rel := decodeRequest(t, buf[:n])
	if msgType(rel) != dhcp.Release || rel.CIAddr != tAddr || optAddr(rel, dhcp.OptServerID) != tServer {
		t.Errorf("release: type %v ciaddr %v server %v, want DHCPRELEASE of %v to %v",
			msgType(rel), rel.CIAddr, optAddr(rel, dhcp.OptServerID), tAddr, tServer)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Exiting)), []event.Event{
		stateEv(client.StateBound, client.StateStopped, netip.Prefix{}, "stop requested"),
		exitingEv(event.ReasonStopped),
	})
	if code := h.wait(); code != exitcode.OK {
		t.Errorf("Run returned %d, want %d", code, exitcode.OK)
	}
	wantKinds(t, h, client.SocketRaw, client.SocketARP, client.SocketUDP)
	if b, err := os.ReadFile(filepath.Join(h.dir, LeaseFile)); err != nil || len(b) != 0 {
		t.Errorf("lease file after the release: %q, %v; want it empty", b, err)
	}
}

// TestEngineStopNoRelease is scenario 3 without ReleaseOnExit, stopped
// before any lease: no socket, no ifch command, a clean exit.
func TestEngineStopNoRelease(t *testing.T) {
	h := newHarness(t, tConfig())
	h.start()
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	raw := h.grant(client.SocketRaw)
	readDHCP(t, raw.peer, netip.IPv4Unspecified())
	wantEvents(t, h.stop(), []event.Event{
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
		stateEv(client.StateSelecting, client.StateStopped, netip.Prefix{}, "stop requested"),
		exitingEv(event.ReasonStopped),
	})
	wantKinds(t, h, client.SocketRaw)
	select {
	case c := <-h.ifch.cmds:
		t.Errorf("ifch got %q on stop", ifchText(c))
	default:
	}
}

// TestEngineIfchBroken is scenario 4 for ifch: a reply that breaks the
// grammar, or a closed channel, at any exchange, ends the engine.
func TestEngineIfchBroken(t *testing.T) {
	garbage := [][]byte{
		[]byte("garbage\n"),
		[]byte("ok"),
		[]byte("error no-such-code reason\n"),
		[]byte("ok carrier sideways\n"),
		[]byte(strings.Repeat("a", ifch.MaxMessageSize) + "\n"),
		nil, // close the channel
	}
	for _, at := range []string{"up", "carrier"} {
		for _, reply := range garbage {
			name := fmt.Sprintf("%s/%.20q", at, reply)
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, tConfig())
				h.ifch.respond = func(c ifch.Command) []byte {
					if strings.HasPrefix(ifchText(c), at+" ") {
						return reply
					}
					return ifchOK(c)
				}
				h.start()
				if code := h.wait(); code != exitcode.Failure {
					t.Errorf("Run returned %d, want %d", code, exitcode.Failure)
				}
				wantEvents(t, h.eventsUntil(isKind(event.Exiting)), []event.Event{exitingEv(event.ReasonPeerFailed)})
				wantKinds(t, h)
			})
		}
	}
	// A broken ifch at the configure ends a running engine, bound.
	for _, reply := range [][]byte{[]byte("ok carrier up\r\n"), nil} {
		t.Run(fmt.Sprintf("configure/%q", reply), func(t *testing.T) {
			h := newHarness(t, tConfig())
			h.ifch.respond = func(c ifch.Command) []byte {
				if _, ok := c.(*ifch.Configure); ok {
					return reply
				}
				return ifchOK(c)
			}
			h.start()
			h.wantIfch("up eth0")
			h.wantIfch("carrier eth0")
			raw := h.grant(client.SocketRaw)
			srv := newDHCPServer()
			send(t, raw.peer, srv.frame(t, readDHCP(t, raw.peer, netip.IPv4Unspecified()), dhcp.Offer))
			send(t, raw.peer, srv.frame(t, readDHCP(t, raw.peer, netip.IPv4Unspecified()), dhcp.Ack))
			h.wantIfch("configure eth0")
			if code := h.wait(); code != exitcode.Failure {
				t.Errorf("Run returned %d, want %d", code, exitcode.Failure)
			}
			wantEvents(t, h.eventsUntil(isKind(event.Exiting)), []event.Event{
				stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
				stateEv(client.StateSelecting, client.StateRequesting, netip.Prefix{}, "offer"),
				stateEv(client.StateRequesting, client.StateBound, tPrefix, "lease obtained"),
				exitingEv(event.ReasonPeerFailed),
			})
		})
	}
}

// TestEngineSupervisorBroken is scenario 4 for the supervisor: a failed
// Command ends the engine; so does a Report that fails (the engine cannot
// tell the supervisor, so it stops before acting on the network).
func TestEngineSupervisorBroken(t *testing.T) {
	t.Run("command", func(t *testing.T) {
		h := newHarness(t, tConfig())
		h.start()
		h.wantIfch("up eth0")
		h.wantIfch("carrier eth0")
		raw := h.grant(client.SocketRaw)
		readDHCP(t, raw.peer, netip.IPv4Unspecified())
		h.ctl.fail <- errors.New("malformed command")
		h.wantPeerFailure()
		if !strings.Contains(h.log.String(), "malformed command") {
			t.Error("the supervisor's error is not logged")
		}
	})
	t.Run("report", func(t *testing.T) {
		h := newHarness(t, tConfig())
		h.ctl.reportErr = errors.New("supervisor gone")
		h.start()
		if code := h.wait(); code != exitcode.Failure {
			t.Errorf("Run returned %d, want %d", code, exitcode.Failure)
		}
		// The first transition could not be reported: the engine stopped
		// before asking for its first socket.
		wantKinds(t, h)
		if !strings.Contains(h.log.String(), "supervisor gone") {
			t.Error("the failed report is not logged")
		}
	})
}

// TestEngineSavedLease is scenario 5: a saved, unexpired lease makes the
// engine confirm it with INIT-REBOOT: a broadcast DHCPREQUEST for the
// saved address without a server identifier, never a DHCPDISCOVER.
func TestEngineSavedLease(t *testing.T) {
	h := newHarness(t, tConfig())
	saved := &client.Lease{Addr: tPrefix, ServerID: tServer, Routers: []netip.Addr{tRouter}, DNS: tDNS,
		LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second,
		Acquired: time.Now().Add(-10 * time.Minute).Truncate(time.Second)}
	b, err := saved.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, LeaseFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	raw := h.grant(client.SocketRaw)
	req := readDHCP(t, raw.peer, netip.IPv4Unspecified())
	if msgType(req) != dhcp.Request {
		t.Fatalf("first message %v, want DHCPREQUEST", msgType(req))
	}
	if got := optAddr(req, dhcp.OptRequestedIP); got != tAddr {
		t.Errorf("requested address %v, want the saved %v", got, tAddr)
	}
	if req.Options.Has(dhcp.OptServerID) || (req.CIAddr.IsValid() && !req.CIAddr.IsUnspecified()) {
		t.Errorf("INIT-REBOOT request with server id %v, ciaddr %v: want neither", optAddr(req, dhcp.OptServerID), req.CIAddr)
	}
	wantEvents(t, h.eventsUntil(func(ev event.Event) bool { return ev.To == client.StateRebooting }), []event.Event{
		stateEv(client.StateInit, client.StateInitReboot, tPrefix, "saved lease"),
		stateEv(client.StateInitReboot, client.StateRebooting, tPrefix, "saved lease"),
	})

	send(t, raw.peer, newDHCPServer().frame(t, req, dhcp.Ack))
	h.grant(client.SocketARP)
	conf := h.wantIfch("configure eth0").(*ifch.Configure)
	if conf.Address != tPrefix || conf.Router != tRouter {
		t.Errorf("configure %+v", conf)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Configured)), []event.Event{
		stateEv(client.StateRebooting, client.StateBound, tPrefix, "lease obtained"),
		{Kind: event.Configured, Addr: tPrefix},
	})
	h.stop()
}

// TestEngineSockdRefuses is scenario 6: a refusal (an errno, no
// descriptor) is logged and survived.
func TestEngineSockdRefuses(t *testing.T) {
	h := newHarness(t, tConfig())
	h.sockd.answer = func(r sockd.Request) sockdAnswer { return sockdAnswer{errno: unix.EPERM} }
	h.start()
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	g := h.grant(client.SocketRaw)
	if g.peer != nil {
		t.Fatal("refused request granted a socket")
	}
	wantEvents(t, []event.Event{h.event()}, []event.Event{
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
	})
	wantEvents(t, h.stop(), []event.Event{
		stateEv(client.StateSelecting, client.StateStopped, netip.Prefix{}, "stop requested"),
		exitingEv(event.ReasonStopped),
	})
	log := h.log.String()
	if !strings.Contains(log, "sockd refused a dhcp-raw socket") || !strings.Contains(log, unix.EPERM.Error()) {
		t.Errorf("the refusal is not logged with its errno:\n%s", log)
	}
}

// TestEngineSockdMalformed is scenario 6: a reply that breaks the sockd
// protocol, or a channel that closes, ends the engine.
func TestEngineSockdMalformed(t *testing.T) {
	reply := func(r sockd.Reply) []byte {
		b, _ := r.MarshalBinary()
		return b
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"short", reply(sockd.Reply{Kind: client.SocketRaw})[:sockd.ReplySize-1]},
		{"long", append(reply(sockd.Reply{Kind: client.SocketRaw}), 0)},
		{"bad magic", append([]byte{'X'}, reply(sockd.Reply{Kind: client.SocketRaw})[1:]...)},
		{"padding", func() []byte { b := reply(sockd.Reply{Kind: client.SocketRaw}); b[2] = 1; return b }()},
		{"unknown kind", func() []byte { b := reply(sockd.Reply{Kind: client.SocketRaw}); b[1] = 9; return b }()},
		{"wrong kind", reply(sockd.Reply{Kind: client.SocketARP})},
		{"grant without descriptor", reply(sockd.Reply{Kind: client.SocketRaw})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tConfig())
			h.sockd.answer = func(sockd.Request) sockdAnswer { return sockdAnswer{raw: tc.raw} }
			h.start()
			h.wantPeerFailure()
			wantKinds(t, h, client.SocketRaw)
		})
	}
	t.Run("refusal with descriptor", func(t *testing.T) {
		h := newHarness(t, tConfig())
		h.sockd.answer = func(sockd.Request) sockdAnswer {
			f, err := os.Open(os.DevNull)
			if err != nil {
				panic(err)
			}
			return sockdAnswer{errno: unix.EPERM, file: f}
		}
		h.start()
		h.wantPeerFailure()
	})
	t.Run("closed at the request", func(t *testing.T) {
		h := newHarness(t, tConfig())
		h.sockd.answer = func(sockd.Request) sockdAnswer { return sockdAnswer{hangUp: true} }
		h.start()
		h.wantPeerFailure()
	})
}

// TestEngineSockdGone: a dead sockd is fatal. The send of the request
// fails with EPIPE, an errno wrapped in a transport error, which must not
// be taken for sockd's refusal (a bare errno in its reply).
func TestEngineSockdGone(t *testing.T) {
	h := newHarness(t, tConfig())
	h.sockd.conn.Close()
	h.start()
	h.wantPeerFailure()
}

// TestEngineCarrier: carrier down at start delays the DISCOVER until a
// link event says the carrier is back; removal of the interface ends the
// engine.
func TestEngineCarrier(t *testing.T) {
	h := newHarness(t, tConfig())
	h.ifch.respond = func(c ifch.Command) []byte {
		if _, ok := c.(*ifch.Carrier); ok {
			return ifchReply(ifch.Reply{Carrier: ifch.CarrierDown})
		}
		return ifchOK(c)
	}
	h.start()
	h.wantIfch("up eth0")
	h.wantIfch("carrier eth0")
	raw := h.grant(client.SocketRaw)
	wantEvents(t, []event.Event{h.event(), h.event()}, []event.Event{
		{Kind: event.Noted, Note: client.NoteCarrierDown},
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
	})
	// Nothing goes out without carrier. The engine has handled the start
	// (its events are out), so a frame would already be queued.
	if err := raw.peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := raw.peer.Read(make([]byte, 2048)); err == nil {
		t.Fatalf("engine sent %d bytes without carrier", n)
	}
	link := func(ev linkev.Event) {
		t.Helper()
		if _, err := h.linksPeer.Write(linkev.AppendMessage(nil, int32(tIfindex), ev)); err != nil {
			t.Fatal(err)
		}
	}
	// An event about another interface changes nothing; ours brings the
	// DISCOVER.
	if _, err := h.linksPeer.Write(linkev.AppendMessage(nil, int32(tIfindex+1), linkev.Event{Removed: true})); err != nil {
		t.Fatal(err)
	}
	link(linkev.Event{Up: true, Carrier: true})
	if disc := readDHCP(t, raw.peer, netip.IPv4Unspecified()); msgType(disc) != dhcp.Discover {
		t.Fatalf("after carrier: %v, want DHCPDISCOVER", msgType(disc))
	}
	wantEvents(t, []event.Event{h.event()}, []event.Event{{Kind: event.Noted, Note: client.NoteCarrierUp}})

	link(linkev.Event{Removed: true})
	if code := h.wait(); code != exitcode.Failure {
		t.Errorf("Run returned %d, want %d", code, exitcode.Failure)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Exiting)), []event.Event{exitingEv(event.ReasonInterfaceRemoved)})
}

// TestConfigureFor: the lease's options as interface state.
func TestConfigureFor(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	name := func(s string) dhcp.DomainName {
		n, err := dhcp.ParseDomainName(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	host, err := dhcp.ParseHostname("client1")
	if err != nil {
		t.Fatal(err)
	}
	base := func() *client.Lease {
		return &client.Lease{Addr: tPrefix, ServerID: tServer, LeaseTime: time.Hour,
			T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second, Acquired: now.Add(-10 * time.Minute)}
	}
	r1 := dhcp.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.253")}
	rdef := dhcp.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.252")}
	for _, tc := range []struct {
		name  string
		lease func(l *client.Lease)
		want  ifch.Configure
	}{
		{"bare", func(*client.Lease) {},
			ifch.Configure{Address: tPrefix, Valid: 3000, Preferred: 3000}},
		{"everything", func(l *client.Lease) {
			l.Broadcast = netip.MustParseAddr("192.0.2.255")
			l.Routers = []netip.Addr{tRouter, netip.MustParseAddr("192.0.2.253")}
			l.DNS = tDNS
			l.Domain = name("example.org")
			l.Search = []dhcp.DomainName{name("a.example.org"), name("b.example.org")}
			l.MTU = 1400
			l.Hostname = host
			l.NTP = []netip.Addr{tServer}
		}, ifch.Configure{Address: tPrefix, Broadcast: netip.MustParseAddr("192.0.2.255"), Router: tRouter,
			DNS: tDNS, Domain: "example.org", Search: []string{"a.example.org", "b.example.org"}, MTU: 1400,
			Hostname: "client1", Valid: 3000, Preferred: 3000}},
		{"router only without classless routes", func(l *client.Lease) {
			l.Routers = []netip.Addr{tRouter}
		}, ifch.Configure{Address: tPrefix, Router: tRouter, Valid: 3000, Preferred: 3000}},
		{"classless routes and no default: no router (RFC 3442)", func(l *client.Lease) {
			l.Routes = []dhcp.Route{r1}
		}, ifch.Configure{Address: tPrefix, Routes: []ifch.Route{{Dst: r1.Dst, Gateway: r1.Gateway}}, Valid: 3000, Preferred: 3000}},
		{"classless default route: in the routes, not the router", func(l *client.Lease) {
			l.Routes = []dhcp.Route{r1, rdef}
		}, ifch.Configure{Address: tPrefix, Routes: []ifch.Route{{Dst: r1.Dst, Gateway: r1.Gateway}, {Dst: rdef.Dst, Gateway: rdef.Gateway}},
			Valid: 3000, Preferred: 3000}},
		{"a route that covers the on-link server is dropped", func(l *client.Lease) {
			l.Routes = []dhcp.Route{r1, {Dst: netip.PrefixFrom(tServer, 32), Gateway: netip.MustParseAddr("192.0.2.66")}, rdef}
		}, ifch.Configure{Address: tPrefix, Routes: []ifch.Route{{Dst: r1.Dst, Gateway: r1.Gateway}, {Dst: rdef.Dst, Gateway: rdef.Gateway}},
			Valid: 3000, Preferred: 3000}},
		{"search list over domain", func(l *client.Lease) {
			l.Domain = name("example.org")
			l.Search = []dhcp.DomainName{name("example.net")}
		}, ifch.Configure{Address: tPrefix, Domain: "example.org", Search: []string{"example.net"}, Valid: 3000, Preferred: 3000}},
		{"domain as search list", func(l *client.Lease) {
			l.Domain = name("example.org")
		}, ifch.Configure{Address: tPrefix, Domain: "example.org", Search: []string{"example.org"}, Valid: 3000, Preferred: 3000}},
		{"remaining lease", func(l *client.Lease) {
			l.Acquired = now.Add(-59*time.Minute - 30*time.Second + 250*time.Millisecond)
		}, ifch.Configure{Address: tPrefix, Valid: 30, Preferred: 30}},
		{"expired: at least a second", func(l *client.Lease) {
			l.Acquired = now.Add(-2 * time.Hour)
		}, ifch.Configure{Address: tPrefix, Valid: 1, Preferred: 1}},
		{"infinite", func(l *client.Lease) {
			l.LeaseTime, l.T1, l.T2 = client.InfiniteLease, client.InfiniteLease, client.InfiniteLease
		}, ifch.Configure{Address: tPrefix, Valid: ifch.Forever, Preferred: ifch.Forever}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := base()
			tc.lease(l)
			if err := l.Validate(); err != nil {
				t.Fatalf("test lease: %v", err)
			}
			want := tc.want
			want.Interface = "eth0"
			got := ConfigureFor("eth0", l, now)
			if diff := cmp.Diff(&want, got, cmpAddrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// What the engine sends ifch must pass ifch's grammar.
			b, err := ifch.Marshal(got)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			back, err := ifch.Unmarshal(b)
			if err != nil {
				t.Fatalf("ifch rejects %q: %v", b, err)
			}
			if diff := cmp.Diff(got, back, cmpAddrs); diff != "" {
				t.Errorf("round trip (-sent +decoded):\n%s", diff)
			}
		})
	}
}

// ---- real sockets in a network namespace (root only) ----

// nsSockets makes UDP sockets inside a network namespace of its own, on a
// goroutine locked to a thread that entered it. The namespace holds two
// addresses on its loopback: the leased address and the server's, so
// that a unicast from one to the other stays inside it.
type nsSockets struct {
	reqs chan nsReq
	done chan struct{}
}

type nsReq struct {
	addr netip.AddrPort
	out  chan nsRes
}

type nsRes struct {
	f   *os.File
	err error
}

func newNSSockets(t *testing.T, addrs ...netip.Addr) *nsSockets {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	ns := &nsSockets{reqs: make(chan nsReq), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// Never unlocked: the thread is in the namespace, and exits with
		// this goroutine.
		runtime.LockOSThread()
		defer close(ns.done)
		if err := nsSetup(addrs); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for r := range ns.reqs {
			f, err := udpSocket(r.addr)
			r.out <- nsRes{f, err}
		}
	}()
	if err := <-ready; err != nil {
		t.Skipf("cannot set up a network namespace: %v", err)
	}
	t.Cleanup(func() {
		close(ns.reqs)
		<-ns.done
	})
	return ns
}

func nsSetup(addrs []netip.Addr) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	for i, a := range addrs {
		ifr, err := unix.NewIfreq(fmt.Sprintf("lo:%d", i+1))
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(a.AsSlice()); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
			return fmt.Errorf("address %v: %w", a, err)
		}
	}
	return nil
}

func udpSocket(ap netip.AddrPort) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind %v: %w", ap, err)
	}
	return os.NewFile(uintptr(fd), "udp "+ap.String()), nil
}

// udp returns a UDP socket bound to ap inside the namespace.
func (ns *nsSockets) udp(ap netip.AddrPort) (*os.File, error) {
	out := make(chan nsRes, 1)
	ns.reqs <- nsReq{ap, out}
	r := <-out
	return r.f, r.err
}

// nsServer is the DHCP server's socket, 192.0.2.1:67 in the namespace.
func nsServer(t *testing.T, ns *nsSockets) *net.UDPConn {
	t.Helper()
	f, err := ns.udp(netip.AddrPortFrom(tServer, 67))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// nsAnswer grants UDP requests with a real socket bound to the requested
// address, port 68, inside the namespace and connected to the requested
// server; everything else as usual.
func nsAnswer(ns *nsSockets) func(sockd.Request) sockdAnswer {
	return func(r sockd.Request) sockdAnswer {
		if r.Kind != client.SocketUDP {
			return sockdAnswer{}
		}
		f, err := ns.udp(netip.AddrPortFrom(r.Addr, 68))
		if err != nil {
			return sockdAnswer{errno: unix.EADDRNOTAVAIL}
		}
		// Connected to the server, as sockd does: a socket belongs to
		// the namespace it was made in, whichever thread connects it.
		if err := unix.Connect(int(f.Fd()), &unix.SockaddrInet4{Port: 67, Addr: r.Peer.As4()}); err != nil {
			f.Close()
			return sockdAnswer{errno: err.(unix.Errno)}
		}
		return sockdAnswer{file: f}
	}
}

func readUDP(t *testing.T, c *net.UDPConn) (*dhcp.Message, netip.AddrPort) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("server socket: %v", err)
	}
	return decodeRequest(t, buf[:n]), netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// TestEngineReleaseUnicastNetns is scenario 3 on real sockets: the
// DHCPRELEASE leaves from the leased address, port 68, to the server
// identifier, port 67.
func TestEngineReleaseUnicastNetns(t *testing.T) {
	ns := newNSSockets(t, tAddr, tServer)
	server := nsServer(t, ns)
	cfg := tConfig()
	cfg.ReleaseOnExit = true
	h := newHarness(t, cfg)
	h.sockd.answer = nsAnswer(ns)
	h.start()
	h.acquire(newDHCPServer())
	h.eventsUntil(isKind(event.Configured))

	h.ctl.cmds <- event.Stop
	rel, from := readUDP(t, server)
	if msgType(rel) != dhcp.Release || rel.CIAddr != tAddr {
		t.Errorf("got %v ciaddr %v, want DHCPRELEASE of %v", msgType(rel), rel.CIAddr, tAddr)
	}
	if want := netip.AddrPortFrom(tAddr, 68); from != want {
		t.Errorf("release from %v, want %v", from, want)
	}
	h.wantIfch("deconfigure eth0")
	if code := h.wait(); code != exitcode.OK {
		t.Errorf("Run returned %d, want %d", code, exitcode.OK)
	}
	wantKinds(t, h, client.SocketRaw, client.SocketARP, client.SocketUDP)
}

// TestEngineRenewNetns: the supervisor's renew command, on real sockets:
// RENEWING asks for the UDP socket on the leased address, unicasts the
// DHCPREQUEST to the server, takes the server's unicast DHCPACK and
// configures the renewed lease.
func TestEngineRenewNetns(t *testing.T) {
	ns := newNSSockets(t, tAddr, tServer)
	server := nsServer(t, ns)
	h := newHarness(t, tConfig())
	h.sockd.answer = nsAnswer(ns)
	h.start()
	srv := newDHCPServer()
	h.acquire(srv)
	h.eventsUntil(isKind(event.Configured))

	h.ctl.cmds <- event.Renew
	req, from := readUDP(t, server)
	if msgType(req) != dhcp.Request || req.CIAddr != tAddr || req.Options.Has(dhcp.OptServerID) || req.Options.Has(dhcp.OptRequestedIP) {
		t.Fatalf("renewal: %v ciaddr %v: want a RENEWING DHCPREQUEST (ciaddr, no options 50 and 54)", msgType(req), req.CIAddr)
	}
	if want := netip.AddrPortFrom(tAddr, 68); from != want {
		t.Errorf("renewal from %v, want %v", from, want)
	}
	srv.leaseSecs = 7200
	ack, err := srv.message(t, req, dhcp.Ack).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.WriteToUDPAddrPort(ack, from); err != nil {
		t.Fatal(err)
	}
	conf := h.wantIfch("configure eth0").(*ifch.Configure)
	if conf.Address != tPrefix || conf.Valid > 7200 || conf.Valid < 7200-5 {
		t.Errorf("renewed configure: address %v valid %v, want %v for the new 7200 s", conf.Address, conf.Valid, tPrefix)
	}
	wantEvents(t, h.eventsUntil(isKind(event.Configured)), []event.Event{
		stateEv(client.StateBound, client.StateRenewing, tPrefix, "renew requested"),
		stateEv(client.StateRenewing, client.StateBound, tPrefix, "renewed"),
		{Kind: event.Configured, Addr: tPrefix},
	})
	// One Leased event per move to BOUND: the bind and the renewal, the
	// second acquired no earlier than the first.
	if len(h.leased) != 2 {
		t.Fatalf("leased events %+v, want 2", h.leased)
	}
	for _, l := range h.leased {
		if l.Addr != tPrefix || l.Lease.Acquired <= 0 || l.Lease.T1 > l.Lease.T2 || l.Lease.T2 > l.Lease.Seconds {
			t.Errorf("leased event %+v", l)
		}
	}
	if h.leased[1].Lease.Acquired < h.leased[0].Lease.Acquired {
		t.Errorf("renewal acquired %d before the bind %d", h.leased[1].Lease.Acquired, h.leased[0].Lease.Acquired)
	}
	h.stop()
	r := h.sockd.requests()
	if len(r) < 3 || r[2].Kind != client.SocketUDP || r[2].Addr != tAddr {
		t.Errorf("sockd requests %+v: want the third a UDP socket on %v", r, tAddr)
	}
}

// wantPeerFailure checks that Run failed just after the client started
// to select, because a peer broke: the exit status and the events.
func (h *harness) wantPeerFailure() {
	h.t.Helper()
	if code := h.wait(); code != exitcode.Failure {
		h.t.Errorf("Run returned %d, want %d", code, exitcode.Failure)
	}
	wantEvents(h.t, h.eventsUntil(isKind(event.Exiting)), []event.Event{
		stateEv(client.StateInit, client.StateSelecting, netip.Prefix{}, "start"),
		exitingEv(event.ReasonPeerFailed),
	})
}
