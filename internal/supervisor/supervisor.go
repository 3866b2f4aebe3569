//go:build linux

// Package supervisor is ndhc's supervisor: started as root, it resolves
// everything that needs root (the directories, the channels, the link
// event socket, a connection to a standalone ifchd), starts the roles of
// package roles as a sandbox.Group, enters its own sandbox, and then only
// relays signals to the engine as commands, reports the engine's events,
// and ends every role when one of them ends.
package supervisor

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/control"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/linkev"
	"github.com/ndhc-go/ndhc/internal/logging"
	"github.com/ndhc-go/ndhc/internal/notify"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Config is one client instance, fully resolved and validated by the
// command line's parser.
type Config struct {
	Log *slog.Logger
	// Stderr is where Log writes, and where the roles' lines go (for the
	// journal format, a logging.JournalWriter).
	Stderr   io.Writer
	Settings *roles.Settings
	// Degrade lists the sandbox layers every role may start without.
	Degrade []string
	// Ifchd is the socket of a standalone ifchd to use instead of a
	// spawned ifch role; empty: spawn one.
	Ifchd string
	// Events receives the event records; nil: none.
	Events *event.Stream
	// OneShotTimeout, in one-shot mode, is how long the client may try
	// before the supervisor stops it and exits with exitcode.NoLease;
	// zero: for ever.
	OneShotTimeout time.Duration
	// Notify is the service manager's notification socket ($NOTIFY_SOCKET,
	// connected before the sandbox); nil: none.
	Notify *notify.Notifier
	// ReadyFile (--ready-fd) gets one newline, and is closed, once the
	// first lease is configured: s6's notification-fd; nil: none.
	ReadyFile *os.File
	// ControlSocket is the path of the control socket (internal/control);
	// empty: none. ControlGroup is the group whose members may query it.
	ControlSocket string
	ControlGroup  uint32

	Engine   config.Engine
	Sockd    config.Sockd
	Ifch     config.Ifch
	Hostname config.Hostname
	// DNS is the dns role's configuration (spawned when Ifch.DNS is
	// resolved), with the decision --dns led to.
	DNS config.DNS
	// Hook is the hook role's configuration; an empty Path: no hook.
	Hook config.Hook
}

// signals the supervisor relays, and the engine commands they become.
var commands = map[os.Signal]event.Command{
	unix.SIGUSR1: event.Renew,
	unix.SIGUSR2: event.Release,
	unix.SIGTERM: event.Stop,
	unix.SIGINT:  event.Stop,
	unix.SIGHUP:  event.Stop,
}

type supervisor struct {
	*Config
	log    *slog.Logger
	group  *sandbox.Group
	engine *sandbox.Member
	// hook is the hook role, nil without --hook; hookState maps the
	// engine's events to its events.
	hook      *sandbox.Member
	hookState hookState
	// leasePath is the engine's lease file, which the hook role reads.
	leasePath string
	out       *output
	// ctl serves the control socket; nil: none.
	ctl *control.Server
	// isReady: READY=1 (and the ready fd's newline) went out.
	isReady, stopping bool
}

// Run runs the instance and returns the supervisor's exit status.
func Run(c *Config) int {
	s := &supervisor{Config: c, log: c.Log, out: newOutput(c.Stderr, c.Engine.Log.Format == logging.JSON, c.Engine.Log.Level <= slog.LevelDebug)}
	code := s.run()
	if code == exitcode.OK && s.Engine.OneShot {
		// A one-shot client that exits 0 was bound: a manager waiting
		// for readiness (Type=notify) sees it before the exit.
		s.becomeReady("bound; one-shot, exiting")
	}
	if !s.stopping {
		s.Notify.Stopping(fmt.Sprintf("exiting with status %d", code))
	}
	c.Events.Write(event.Record{Event: "done", Code: &code})
	if c.ReadyFile != nil && !s.isReady {
		c.ReadyFile.Close()
	}
	return code
}

