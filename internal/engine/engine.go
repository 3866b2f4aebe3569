// Package engine is the ndhc role that speaks DHCP and ARP. It holds no
// capability and creates no socket: sockd hands it sockets, ifch changes
// the interface, and everything it reads from the network is parsed here,
// in the least privileged process. Its chroot is the state directory.
//
// The package is the engine's logic given its descriptors: it does not
// enter a sandbox, spawn anything or touch the system beyond the
// descriptors in [Ends] and the files of its state directory, so it runs
// the same in the sandboxed role and in tests with fake sockd and ifch
// ends. A dependency test keeps it that way: no netlink library, no
// applier, no os/exec, no policies.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/socket"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/linkev"
	"github.com/ndhc-go/ndhc/internal/sockd"
)

// Control is the engine's channel to the supervisor.
type Control interface {
	// Command blocks until the next command. An error (the supervisor
	// went away, a malformed command) ends the engine.
	Command() (event.Command, error)
	// Report sends one event.
	Report(event.Event) error
}

// Ends are the descriptors the engine works with, all opened by others.
type Ends struct {
	// Sockd is the channel to the socket broker.
	Sockd *net.UnixConn
	// Ifch is the channel to ifch (or a standalone ifchd).
	Ifch *net.UnixConn
	// Links is a NETLINK_ROUTE socket subscribed to link events.
	Links *socket.Conn
	// Control is the supervisor.
	Control Control
	// StateDir is where the interface's lease and IAID live: "/" in the
	// role, whose chroot is its own directory in the state directory.
	StateDir string
}

// Engine runs one DHCP client on one interface.
type Engine struct {
	log  *slog.Logger
	cfg  *config.Engine
	ends Ends
	st   stateDir

	sockd  *sockd.Client
	client *client.Client
	events chan engineEvent

	// The open sockets, by kind, and a generation per kind that tells a
	// reader's late events from the current socket's.
	socks [client.NumSockets]*socket.Conn
	gen   [client.NumSockets]int
	// sockAddr is the address the bound sockets use, sockServer the
	// server the UDP socket is connected to.
	sockAddr   netip.Addr
	sockServer netip.Addr
	arpBuf     []byte
	// pending is an exit the engine itself decided (a failed socket, a
	// removed interface), carried out before any further action.
	pending *exitFor
	// refused is set when ifch refused the lease of a Configure action.
	refused bool
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

// engineEvent is what the readers hand the main loop.
type engineEvent struct {
	kind eventKind
	sock client.Socket
	gen  int
	msg  *dhcp.Message
	arp  dhcp.ARP
	link linkev.Event
	cmd  event.Command
	err  error
}

// New returns an engine for cfg over ends.
func New(cfg *config.Engine, ends Ends, log *slog.Logger) *Engine {
	return &Engine{
		log: log, cfg: cfg, ends: ends,
		st:     stateDir{dir: ends.StateDir},
		sockd:  sockd.NewClient(ends.Sockd, cfg.Link.Index),
		events: make(chan engineEvent, 64),
	}
}

// Run runs the client until it stops, fails or loses a peer, and returns
// the process's exit status.
func (e *Engine) Run() int {
	settings, err := e.settings()
	if err != nil {
		e.log.Error("client settings", "err", err)
		e.report(event.Event{Kind: event.Exiting, Reason: event.ReasonClientFailed})
		return exitcode.Failure
	}
	e.client = client.New(settings, e.st.loadLease(e.log), randUint32)

	// Bring the link up and learn the carrier before starting, unless
	// the supervisor saw it up and running: then the first DISCOVER does
	// not wait for two round trips to ifch, which may still be starting.
	carrier := e.cfg.LinkReady
	if !carrier {
		if err := e.ifchDo(&ifch.Up{Interface: e.cfg.Link.Name}); err != nil {
			e.log.Error("setting the interface up", "err", err)
			e.report(event.Event{Kind: event.Exiting, Reason: event.ReasonPeerFailed})
			return exitcode.Failure
		}
		if carrier, err = e.ifchCarrier(); err != nil {
			e.log.Error("carrier query", "err", err)
			e.report(event.Event{Kind: event.Exiting, Reason: event.ReasonPeerFailed})
			return exitcode.Failure
		}
	}
	go e.readCommands()
	go e.readLinks()
	now := time.Now()
	var acts []client.Action
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
			if ev.kind == evFatal {
				e.log.Error("engine cannot continue", "err", ev.err)
				e.report(event.Event{Kind: event.Exiting, Reason: event.ReasonPeerFailed})
				return exitcode.Failure
			}
			acts = e.handle(ev)
		case <-timer.C:
			acts = e.client.HandleTimer(time.Now())
		}
	}
}

func untilDeadline(d time.Time) time.Duration {
	if d.IsZero() {
		return time.Hour
	}
	return max(time.Until(d), 0)
}

// exitFor is an Exit action from the engine itself, with the reason the
// supervisor is told.
type exitFor struct {
	reason event.Reason
	err    error
}

