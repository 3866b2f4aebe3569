package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// runRole runs a role this binary was re-executed as. It never returns.
func runRole(role string) {
	if role == probe.Role {
		probe.Child(auditActions())
	}
	in, err := sandbox.Inherit()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", role, err)
		os.Exit(exitFailure)
	}
	cfg := new(roleConfig)
	if err := in.Config(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", role, err)
		os.Exit(exitFailure)
	}
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("role", role, "iface", cfg.Interface)
	var code int
	switch role {
	case "engine":
		code = runEngine(in, cfg, log)
	case "sockd":
		code = runSockd(in, cfg, log)
	case "ifch":
		code = runIfch(in, cfg, log)
	case "hostname":
		code = runHostname(in, log)
	default:
		log.Error("unknown role")
		code = exitUsage
	}
	os.Exit(code)
}

// ready enters the role's sandbox and tells the supervisor.
func ready(in *sandbox.Inherited, log *slog.Logger) bool {
	rep, err := in.Enter(sandbox.Options{Log: log})
	if err != nil {
		log.Error("entering sandbox", "err", err)
		return false
	}
	if sendJSON(in.Ctl, []byte{ctlReady}, rep) != nil {
		return false
	}
	releaseStartupMemory()
	return true
}

// releaseStartupMemory returns to the kernel the heap that start-up used
// (configuration, policy, sandbox set-up) and that a long-running role will
// not need again.
func releaseStartupMemory() { debug.FreeOSMemory() }

// watchParent exits the role when the supervisor goes away or sends
// anything: only the engine takes commands.
func watchParent(in *sandbox.Inherited, log *slog.Logger) {
	go func() {
		_, err := sandbox.RecvUpTo(in.Ctl, 1)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			log.Info("supervisor gone; exiting")
			os.Exit(exitOK)
		}
		log.Error("unexpected control message", "err", err)
		os.Exit(exitFailure)
	}()
}

// engineChannel wraps the descriptor of the role's channel to the engine.
func engineChannel(in *sandbox.Inherited) (*net.UnixConn, error) {
	f, err := in.File("engine")
	if err != nil {
		return nil, err
	}
	return sandbox.UnixConn(f)
}

func runSockd(in *sandbox.Inherited, cfg *roleConfig, log *slog.Logger) int {
	conn, err := engineChannel(in)
	if err != nil {
		log.Error("engine channel", "err", err)
		return exitFailure
	}
	hw, err := net.ParseMAC(cfg.MAC)
	if err != nil || len(hw) != 6 {
		log.Error("bad hardware address", "mac", cfg.MAC)
		return exitFailure
	}
	ifi := sockd.Interface{Index: cfg.Ifindex, Name: cfg.Interface, MAC: dhcp.MAC(hw)}
	if !ready(in, log) {
		return exitSandbox
	}
	watchParent(in, log)
	if err := sockd.Serve(conn, ifi, log); err != nil {
		log.Error("engine broke the socket protocol; exiting", "err", err)
		return exitFailure
	}
	log.Info("engine closed its channel; exiting")
	return exitOK
}

func runIfch(in *sandbox.Inherited, cfg *roleConfig, log *slog.Logger) int {
	conn, err := engineChannel(in)
	if err != nil {
		log.Error("engine channel", "err", err)
		return exitFailure
	}
	// Everything ifch touches is opened now, as root, before the sandbox:
	// one netlink handle and the resolv.conf descriptor.
	k, err := apply.OpenNetlink()
	if err != nil {
		log.Error("netlink", "err", err)
		return exitFailure
	}
	// The applier names the interface in its own lines.
	acfg := apply.Config{Metric: cfg.Ifch.RouteMetric, Log: slog.New(log.Handler()).With("role", "ifch")}
	if cfg.Ifch.ResolvConf != "" {
		r, err := apply.OpenResolvConf(cfg.Ifch.ResolvConf)
		if err != nil {
			log.Error("resolv.conf", "err", err)
			return exitFailure
		}
		acfg.Resolv = r
	}
	if cfg.Ifch.SetHostname {
		f, err := in.File("hostname")
		if err != nil {
			log.Error("no hostname channel", "err", err)
			return exitFailure
		}
		hc, err := sandbox.UnixConn(f)
		if err != nil {
			log.Error("hostname channel", "err", err)
			return exitFailure
		}
		acfg.Hostname = &hostnameClient{conn: hc}
	}
	pol := &ifch.Policy{
		Interfaces:         []string{cfg.Interface},
		AllowedRanges:      cfg.Ifch.AllowRanges,
		MinPrefixLen:       cfg.Ifch.MinPrefix,
		AllowLinkLocal:     cfg.Ifch.AllowLinkLocal,
		AllowOffLinkRouter: cfg.Ifch.AllowOffLink,
		MinMTU:             cfg.Ifch.MTUFloor,
	}
	if !ready(in, log) {
		return exitSandbox
	}
	watchParent(in, log)
	err = apply.Serve(conn, apply.New(k, acfg), apply.ServeOptions{Policy: pol, Log: log})
	if err != nil {
		log.Error("engine broke the ifch protocol; exiting", "err", err)
		return exitFailure
	}
	log.Info("engine closed its channel; exiting")
	return exitOK
}