// becomeReady tells the service manager, once, that the client is up:
// its first lease is configured.
func (s *supervisor) becomeReady(status string) {
	if s.isReady {
		s.Notify.Status(status)
		return
	}
	s.isReady = true
	if err := s.Notify.Ready(status); err != nil {
		s.log.Warn("notifying the service manager", "err", err)
	}
	if s.ReadyFile != nil {
		if _, err := s.ReadyFile.Write([]byte{'\n'}); err != nil {
			s.log.Warn("writing to the ready descriptor", "err", err)
		}
		s.ReadyFile.Close()
	}
}

// notifyState sets the manager's status line from a state change.
func (s *supervisor) notifyState(e event.Event) {
	var st string
	switch e.To {
	case client.StateBound:
		st = "bound to " + e.Addr.String()
	case client.StateRenewing:
		st = "renewing " + e.Addr.String()
	case client.StateRebinding:
		st = "rebinding " + e.Addr.String()
	case client.StateReleased:
		st = "released the lease"
	case client.StateStopped:
		st = "stopped"
	default:
		st = "no lease (" + e.To.String() + ")"
	}
	s.Notify.Status(st)
}

func (s *supervisor) run() int {
	// Every role, and the supervisor, would fail to enter its sandbox.
	if err := sandbox.CheckBuild(); err != nil {
		s.log.Error("this build cannot sandbox its roles", "err", err)
		return exitcode.Sandbox
	}
	sandbox.Prewarm() // meanwhile, the users, the state directory, the sockets
	// What its policy says of the Go runtime (one P) applies from now,
	// not only once it enters its sandbox after starting the roles.
	if p, err := s.Settings.Policy(roles.Supervisor); err == nil {
		sandbox.ApplyRuntime(&p)
	}
	if err := s.checkHook(); err != nil {
		s.log.Error("refusing the hook", "err", err)
		return exitcode.Usage
	}
	inst, err := s.Settings.PrepareInstance(s.Engine.Link.Name)
	if err != nil {
		s.log.Error("preparing the state directory", "err", err)
		return exitcode.Usage
	}
	// The lock is held, through this descriptor, until the process ends.
	defer inst.Close()
	s.Engine.DUID = inst.DUID
	if s.DNS.Mode != "" {
		s.log.Info("DNS", "mode", s.DNS.Mode, "why", s.DNS.Why)
	}
	// Under the interface's lock: a stale socket is a dead instance's.
	if s.ControlSocket != "" {
		if s.ctl, err = s.listenControl(); err != nil {
			s.log.Error("control socket", "err", err)
			return exitcode.Usage
		}
		defer s.ctl.Close()
	}
	s.leasePath = filepath.Join(inst.Dir, engine.LeaseFile)
	specs, err := s.specs()
	if err != nil {
		s.log.Error("preparing the roles", "err", err)
		return exitcode.Failure
	}
	var sigs []os.Signal
	for sig := range commands {
		sigs = append(sigs, sig)
	}
	// Opened as root, before the sandbox: where the kernel's log can be
	// read, a role that seccomp kills is named with its system call.
	kills, err := sandbox.OpenKillLog()
	if err != nil {
		s.log.Debug("seccomp kills will not be named", "err", err)
	}
	defer kills.Close()
	s.group = sandbox.NewGroup(sandbox.GroupOptions{Degrade: s.Degrade, Log: s.log, Signals: sigs, Output: s.out.line, Kills: kills})
	defer s.group.Close()
	p, err := s.Settings.Policy(roles.Supervisor)
	if err != nil {
		s.log.Error("policy", "err", err)
		return exitcode.Usage
	}
	// The supervisor enters its own sandbox as soon as every role is
	// forked, while they start; the engine, held, begins DHCP only once
	// that is done, so no byte from the network is read while any
	// process of the client is unsandboxed.
	var rep *sandbox.Report
	var enterErr error
	members, err := s.group.StartThen(sandbox.ExitFatal, func() error {
		rep, enterErr = sandbox.Enter(p, sandbox.Options{Degrade: s.Degrade, Log: s.log})
		return enterErr
	}, specs...)
	if enterErr != nil {
		s.log.Error("entering sandbox", "err", enterErr)
		return exitcode.Sandbox
	}
	if err != nil {
		s.log.Error("starting the roles", "err", err)
		var re *sandbox.ReadyError
		if errors.As(err, &re) {
			r := event.Record{Event: "exit", Role: re.Role, Pid: re.Pid, Status: re.Exit}
			c := s.out.crashOf(re.Role)
			if c != nil {
				r.Crash = c.First
			}
			s.Events.Write(r)
			if c != nil {
				return s.crashed(re.Role, re.Exit, c)
			}
		}
		return exitcode.Sandbox
	}
	for _, m := range members {
		s.ready(m.Role, m.Pid(), m.Report)
		if m.Role == roles.Engine {
			s.engine = m
		}
		if m.Role == roles.Hook {
			s.hook, s.hookState.releaseOnExit = m, s.Engine.ReleaseOnExit
		}
	}
	s.ready(roles.Supervisor, os.Getpid(), rep)
	if s.ctl != nil {
		go s.ctl.Serve()
	}
	s.Notify.Status("roles sandboxed; no lease yet")
	roles.ContainmentSupervisor(p)
	sandbox.TrimWhenQuiet(sandbox.DefaultTrimQuiet)
	return s.watch()
}