func (e *Engine) handle(ev engineEvent) []client.Action {
	now := time.Now()
	switch ev.kind {
	case evDHCP:
		// The client copies what it keeps of a message: once handled, it
		// goes back for the next one the sockets receive.
		defer messages.Put(ev.msg)
		if ev.gen != e.gen[ev.sock] {
			return nil // from a socket closed since
		}
		return e.client.HandlePacket(now, ev.msg)
	case evSockErr:
		if ev.gen != e.gen[ev.sock] {
			return nil // closed on purpose
		}
		return e.fail(exitFor{event.ReasonSocketFailed, fmt.Errorf("%s socket failed: %w", ev.sock, ev.err)})
	case evARP:
		if ev.gen != e.gen[ev.sock] {
			return nil
		}
		return e.client.HandleARP(now, ev.arp)
	case evLink:
		if ev.link.Removed {
			return e.fail(exitFor{event.ReasonInterfaceRemoved, errors.New("interface removed")})
		}
		return e.client.HandleLink(now, ev.link.Carrier && ev.link.Up)
	case evCommand:
		switch ev.cmd {
		case event.Renew:
			return e.client.Renew(now)
		case event.Release:
			return e.client.Release(now)
		case event.Rebind:
			return e.client.Rebind(now)
		case event.Stop:
			return e.client.Stop(now, e.cfg.ReleaseOnExit)
		}
	}
	return nil
}

// fail ends the engine after the client's own exit path is skipped: the
// reason reaches the supervisor, the error the log.
func (e *Engine) fail(x exitFor) []client.Action {
	e.pending = &x
	return nil
}

// execute carries out the client's actions in order. It returns done when
// the engine must exit.
func (e *Engine) execute(acts []client.Action) (int, bool) {
	if x := e.pending; x != nil {
		e.log.Error("engine exiting", "reason", x.reason.String(), "err", x.err)
		e.report(event.Event{Kind: event.Exiting, Reason: x.reason})
		return exitcode.Failure, true
	}
	for _, a := range acts {
		var err error
		switch a := a.(type) {
		case client.SendDHCP:
			err = e.sendDHCP(a)
		case client.SendARP:
			err = e.sendARP(a.Frame)
		case client.Sockets:
			err = e.setSockets(a)
		case client.Configure:
			err = e.configure(a.Lease)
		case client.Deconfigure:
			err = e.ifchDo(&ifch.Deconfigure{Interface: e.cfg.Link.Name})
		case client.SaveLease:
			err = e.st.saveLease(a.Lease)
		case client.ForgetLease:
			err = e.st.forgetLease()
		case client.Log:
			e.log.LogAttrs(context.Background(), a.Level, a.Msg, a.Attrs...)
		case client.Transition:
			err = e.report(event.Event{Kind: event.State, From: a.From, To: a.To, Addr: a.Addr, Cause: a.Cause})
			if l := e.client.Lease(); err == nil && a.To == client.StateBound && l != nil && l.Addr.Addr().Is4() {
				// The timers of the lease bound or renewed, for the
				// supervisor's live state (the control socket).
				err = e.report(event.Event{Kind: event.Leased, Addr: l.Addr, Lease: event.NewLeaseInfo(l)})
			}
		case client.Note:
			ev := event.Event{Kind: event.Noted, Note: a.Kind, MAC: a.MAC}
			if a.Addr.IsValid() {
				ev.Addr = netip.PrefixFrom(a.Addr, 32)
			}
			err = e.report(ev)
		case client.Exit:
			return e.exit(a), true
		default:
			e.log.Error("unknown client action", "type", fmt.Sprintf("%T", a))
			return exitcode.Failure, true
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				e.log.Error("engine cannot continue", "err", err)
				e.report(event.Event{Kind: event.Exiting, Reason: event.ReasonPeerFailed})
				return exitcode.Failure, true
			}
			e.log.Warn("action failed", "action", fmt.Sprintf("%T", a), "err", err)
		}
	}
	if e.refused {
		// The interface does not have the lease: the client gives it up
		// and tries again later, rather than stay BOUND with nothing.
		e.refused = false
		return e.execute(e.client.Refused(time.Now()))
	}
	return 0, false
}

// exit turns the client's Exit into the engine's status and tells the
// supervisor why.
func (e *Engine) exit(a client.Exit) int {
	ev := event.Event{Kind: event.Exiting, Reason: event.ReasonStopped}
	code := exitcode.OK
	switch a.Why {
	case client.ExitOneShot:
		ev.Reason = event.ReasonOneShot
		e.log.Info("engine exiting", "reason", a.Why.String())
	case client.ExitFailed:
		ev.Reason, code = event.ReasonClientFailed, exitcode.Failure
		e.log.Error("engine exiting", "reason", a.Why.String(), "err", a.Err)
	default:
		e.log.Info("engine exiting", "reason", a.Why.String())
	}
	e.report(ev)
	return code
}

// report sends an event to the supervisor. A supervisor that cannot be
// told is gone: the caller's next read of commands ends the engine.
func (e *Engine) report(ev event.Event) error {
	if err := e.ends.Control.Report(ev); err != nil {
		return &fatalError{fmt.Errorf("reporting to the supervisor: %w", err)}
	}
	return nil
}

// fatalError marks failures of a peer role (sockd, ifch, the supervisor)
// after which the engine must exit rather than guess.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

func (e *Engine) readCommands() {
	for {
		cmd, err := e.ends.Control.Command()
		if err != nil {
			e.events <- engineEvent{kind: evFatal, err: fmt.Errorf("supervisor: %w", err)}
			return
		}
		e.events <- engineEvent{kind: evCommand, cmd: cmd}
	}
}

func (e *Engine) readLinks() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := e.ends.Links.Recvfrom(context.Background(), buf, 0)
		if err != nil {
			e.events <- engineEvent{kind: evFatal, err: fmt.Errorf("link events: %w", err)}
			return
		}
		evs, err := linkev.Parse(buf[:n], int32(e.cfg.Link.Index))
		if err != nil {
			e.log.Warn("malformed link event", "err", err)
			continue
		}
		for _, ev := range evs {
			e.events <- engineEvent{kind: evLink, link: ev}
		}
	}
}
