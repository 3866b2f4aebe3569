package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mdlayher/socket"
	"github.com/ndhc-go/ndhc/dhcp"
	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/linkev"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/sandbox"
)

// engine is the role that speaks DHCP and ARP. It holds no capability and
// creates no socket: sockd hands it sockets, ifch changes the interface,
// and everything it reads from the network is parsed here, in the least
// privileged process. Its chroot is the state directory.
type engine struct {
	log   *slog.Logger
	cfg   *roleConfig
	ctl   *net.UnixConn
	ifch  *net.UnixConn
	sockd *sockd.Client
	links *socket.Conn
	mac   dhcp.MAC

	client *dhcpclient.Client
	events chan event

	// Open sockets and the generation counter that tells a reader's
	// late events from the current socket's.
	socks   dhcpclient.Sockets
	raw     *socket.Conn
	udp     *socket.Conn
	arp     *socket.Conn
	gen     [4]int
	sendBuf []byte
	// heldAddr is the leased address before the client call whose
	// actions are being carried out; see socketAddr.
	heldAddr netip.Addr
}

type eventKind int

const (
	evDHCP eventKind = iota
	evARP
	evLink
	evCommand
	evSockErr
	evFatal
)

type event struct {
	kind eventKind
	sock int // index into gen for socket events
	gen  int
	msg  *dhcp.Message
	arp  dhcp.ARP
	link linkev.Event
	cmd  byte
	err  error
}

// Indexes of gen.
const (
	sockRaw = iota
	sockUDP
	sockARP
	sockLinks
)

func leaseFile(iface string) string { return "/" + iface + ".lease" }

func runEngine(in *sandbox.Inherited, cfg *roleConfig, log *slog.Logger) int {
	take := func(name string) *os.File {
		f, err := in.File(name)
		if err != nil {
			log.Error("missing descriptor", "err", err)
			os.Exit(exitFailure)
		}
		return f
	}
	sockdF, ifchF, linksF := take("sockd"), take("ifch"), take("links")
	sockdConn, err1 := sandbox.UnixConn(sockdF)
	ifchConn, err2 := sandbox.UnixConn(ifchF)
	links, err3 := socket.FileConn(linksF, "netlink")
	linksF.Close()
	if err := errors.Join(err1, err2, err3); err != nil {
		log.Error("wrapping descriptors", "err", err)
		return exitFailure
	}
	rep, err := in.Enter(sandbox.Options{Log: log})
	if err != nil {
		log.Error("entering sandbox", "err", err)
		return exitSandbox
	}
	if err := sendJSON(in.Ctl, []byte{ctlReady}, rep); err != nil {
		return exitFailure
	}
	releaseStartupMemory()
	hw, err := net.ParseMAC(cfg.MAC)
	if err != nil || len(hw) != 6 {
		log.Error("bad hardware address from the supervisor", "mac", cfg.MAC)
		return exitFailure
	}
	e := &engine{
		log: log, cfg: cfg, ctl: in.Ctl, ifch: ifchConn, links: links,
		sockd:  sockd.NewClient(sockdConn, cfg.Ifindex),
		mac:    dhcp.MAC(hw),
		events: make(chan event, 64),
	}
	return e.run()
}

func (e *engine) run() int {
	settings, err := e.settings()
	if err != nil {
		e.log.Error("client settings", "err", err)
		return exitUsage
	}
	saved := e.loadLease()
	e.client = dhcpclient.New(settings, saved, randUint32)

	// Bring the link up and learn the carrier before starting.
	if err := e.ifchDo(&ifch.Up{Interface: e.cfg.Interface}); err != nil {
		e.log.Error("setting the interface up", "err", err)
		return exitFailure
	}
	carrier, err := e.ifchCarrier()
	if err != nil {
		e.log.Error("carrier query", "err", err)
		return exitFailure
	}
	go e.readCommands()
	go e.readLinks()
	now := time.Now()
	var acts []dhcpclient.Action
	if !carrier {
		acts = append(acts, e.client.HandleLink(now, false)...)
	}
	acts = append(acts, e.client.Start(now)...)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if code, done := e.execute(acts); done {
			return code
		}
		timer.Reset(untilDeadline(e.client.Deadline()))
		select {
		case ev := <-e.events:
			acts = e.call(func() []dhcpclient.Action { return e.handle(ev) })
			if ev.kind == evFatal {
				e.log.Error("engine cannot continue", "err", ev.err)
				return exitFailure
			}
		case <-timer.C:
			acts = e.call(func() []dhcpclient.Action { return e.client.HandleTimer(time.Now()) })
		}
	}
}