// specs builds every role's spawn spec (its policy, the descriptors it is
// handed and its configuration) in the order the roles are forked: sockd
// and the engine, then the others in table order.
func (s *supervisor) specs() ([]sandbox.Spec, error) {
	files := map[string][]sandbox.File{}
	cfgs := map[string]any{roles.Engine: &s.Engine, roles.Sockd: &s.Sockd, roles.Ifch: &s.Ifch, roles.Hostname: &s.Hostname, roles.DNS: &s.DNS, roles.Hook: &s.Hook}
	closeAll := func() {
		for _, fs := range files {
			for _, f := range fs {
				f.File.Close()
			}
		}
	}
	pair := func(a, b string) error {
		x, y, err := sandbox.SeqpacketPair()
		if err != nil {
			return err
		}
		files[a] = append(files[a], sandbox.File{Name: b, File: x})
		files[b] = append(files[b], sandbox.File{Name: a, File: y})
		return nil
	}
	if err := pair(roles.Engine, roles.Sockd); err != nil {
		return nil, err
	}
	if s.Ifchd == "" {
		if err := pair(roles.Engine, roles.Ifch); err != nil {
			closeAll()
			return nil, err
		}
		if s.Ifch.SetHostname {
			// ifch asks the hostname role, the only one with
			// CAP_SYS_ADMIN, over a channel of their own.
			if err := pair(roles.Ifch, roles.Hostname); err != nil {
				closeAll()
				return nil, err
			}
		}
		if s.Ifch.DNS == config.DNSResolved {
			// ifch hands each link's DNS data to the dns role, the
			// only one connected to the system bus.
			if err := pair(roles.Ifch, roles.DNS); err != nil {
				closeAll()
				return nil, err
			}
		}
	} else {
		// A standalone ifchd checks who connects with SO_PEERCRED: the
		// connection is made with the engine's ids.
		f, err := s.connectIfchd()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("connecting to ifchd at %s: %w", s.Ifchd, err)
		}
		files[roles.Engine] = append(files[roles.Engine], sandbox.File{Name: roles.Ifch, File: f})
	}
	// The engine may not create sockets: its link-event socket is made
	// here.
	links, err := linkEventSocket(s.Engine.Link.Index)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("netlink link events: %w", err)
	}
	files[roles.Engine] = append(files[roles.Engine], sandbox.File{Name: "links", File: links})
	// Looked at only now that the event socket exists, so that no change
	// falls between the look and the events.
	// Not with a standalone ifchd: the engine's first exchange with it
	// is also where ifchd accepts or refuses this client, and that must
	// be known before a lease is sought.
	s.Engine.LinkReady = s.Ifchd == "" && linkReady(s.Engine.Link.Index)
	if s.Hook.Path != "" {
		// The hook role reads the engine's lease at each event through
		// this descriptor; it reaches no other file of the state
		// directory.
		lf, err := s.openLease()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("lease file for the hook: %w", err)
		}
		files[roles.Hook] = []sandbox.File{{Name: "lease", File: lf}}
	}

	var specs []sandbox.Spec
	for _, r := range roles.All {
		fs, ok := files[r.Name]
		if !ok {
			continue // the supervisor itself, and roles not enabled
		}
		p, err := s.Settings.Policy(r.Name)
		if err != nil {
			closeAll()
			return nil, err
		}
		fs = append(fs, roles.ContainmentFiles(r.Name)...)
		// The engine, the one role that reads the network, waits for the
		// supervisor's go (see run).
		specs = append(specs, sandbox.Spec{Role: r.Name, Policy: p, Files: fs, Config: cfgs[r.Name], Hold: r.Name == roles.Engine})
	}
	// Forks happen one at a time, in this order: sockd and the engine,
	// which the first DHCPDISCOVER waits for, before the roles first
	// needed when a lease is bound.
	rank := func(role string) int {
		switch role {
		case roles.Sockd:
			return 0
		case roles.Engine:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(specs, func(a, b sandbox.Spec) int { return cmp.Compare(rank(a.Role), rank(b.Role)) })
	return specs, nil
}

// ready logs and reports a role that entered its sandbox.
func (s *supervisor) ready(role string, pid int, rep *sandbox.Report) {
	st := rep.Status
	s.log.Info("role sandboxed", "child", role, "pid", pid, "uid", st.Uid[1], "caps", sandbox.FormatCaps(st.CapEff),
		"no_new_privs", st.NoNewPrivs, "seccomp", st.Seccomp, "landlock_abi", rep.LandlockABI,
		"syscalls_bpf", rep.SeccompInstructions, "degraded", rep.Degraded)
	s.Events.Write(event.Record{Event: "ready", Role: role, Pid: pid, Report: rep})
	s.ctl.Update(func(cs *control.State) { cs.Roles = append(cs.Roles, control.RoleOf(role, pid, rep)) })
}

// watch relays signals and events until the group ends.
func (s *supervisor) watch() int {
	// When the engine finishes (one-shot, a stop), sockd and ifch see its
	// channels close and exit too, possibly first: a role's clean exit
	// waits this long for the engine's before it counts as unexpected.
	const engineGrace = 2 * time.Second
	var early *sandbox.Event
	var grace, giveUp <-chan time.Time
	if s.Engine.OneShot && s.OneShotTimeout > 0 {
		giveUp = time.After(s.OneShotTimeout)
	}
	gaveUp := false
	for {
		var ev sandbox.Event
		select {
		case ev = <-s.group.Events():
			sandbox.Busy()
		case <-grace:
			return s.died(*early)
		case cmd := <-s.ctl.Commands():
			if err := s.controlCommand(cmd); err != nil {
				s.log.Error("relaying a control command to the engine", "err", err)
				return exitcode.RoleDied
			}
			continue
		case <-giveUp:
			// The engine stops as on SIGTERM; it has no lease to release.
			s.log.Error("no lease within the one-shot timeout; stopping", "timeout", s.OneShotTimeout)
			if err := s.engine.Send([]byte{byte(event.Stop)}); err != nil {
				return exitcode.RoleDied
			}
			giveUp, gaveUp = nil, true
			continue
		}
		switch {
		case ev.Signal != nil:
			cmd := commands[ev.Signal]
			s.log.Info("signal", "signal", ev.Signal.String())
			s.Events.Write(event.Record{Event: "signal", Signal: unix.SignalName(ev.Signal.(unix.Signal))})
			if cmd == event.Stop && !s.stopping {
				s.stopping = true
				s.Notify.Stopping("stopping on " + unix.SignalName(ev.Signal.(unix.Signal)))
			}
			if err := s.engine.Send([]byte{byte(cmd)}); err != nil {
				s.log.Error("relaying a signal to the engine", "err", err)
				return exitcode.RoleDied
			}
		case ev.Msg != nil:
			if err := s.engineEvent(ev); err != nil {
				s.log.Error("stopping every role", "child", ev.Member.Role, "err", err)
				return exitcode.RoleDied
			}
		case ev.Exited:
			r := event.Record{Event: "exit", Role: ev.Member.Role, Pid: ev.Member.Pid(), Status: describe(ev)}
			if c := s.out.crash(ev.Member); c != nil {
				r.Crash = c.First
				s.Events.Write(r)
				return s.crashed(ev.Member.Role, r.Status, c)
			}
			s.Events.Write(r)
			if ev.Member == s.engine {
				if ev.Err == nil && gaveUp {
					s.finishHook()
					return exitcode.NoLease
				}
				if ev.Err == nil {
					s.log.Info("engine finished")
					s.awaitDNS(dnsSettle)
					s.finishHook()
					return exitcode.OK
				}
				return s.died(ev)
			}
			if ev.Err != nil {
				return s.died(ev)
			}
			if early == nil {
				early, grace = &ev, time.After(engineGrace)
			}
		}
	}
}

// crashed reports a role whose Go runtime crashed, in one line. A role
// that could not create a thread gets its own exit status: its user's
// thread budget was spent, which the operator can act on.
func (s *supervisor) crashed(role, status string, c *Crash) int {
	if c.Threads {
		s.log.Error("role could not create a thread: its user's RLIMIT_NPROC budget, which counts every thread of every process of that user, is spent; stopping every role",
			"child", role, "status", status, "crash", c.First)
		return exitcode.Threads
	}
	s.log.Error("role crashed; stopping every role", "child", role, "status", status, "crash", c.First)
	return exitcode.RoleDied
}

// describe says how a role ended, with the system call seccomp killed it
// for when the kernel logged it.
func describe(ev sandbox.Event) string {
	d := sandbox.DescribeExit(ev.Err)
	if ev.Syscall != "" {
		d += " (" + ev.Syscall + ")"
	}
	return d
}

func (s *supervisor) died(ev sandbox.Event) int {
	s.log.Error("role exited; stopping every role", "child", ev.Member.Role, "pid", ev.Member.Pid(), "status", describe(ev))
	s.recordExits(time.Second)
	return exitcode.RoleDied
}

// recordExits ends the other roles and records how each ended, waiting up
// to d. The first exit is not always the cause: a role whose peer was
// killed can notice the broken channel and exit before the supervisor
// sees its peer's death, so every exit goes on the record.
func (s *supervisor) recordExits(d time.Duration) {
	s.group.Close()
	deadline := time.After(d)
	for len(s.group.Members()) > 0 {
		select {
		case ev := <-s.group.Events():
			if !ev.Exited {
				continue
			}
			r := event.Record{Event: "exit", Role: ev.Member.Role, Pid: ev.Member.Pid(), Status: describe(ev)}
			if c := s.out.crash(ev.Member); c != nil {
				r.Crash = c.First
			}
			// The log says it too: which role ended first is a race
			// (a killed sockd, or the engine that saw it go), and the
			// operator reading the log needs every one of them.
			s.log.Warn("role exited", "child", r.Role, "pid", r.Pid, "status", r.Status, "crash", r.Crash)
			s.Events.Write(r)
		case <-deadline:
			return
		}
	}
}

// engineEvent decodes and reports one message from a role. Only the
// engine sends any, and only well-formed events: anything else is a
// broken or hostile role.
func (s *supervisor) engineEvent(ev sandbox.Event) error {
	if ev.Member != s.engine {
		return fmt.Errorf("unexpected message from %s", ev.Member.Role)
	}
	var e event.Event
	if err := e.UnmarshalBinary(ev.Msg); err != nil {
		return err
	}
	s.ctl.Update(func(cs *control.State) { cs.Apply(e, time.Now()) })
	if e.Kind == event.Leased {
		// For the control socket's live state only: the stream's
		// records say nothing new about it (the state records carry
		// the address).
		return nil
	}
	r := event.Record{Event: e.Kind.String()}
	if e.Addr.IsValid() {
		r.Address = e.Addr.String()
	}
	switch e.Kind {
	case event.State:
		r.From, r.To, r.Cause = e.From.String(), e.To.String(), e.Cause
		s.notifyState(e)
	case event.Configured:
		s.becomeReady("bound to " + e.Addr.String())
	case event.Refused:
		r.Cause = e.Cause
	case event.Exiting:
		r.Reason = e.Reason.String()
	case event.Noted:
		r.Event = e.Note.String()
		if e.Addr.IsValid() {
			r.Address = e.Addr.Addr().String()
		}
		if e.MAC != (dhcp.MAC{}) {
			r.MAC = e.MAC.String()
		}
	}
	s.Events.Write(r)
	s.hookEvent(e)
	return nil
}

// restoreThreadIDs sets this thread's effective ids back to root. A thread
// left with other credentials would make every later all-thread syscall
// (the supervisor's own sandbox) fail, so failing here ends the process.
func restoreThreadIDs() {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
		panic("ndhc: cannot restore the thread's uid: " + e.Error())
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
		panic("ndhc: cannot restore the thread's gid: " + e.Error())
	}
}

