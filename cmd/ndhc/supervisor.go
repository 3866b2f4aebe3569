package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
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
	if c.ifchd != "" {
		log.Error("--ifchd is not supported yet: ndhc spawns its own ifch")
		return exitUsage
	}
	if err := c.roles.prepareDirs(); err != nil {
		log.Error("preparing directories", "err", err)
		return exitUsage
	}
	degrade, _ := c.roles.degradeList()
	cfg := c.roleConfigFor(ifi)
	sup := &supervisor{log: log, cfg: cfg, settings: c.roles, degrade: degrade}
	return sup.run()
}

type supervisor struct {
	log      *slog.Logger
	cfg      roleConfig
	settings *roleSettings
	degrade  []string
	children []*sandbox.Child
}

func (s *supervisor) run() int {
	// engine <-> sockd and engine <-> ifch channels, and the engine's
	// netlink socket for link events (it may not create sockets itself).
	engSockd, sockdEng, err := sandbox.SeqpacketPair()
	if err != nil {
		s.log.Error("socketpair", "err", err)
		return exitFailure
	}
	engIfch, ifchEng, err := sandbox.SeqpacketPair()
	if err != nil {
		s.log.Error("socketpair", "err", err)
		return exitFailure
	}
	links, err := linkEventSocket()
	if err != nil {
		s.log.Error("netlink link events", "err", err)
		return exitFailure
	}
	plan := []struct {
		role  string
		files []sandbox.File
	}{
		{"ifch", []sandbox.File{{Name: "engine", File: ifchEng}}},
		{"sockd", []sandbox.File{{Name: "engine", File: sockdEng}}},
		{"engine", []sandbox.File{{Name: "sockd", File: engSockd}, {Name: "ifch", File: engIfch}, {Name: "links", File: links}}},
	}
	defer s.killAll()
	// Spawn every role first and collect their ready notices after: the
	// roles start (exec, Go runtime, sandbox) in parallel.
	for _, step := range plan {
		p, err := s.settings.policy(step.role)
		if err != nil {
			s.log.Error("policy", "role", step.role, "err", err)
			return exitUsage
		}
		child, err := sandbox.Spawn(step.role, p, step.files...)
		for _, f := range step.files {
			f.File.Close()
		}
		if err != nil {
			s.log.Error("spawn", "role", step.role, "err", err)
			return exitFailure
		}
		s.children = append(s.children, child)
		if err := sendJSON(child.Ctl, nil, s.cfg); err != nil {
			s.log.Error("configuring role", "role", step.role, "err", err)
			return exitFailure
		}
	}
	for _, child := range s.children {
		child.Ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
		rep, err := recvReady(child.Ctl)
		if err != nil {
			select {
			case <-child.Done():
				s.log.Error("role failed to start", "role", child.Role, "exit", describeExit(child.Err()))
			case <-time.After(time.Second):
				s.log.Error("role sent no ready notice", "role", child.Role, "err", err)
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
			return "killed by " + ws.Signal().String()
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