// call makes one call into the client and returns its actions, noting
// first the lease the client holds: the actions of a call may need the
// lease the call dropped (see socketAddr).
func (e *engine) call(f func() []dhcpclient.Action) []dhcpclient.Action {
	e.heldAddr = e.leaseAddr()
	return f()
}

func untilDeadline(d time.Time) time.Duration {
	if d.IsZero() {
		return time.Hour
	}
	return max(time.Until(d), 0)
}

func (e *engine) handle(ev event) []dhcpclient.Action {
	now := time.Now()
	switch ev.kind {
	case evDHCP:
		if ev.gen != e.gen[ev.sock] {
			return nil // from a socket closed since
		}
		return e.client.HandlePacket(now, ev.msg)
	case evSockErr:
		if ev.gen != e.gen[ev.sock] {
			return nil // closed on purpose
		}
		return []dhcpclient.Action{dhcpclient.Exit{Code: exitFailure, Reason: "socket failed: " + ev.err.Error()}}
	case evARP:
		if ev.gen != e.gen[sockARP] {
			return nil
		}
		return e.client.HandleARP(now, ev.arp)
	case evLink:
		if ev.link.Removed {
			return []dhcpclient.Action{dhcpclient.Exit{Code: exitFailure, Reason: "interface removed"}}
		}
		return e.client.HandleLink(now, ev.link.Carrier && ev.link.Up)
	case evCommand:
		switch ev.cmd {
		case ctlRenew:
			return e.client.Renew(now)
		case ctlRelease:
			return e.client.Release(now)
		case ctlStop:
			return e.client.Stop(now, e.cfg.Engine.ReleaseExit)
		}
	}
	return nil
}

// execute carries out the client's actions in order. It returns done when
// the engine must exit.
func (e *engine) execute(acts []dhcpclient.Action) (int, bool) {
	for _, a := range acts {
		var err error
		switch a := a.(type) {
		case dhcpclient.SendDHCP:
			err = e.sendDHCP(a)
		case dhcpclient.SendARP:
			err = e.sendARP(a.Frame)
		case dhcpclient.Sockets:
			err = e.setSockets(a)
		case dhcpclient.Configure:
			err = e.configure(a.Lease)
		case dhcpclient.Deconfigure:
			err = e.ifchDo(&ifch.Deconfigure{Interface: e.cfg.Interface})
		case dhcpclient.SaveLease:
			err = e.saveLease(a.Lease)
		case dhcpclient.ForgetLease:
			if rerr := os.Remove(leaseFile(e.cfg.Interface)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = rerr
			}
		case dhcpclient.Log:
			e.log.LogAttrs(context.Background(), a.Level, a.Msg, a.Attrs...)
		case dhcpclient.Exit:
			lvl := slog.LevelInfo
			if a.Code != 0 {
				lvl = slog.LevelError
			}
			e.log.Log(context.Background(), lvl, "engine exiting", "reason", a.Reason, "code", a.Code)
			return a.Code, true
		default:
			e.log.Error("unknown client action", "type", fmt.Sprintf("%T", a))
			return exitFailure, true
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				e.log.Error("engine cannot continue", "err", err)
				return exitFailure, true
			}
			// A lease that ifch refuses (its address ranges, prefix or MTU
			// rules) leaves the interface unconfigured: say so loudly. The
			// client goes on and tries again at the next renewal.
			lvl := slog.LevelWarn
			if _, ok := a.(dhcpclient.Configure); ok {
				lvl = slog.LevelError
			}
			e.log.Log(context.Background(), lvl, "action failed", "action", fmt.Sprintf("%T", a), "err", err)
		}
	}
	return 0, false
}