// connectIfchd connects to ifchd's SOCK_SEQPACKET socket from a thread
// whose effective uid and gid are the engine's: the kernel records the
// connecting thread's credentials for SO_PEERCRED, so ifchd sees (and
// authorises) the engine, not root. The thread gets root's ids back and is
// discarded afterwards (locked, never unlocked), so no other goroutine runs
// with the engine's.
func (s *supervisor) connectIfchd() (*os.File, error) {
	p, err := s.Settings.Policy(roles.Engine)
	if err != nil {
		return nil, err
	}
	uid, gid, err := sandbox.ResolveIDs(p.User, p.Group)
	if err != nil {
		return nil, err
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A locked goroutine that exits takes its thread with it, except
		// the main thread, which the runtime keeps parked: so the thread's
		// credentials are restored (below) as well as discarded.
		runtime.LockOSThread()
		// Per-thread credential changes (raw syscalls, not Go's all-thread
		// wrappers); the real and saved ids stay root.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(gid), ^uintptr(0)); e != 0 {
			done <- result{err: fmt.Errorf("setresgid: %w", e)}
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
			restoreThreadIDs()
			done <- result{err: fmt.Errorf("setresuid: %w", e)}
			return
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			if err = unix.Connect(fd, &unix.SockaddrUnix{Name: s.Ifchd}); err != nil {
				unix.Close(fd)
			}
		}
		// Back to euid 0: the kernel copies the permitted set back into
		// the effective set.
		restoreThreadIDs()
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{f: os.NewFile(uintptr(fd), "ifchd")}
	}()
	r := <-done
	return r.f, r.err
}

