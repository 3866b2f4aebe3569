package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// Supervisor exit codes, beyond exitOK/exitFailure/exitUsage.
const (
	exitRoleDied = 3 // a role exited unexpectedly; the service manager restarts
	exitSandbox  = 4 // a sandbox could not be entered
)

// runClient is `ndhc -i IFACE`: the supervisor. It resolves everything
// that needs root, spawns the roles, enters its own sandbox and then only
// relays signals and watches its children.
func runClient(args []string) int {
	c := newClientFlags()
	if err := c.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "ndhc: %v\n", err)
		return exitUsage
	}
	level, _ := parseLevel(c.logLevel)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("role", "supervisor", "iface", c.iface)
	if os.Geteuid() != 0 {
		log.Error("ndhc must be started as root: it creates the sandboxes of its roles, which then drop root")
		return exitUsage
	}
	ifi, err := net.InterfaceByName(c.iface)
	if err != nil {
		log.Error("no such interface", "err", err)
		return exitUsage
	}
	if len(ifi.HardwareAddr) != 6 {
		log.Error("not an Ethernet interface", "hwaddr", ifi.HardwareAddr.String())
		return exitUsage
	}
	if err := c.roles.prepareDirs(); err != nil {
		log.Error("preparing directories", "err", err)
		return exitUsage
	}
	degrade, _ := c.roles.degradeList()
	cfg := c.roleConfigFor(ifi)
	sup := &supervisor{log: log, cfg: cfg, settings: c.roles, degrade: degrade, ifchd: c.ifchd}
	return sup.run()
}