// fatalError marks failures of a peer role (sockd, ifch) after which the
// engine must exit rather than guess.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

func (e *engine) settings() (dhcpclient.Settings, error) {
	c := e.cfg.Engine
	s := dhcpclient.Settings{MAC: e.mac, DefendRelentless: c.Relentless, OneShot: c.OneShot}
	switch c.ARPMode {
	case "fast":
		s.ARP = dhcpclient.ARPFast
	case "rfc5227":
		s.ARP = dhcpclient.ARPRFC5227
	case "off":
		s.ARP = dhcpclient.ARPOff
	}
	s.ARPTimings.FastWait = c.ARPWait
	if c.Hostname != "" {
		h, err := dhcp.ParseHostname(c.Hostname)
		if err != nil {
			return s, err
		}
		s.Hostname = h
	}
	if c.VendorClass != "" {
		s.VendorClass = []byte(c.VendorClass)
	}
	if c.Request != "" {
		a, err := netip.ParseAddr(c.Request)
		if err != nil {
			return s, err
		}
		s.RequestAddr = a
	}
	id, err := e.clientID(c.ClientID)
	if err != nil {
		return s, err
	}
	s.ClientID = id
	return s, s.Validate()
}

// clientID builds option 61: RFC 4361 (type 255, IAID, DUID) from the
// state directory, the MAC, or a string.
func (e *engine) clientID(mode string) (dhcp.ClientID, error) {
	switch {
	case mode == "mac":
		return dhcp.NewClientIDMAC(e.mac), nil
	case strings.HasPrefix(mode, "string:"):
		return dhcp.ParseClientID(append([]byte{0}, mode[len("string:"):]...))
	}
	duid, err := loadOrCreate("/duid", func() ([]byte, error) {
		// DUID-UUID (RFC 6355): stable for as long as the state directory
		// is, and independent of any interface.
		b := make([]byte, 18)
		binary.BigEndian.PutUint16(b, 4)
		if _, err := rand.Read(b[2:]); err != nil {
			return nil, err
		}
		b[2+6] = b[2+6]&0x0f | 0x40 // UUID version 4
		b[2+8] = b[2+8]&0x3f | 0x80 // RFC 4122 variant
		return b, nil
	}, func(b []byte) bool { return len(b) >= 3 && len(b) <= 130 })
	if err != nil {
		return dhcp.ClientID{}, fmt.Errorf("duid: %w", err)
	}
	iaidB, err := loadOrCreate("/"+e.cfg.Interface+".iaid", func() ([]byte, error) {
		b := make([]byte, 4)
		_, err := rand.Read(b)
		return b, err
	}, func(b []byte) bool { return len(b) == 4 })
	if err != nil {
		return dhcp.ClientID{}, fmt.Errorf("iaid: %w", err)
	}
	return dhcp.NewClientIDDUID(binary.BigEndian.Uint32(iaidB), duid)
}

// loadOrCreate reads a small binary file from the state directory, or
// creates it atomically with make when it does not exist. A file that fails
// valid is an error, never silently replaced.
func loadOrCreate(path string, make func() ([]byte, error), valid func([]byte) bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if !valid(b) {
			return nil, fmt.Errorf("%s: malformed (%d bytes); remove it to create a new one", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if b, err = make(); err != nil {
		return nil, err
	}
	return b, writeAtomic(path, b)
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return binary.BigEndian.Uint32(b[:])
}

func (e *engine) loadLease() *dhcpclient.Lease {
	b, err := os.ReadFile(leaseFile(e.cfg.Interface))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.log.Warn("cannot read the saved lease", "err", err)
		return nil
	}
	l, err := dhcpclient.ParseLease(b)
	if err != nil {
		e.log.Warn("ignoring a malformed saved lease", "err", err)
		return nil
	}
	return l
}

// saveLease writes the lease atomically: a temporary file, fsync, rename,
// fsync of the directory.
func (e *engine) saveLease(l *dhcpclient.Lease) error {
	b, err := l.MarshalJSON()
	if err != nil {
		return err
	}
	return writeAtomic(leaseFile(e.cfg.Interface), append(b, '\n'))
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open("/")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