// linkEventSocket opens a NETLINK_ROUTE socket subscribed to link events,
// for the engine, which may not create sockets. A locked filter passes
// only the notifications about interface ifindex: the engine can send a
// dump request on the socket, but reads nothing of the host's other
// interfaces, addresses, routes or neighbours.
// linkReady reports whether link ifindex is up and running (IFF_UP and
// IFF_RUNNING: it has carrier), with one RTM_GETLINK for that link alone.
// Any failure is "not known ready": the engine then asks ifch.
func linkReady(ifindex int) bool {
	l, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return false
	}
	f := l.Attrs().RawFlags
	return f&unix.IFF_UP != 0 && f&unix.IFF_RUNNING != 0
}

func linkEventSocket(ifindex int) (*os.File, error) {
	prog, err := linkev.Filter(int32(ifindex), binary.NativeEndian)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attaching the link filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking the link filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "netlink-links"), nil
}

// dnsSettle bounds how long a clean stop waits for the dns role: its bus
// calls time out after dnsrole.CallTimeout each.
const dnsSettle = 10 * time.Second

// awaitDNS, on a clean stop with a dns role, waits up to d for it to exit
// on its own: it sees ifch's channel close once the engine is done, and
// first gives the links it configured back to systemd-resolved, which
// closing its control channel now would cut short. Every exit seen is
// recorded.
func (s *supervisor) awaitDNS(d time.Duration) {
	alive := func() bool {
		for _, m := range s.group.Members() {
			if m.Role == roles.DNS {
				return true
			}
		}
		return false
	}
	deadline := time.After(d)
	for alive() {
		select {
		case ev := <-s.group.Events():
			if ev.Exited {
				s.Events.Write(event.Record{Event: "exit", Role: ev.Member.Role, Pid: ev.Member.Pid(), Status: describe(ev)})
			}
		case <-deadline:
			s.log.Warn("the dns role did not finish giving the links back to systemd-resolved; stopping it")
			return
		}
	}
}
