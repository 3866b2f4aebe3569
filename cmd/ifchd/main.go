// Command ifchd runs the ifch role of ndhc-go as a standalone daemon for
// hosts with several DHCP clients: it listens on a UNIX SOCK_SEQPACKET
// socket, admits peers by uid (SO_PEERCRED) from an allowlist that gives each
// uid its interfaces and address ranges, and applies the ifch protocol.
//
// Everything it needs (the netlink socket, resolv.conf, the listening
// socket) is opened before it enters the ifch sandbox; afterwards it only
// accepts connections and talks netlink. Run ifchd -h for the flags.
//
// The flags that set the same knob as one of ndhc's have ndhc's name
// (-config/-c, -log-level, -resolv-conf, -route-metric, -min-prefix,
// -mtu-floor, -allow-link-local, -allow-offlink-router,
// -allow-degraded-sandbox, -empty-dir, -ifch-user), and the config file
// named by -c is read as ndhc's is (package internal/conf): key = value
// lines whose keys are the long flag names. The command line wins over the
// file, except for -allow, whose entries from both are kept.
//
// Exit status (internal/exitcode): 0 after SIGTERM or SIGINT, 1 on a
// runtime failure, 2 on a usage or configuration error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/ifchrole"
	"github.com/ndhc-go/ndhc/internal/logging"
	"github.com/ndhc-go/ndhc/internal/version"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

func main() {
	// What the caller left open reaches nothing ifchd runs.
	if err := sandbox.CloseInherited(); err != nil {
		fmt.Fprintln(os.Stderr, "ifchd:", err)
		os.Exit(exitcode.Failure)
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 1 {
		if version.IsFlag(args[0]) {
			fmt.Println(version.Get("ifchd"))
			return exitcode.OK
		}
	}
	c, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitcode.OK
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "ifchd: run ifchd -h for help")
		return exitcode.Usage
	}
	if c.format == logging.Journal {
		stderr = logging.NewJournal(stderr)
	}
	log := logging.New(stderr, c.format, c.level).With("role", "ifchd")
	if err := serve(c, log); err != nil {
		log.Error("exiting", "err", err)
		if errors.Is(err, errUsage) {
			return exitcode.Usage
		}
		return exitcode.Failure
	}
	return exitcode.OK
}

var errUsage = errors.New("ifchd: configuration")

// serve opens everything, enters the sandbox and serves until a signal.
func serve(c *config, log *slog.Logger) error {
	if err := sandbox.CheckBuild(); err != nil {
		return fmt.Errorf("ifchd: %w", err)
	}
	allowed, err := ifchrole.Policies(c.allows, c.policy)
	if err != nil {
		return errors.Join(errUsage, err)
	}
	sockUID, err := sandbox.ResolveUser(c.socketUser)
	if err != nil {
		return errors.Join(errUsage, fmt.Errorf("ifchd: -socket-owner: %w", err))
	}
	sockGID, err := sandbox.ResolveGroup(c.socketGroup)
	if err != nil {
		return errors.Join(errUsage, fmt.Errorf("ifchd: -socket-group: %w", err))
	}

	// Everything the role will use is opened now, before the sandbox.
	nl, err := apply.OpenNetlink()
	if err != nil {
		return err
	}
	var rc *apply.ResolvConf
	if c.resolvConf != "" {
		if rc, err = apply.OpenResolvConf(c.resolvConf); err != nil {
			return err
		}
	}
	ln, err := ifchrole.Listen(c.socket, os.FileMode(c.socketMode), int(sockUID), int(sockGID))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.emptyDir, 0o755); err != nil {
		return fmt.Errorf("ifchd: -empty-dir: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	p := policies.Ifchd()
	p.User, p.Group, p.Chroot = c.ifchUser, c.ifchUser, c.emptyDir
	rep, err := sandbox.Enter(p, sandbox.Options{Degrade: c.degradeLayers, Log: log})
	if err != nil {
		return err // the process is partly restricted: only exit is safe
	}
	log.Info("sandbox entered", "uid", rep.Status.Uid, "landlock_abi", rep.LandlockABI,
		"seccomp_instructions", rep.SeccompInstructions, "degraded", strings.Join(rep.Degraded, ","))
	sandbox.TrimWhenQuiet(sandbox.DefaultTrimQuiet)

	s := ifchrole.NewServer(apply.New(nl, apply.Config{Metric: c.routeMetric, Resolv: rc, Log: log}), ifchrole.ServerOptions{
		Allowed: allowed, MaxConns: c.maxConns, MaxPerUID: c.maxPerUID, Idle: c.idleTimeout, Log: log,
	})
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	log.Info("serving", "socket", c.socket, "uids", len(allowed))
	select {
	case sig := <-sigs:
		log.Info("stopping", "signal", sig.String())
		ln.Close()
		return nil
	case err := <-done:
		return err
	}
}
