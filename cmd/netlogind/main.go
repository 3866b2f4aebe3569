// Command netlogind is a privilege-separated network login daemon: a root
// listener that parses nothing a client sends, one sandboxed [net] per
// connection that alone reads the client's bytes, and one root [session]
// per connection (the netlogind-session binary) that runs PAM and the
// user's commands. See DESIGN.md, "netlogind".
//
//	netlogind -listen :2323 -key host.key -cert host.crt   the daemon
//	netlogind -unix /run/netlogind/netlogind.sock          local only
//	netlogind audit                                        prove [net]'s policy
//	netlogind policy                                       print [net]'s policy
//	netlogind version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/ndhc-go/ndhc/internal/login/hostkey"
	"github.com/ndhc-go/ndhc/internal/login/listener"
	"github.com/ndhc-go/ndhc/internal/login/netrole"
	"github.com/ndhc-go/ndhc/internal/login/session"
	"github.com/ndhc-go/ndhc/internal/version"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	if role, ok := sandbox.IsChild(); ok {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", role)
		switch role {
		case probe.Role:
			probe.Child(listener.AuditActions())
		case "net":
			netrole.Main(log)
		}
		fmt.Fprintf(os.Stderr, "netlogind: no role %q\n", role)
		os.Exit(exitUsage)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "audit":
			return audit(args[1:], stdout, stderr)
		case "policy":
			return policy(args[1:], stdout, stderr)
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, version.Get("netlogind"))
			return exitOK
		}
	}
	return daemon(args, stderr)
}

// options are the daemon's flags.
type options struct {
	listen, unixPath, unixMode string
	key, cert                  string
	sessionProgram             string
	pamService, pamConfDir     string
	netUIDs                    string
	runDir                     string
	maxConns, maxUnauth        int
	maxPerSource               int
	rate                       float64
	burst                      int
	authTimeout, failDelay     time.Duration
	idleTimeout                time.Duration
	degrade                    string
	logLevel                   string
	eventFD                    int
}

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "", "TCP `address` for TLS 1.3 clients (host:port); empty: none")
	fs.StringVar(&o.unixPath, "unix", "", "`path` of a local socket (plain protocol); empty: none")
	fs.StringVar(&o.unixMode, "unix-mode", "0660", "file `mode` of the local socket: who may connect")
	fs.StringVar(&o.key, "key", "/etc/netlogind/host.key", "Ed25519 host key `file` (PEM, mode 0600), with -listen")
	fs.StringVar(&o.cert, "cert", "/etc/netlogind/host.crt", "host certificate `file` (PEM), with -listen")
	fs.StringVar(&o.sessionProgram, "session-program", "", "the netlogind-session `binary` (default: next to netlogind)")
	fs.StringVar(&o.pamService, "pam-service", session.DefaultService, "PAM service `name`")
	fs.StringVar(&o.pamConfDir, "pam-confdir", "", "`directory` of the PAM service file (default: the system's, /etc/pam.d)")
	fs.StringVar(&o.netUIDs, "net-uids", fmt.Sprintf("%d-%d", policies.NetloginNetUIDFirst, policies.NetloginNetUIDLast), "`range` of uids for [net] processes, one per connection; no account may use them")
	fs.StringVar(&o.runDir, "run-dir", filepath.Dir(policies.NetloginEmptyDir), "`directory` for the lock file and [net]'s empty root")
	fs.IntVar(&o.maxConns, "max-conns", 256, "connections at a time")
	fs.IntVar(&o.maxUnauth, "max-unauth", 64, "connections not yet authenticated at a time")
	fs.IntVar(&o.maxPerSource, "max-per-source", 32, "connections at a time from one address")
	fs.Float64Var(&o.rate, "rate", 10, "new connections per second from one address")
	fs.IntVar(&o.burst, "burst", 40, "burst of new connections from one address")
	fs.DurationVar(&o.authTimeout, "auth-timeout", 60*time.Second, "time to authenticate")
	fs.DurationVar(&o.failDelay, "fail-delay", 2*time.Second, "delay before a failed login is answered")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 0, "longest silence of an authenticated client between commands (0: none)")
	fs.StringVar(&o.degrade, "degrade", "", "sandbox `layers` [net] may start without (landlock,seccomp); default none")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&o.eventFD, "event-fd", -1, "write a JSON record of each connection event to open descriptor `N` (a pipe or socket)")
}

func daemon(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("netlogind", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "netlogind: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	// What the shell or service manager left open (without close-on-exec)
	// would reach every [net] and [session] through exec: close it first.
	var keep []int
	if o.eventFD >= 3 {
		keep = append(keep, o.eventFD)
	}
	if err := sandbox.CloseInherited(keep...); err != nil {
		fmt.Fprintln(stderr, "netlogind:", err)
		return exitFailure
	}
	cfg, err := o.config()
	if err != nil {
		fmt.Fprintln(stderr, "netlogind:", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "netlogind: must run as root: [session] starts commands as the user, and [net] runs under uids of its own")
		return exitUsage
	}
	srv, err := listener.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "netlogind:", err)
		return exitFailure
	}
	for _, a := range srv.Addrs() {
		cfg.Log.Info("listening", "network", a.Network(), "address", a.String())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := srv.Serve(ctx); err != nil {
		cfg.Log.Error("serve", "err", err)
		return exitFailure
	}
	return exitOK
}