type supervisor struct {
	log      *slog.Logger
	cfg      roleConfig
	settings *roleSettings
	degrade  []string
	ifchd    string
	children []*sandbox.Child
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
	p, err := s.settings.policy("engine")
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
			if err = unix.Connect(fd, &unix.SockaddrUnix{Name: s.ifchd}); err != nil {
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

func (s *supervisor) run() int {
	// engine <-> sockd and engine <-> ifch channels, and the engine's
	// netlink socket for link events (it may not create sockets itself).
	engSockd, sockdEng, err := sandbox.SeqpacketPair()
	if err != nil {
		s.log.Error("socketpair", "err", err)
		return exitFailure
	}
	// The engine's ifch channel: a socketpair to a spawned ifch, or a
	// connection to a standalone ifchd made with the engine's uid, which is
	// what ifchd checks with SO_PEERCRED.
	var engIfch, ifchEng *os.File
	if s.ifchd == "" {
		if engIfch, ifchEng, err = sandbox.SeqpacketPair(); err != nil {
			s.log.Error("socketpair", "err", err)
			return exitFailure
		}
	} else {
		if engIfch, err = s.connectIfchd(); err != nil {
			s.log.Error("connecting to ifchd", "socket", s.ifchd, "err", err)
			return exitFailure
		}
	}
	links, err := linkEventSocket()
	if err != nil {
		s.log.Error("netlink link events", "err", err)
		return exitFailure
	}
	type step struct {
		role  string
		files []sandbox.File
	}
	var plan []step
	if ifchEng != nil {
		ifchFiles := []sandbox.File{{Name: "engine", File: ifchEng}}
		if s.cfg.Ifch.SetHostname {
			// ifch asks the hostname role, the only one with
			// CAP_SYS_ADMIN, over a channel of their own.
			hostIfch, ifchHost, err := sandbox.SeqpacketPair()
			if err != nil {
				s.log.Error("socketpair", "err", err)
				return exitFailure
			}
			plan = append(plan, step{"hostname", []sandbox.File{{Name: "ifch", File: hostIfch}}})
			ifchFiles = append(ifchFiles, sandbox.File{Name: "hostname", File: ifchHost})
		}
		plan = append(plan, step{"ifch", ifchFiles})
	}
	plan = append(plan,
		step{"sockd", []sandbox.File{{Name: "engine", File: sockdEng}}},
		step{"engine", []sandbox.File{{Name: "sockd", File: engSockd}, {Name: "ifch", File: engIfch}, {Name: "links", File: links}}},
	)
	defer s.killAll()
	// Spawn every role first and collect their ready notices after: the
	// roles start (exec, Go runtime, sandbox) in parallel.
	for _, step := range plan {
		p, err := s.settings.policy(step.role)
		if err != nil {
			s.log.Error("policy", "child", step.role, "err", err)
			return exitUsage
		}
		child, err := sandbox.Spawn(sandbox.Spec{Role: step.role, Policy: p, Files: step.files, Degrade: s.degrade, Config: s.cfg})
		for _, f := range step.files {
			f.File.Close()
		}
		if err != nil {
			s.log.Error("spawn", "child", step.role, "err", err)
			return exitFailure
		}
		s.children = append(s.children, child)
	}
	for _, child := range s.children {
		child.Ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
		rep, err := recvReady(child.Ctl)
		if err != nil {
			select {
			case <-child.Done():
				s.log.Error("role failed to start", "child", child.Role, "exit", describeExit(child.Err()))
			case <-time.After(time.Second):
				s.log.Error("role sent no ready notice", "child", child.Role, "err", err)
			}
			return exitSandbox
		}
		child.Ctl.SetReadDeadline(time.Time{})
		s.logReady(child.Role, child.Pid(), rep)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	p, err := s.settings.policy("supervisor")
	if err != nil {
		s.log.Error("policy", "role", "supervisor", "err", err)
		return exitUsage
	}
	rep, err := sandbox.Enter(p, sandbox.Options{Degrade: s.degrade, Log: s.log})
	if err != nil {
		s.log.Error("entering sandbox", "err", err)
		return exitSandbox
	}
	s.logReady("supervisor", os.Getpid(), rep)
	releaseStartupMemory()
	return s.watch(sigs)
}

func (s *supervisor) logReady(role string, pid int, rep *sandbox.Report) {
	st := rep.Status
	s.log.Info("role sandboxed", "child", role, "pid", pid, "uid", st.Uid[1], "caps", sandbox.FormatCaps(st.CapEff),
		"no_new_privs", st.NoNewPrivs, "seccomp", st.Seccomp, "landlock_abi", rep.LandlockABI,
		"syscalls_bpf", rep.SeccompInstructions, "degraded", rep.Degraded)
}

// watch relays signals to the engine and returns when a role exits.
func (s *supervisor) watch(sigs chan os.Signal) int {
	engine := s.children[len(s.children)-1]
	exited := make(chan *sandbox.Child, len(s.children))
	for _, c := range s.children {
		go func() {
			<-c.Done()
			exited <- c
		}()
	}
	for {
		select {
		case sig := <-sigs:
			cmd, ok := map[os.Signal]byte{unix.SIGUSR1: ctlRenew, unix.SIGUSR2: ctlRelease, unix.SIGTERM: ctlStop, unix.SIGINT: ctlStop}[sig]
			if !ok {
				continue
			}
			s.log.Info("signal", "signal", sig.String())
			if err := sandbox.Send(engine.Ctl, []byte{cmd}); err != nil {
				s.log.Error("relaying signal to the engine", "err", err)
				return exitRoleDied
			}
		case c := <-exited:
			// When the engine finishes (one-shot, SIGTERM), sockd and ifch
			// see its channels close and exit too, possibly first: give the
			// engine a moment before calling an exit unexpected.
			if c != engine && c.Err() == nil {
				select {
				case <-engine.Done():
					c = engine
				case <-time.After(2 * time.Second):
				}
			}
			if c == engine && c.Err() == nil {
				s.log.Info("engine finished")
				return exitOK
			}
			s.log.Error("role exited; stopping every role", "child", c.Role, "pid", c.Pid(), "status", describeExit(c.Err()))
			return exitRoleDied
		}
	}
}

// killAll ends the children that still run: closing their control
// channels makes each exit, and their parent-death signal covers the rest.
func (s *supervisor) killAll() {
	for _, c := range s.children {
		c.Ctl.Close()
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee interface{ Sys() any }
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if ws.Signal() == syscall.SIGSYS {
				return "killed by SIGSYS: a syscall outside its seccomp allowlist"
			}
			return "killed by " + unix.SignalName(ws.Signal())
		}
	}
	return err.Error()
}

// linkEventSocket opens a NETLINK_ROUTE socket subscribed to link events,
// for the engine, which may not create sockets.
func linkEventSocket() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "netlink-links"), nil
}