// config turns the flags into the listener's configuration.
func (o *options) config() (listener.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return listener.Config{}, fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	first, last, err := parseRange(o.netUIDs)
	if err != nil {
		return listener.Config{}, fmt.Errorf("-net-uids: %w", err)
	}
	mode, err := strconv.ParseUint(o.unixMode, 8, 32)
	if err != nil || mode > 0o777 {
		return listener.Config{}, fmt.Errorf("-unix-mode %q: want an octal mode", o.unixMode)
	}
	degrade, err := sandbox.ParseLayers(o.degrade)
	if err != nil {
		return listener.Config{}, err
	}
	prog := o.sessionProgram
	if prog == "" {
		self, err := os.Executable()
		if err != nil {
			return listener.Config{}, err
		}
		prog = filepath.Join(filepath.Dir(self), "netlogind-session")
	}
	if _, err := os.Stat(prog); err != nil {
		return listener.Config{}, fmt.Errorf("session program: %w", err)
	}
	cfg := listener.Config{
		TCP: o.listen, Unix: o.unixPath, UnixMode: os.FileMode(mode),
		SessionProgram: prog,
		NetUIDFirst:    first, NetUIDLast: last,
		RunDir:   o.runDir,
		MaxConns: o.maxConns, MaxUnauth: o.maxUnauth, MaxPerSource: o.maxPerSource,
		Rate: rate.Limit(o.rate), Burst: o.burst,
		AuthTimeout: o.authTimeout, IdleTimeout: o.idleTimeout,
		Degrade: degrade,
		Log:     log,
	}
	sc := session.Config{Service: o.pamService, PAMConfDir: o.pamConfDir, AuthDeadline: session.Duration(o.authTimeout), FailDelay: session.Duration(o.failDelay)}
	if err := sc.Validate(); err != nil {
		return listener.Config{}, err
	}
	cfg.Session = func(peer string) any {
		c := sc
		c.Peer = peer
		return c
	}
	if o.listen != "" {
		key, chain, err := hostkey.Load(o.key, o.cert)
		if err != nil {
			return listener.Config{}, err
		}
		cfg.Key, cfg.Chain = key, chain.DER
	}
	if o.eventFD >= 0 {
		if o.eventFD < 3 {
			return listener.Config{}, fmt.Errorf("-event-fd %d: want an inherited descriptor, 3 or above", o.eventFD)
		}
		f := os.NewFile(uintptr(o.eventFD), "event-fd")
		if _, err := f.Stat(); err != nil {
			return listener.Config{}, fmt.Errorf("-event-fd %d: %w", o.eventFD, err)
		}
		syscall.CloseOnExec(o.eventFD)
		cfg.Events = f
	}
	if o.listen == "" && o.unixPath == "" {
		return listener.Config{}, errors.New("nothing to listen on: give -listen, -unix or both")
	}
	if err := checkUIDsFree(first, last); err != nil {
		return listener.Config{}, err
	}
	return cfg, nil
}

func parseRange(s string) (uint32, uint32, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want FIRST-LAST", s)
	}
	first, err1 := strconv.ParseUint(a, 10, 32)
	last, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil || first == 0 || last < first || last-first > 65535 {
		return 0, 0, fmt.Errorf("%q: want FIRST-LAST, 0 < FIRST <= LAST, at most 65536 uids", s)
	}
	return uint32(first), uint32(last), nil
}

// checkUIDsFree refuses a [net] uid range that an account in the passwd
// database uses: a [net] must share its uid with nothing.
func checkUIDsFree(first, last uint32) error {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil // no local database to check against
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(uid) >= first && uint32(uid) <= last {
			return fmt.Errorf("-net-uids: uid %d belongs to account %q", uid, f[0])
		}
	}
	return nil
}

func audit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netlogind audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the audit as JSON")
	uid := fs.Uint("uid", policies.NetloginNetUIDLast, "the [net] `uid` to audit under")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "netlogind audit: must run as root: the probes enter [net]'s sandbox from root, as the listener does")
		return exitUsage
	}
	dir, err := os.MkdirTemp("", "netlogind-audit-")
	if err != nil {
		fmt.Fprintln(stderr, "netlogind audit:", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "netlogind audit:", err)
		return exitFailure
	}
	a, err := probe.RunAudit([]probe.Subject{listener.AuditSubject(uint32(*uid), dir)}, sandbox.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "netlogind audit:", err)
		return exitFailure
	}
	a.Program = "netlogind"
	if *asJSON {
		sandbox.WriteJSON(stdout, a)
	} else {
		a.WriteText(stdout)
	}
	if !a.Pass {
		return exitFailure
	}
	return exitOK
}

func policy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netlogind policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the policy as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	abi, _ := sandbox.LandlockABI()
	r, err := sandbox.DescribePolicy(listener.Policy(policies.NetloginNetUIDFirst, policies.NetloginEmptyDir), abi)
	if err != nil {
		fmt.Fprintln(stderr, "netlogind policy:", err)
		return exitFailure
	}
	if *asJSON {
		sandbox.WriteJSON(stdout, r)
	} else {
		r.WriteText(stdout)
	}
	return exitOK
}
