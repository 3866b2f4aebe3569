//go:build linux

// Package roles is ndhc's table of roles: for each one its name, its
// sandbox policy, the descriptors it is handed, its typed configuration,
// what it runs once sandboxed, and the audit's control actions proving
// what it must still be able to do. The supervisor, `ndhc policy`,
// `ndhc audit`, `make install-users` (through `ndhc policy --users`) and
// the lab tests all read this one table.
package roles

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"syscall"

	"github.com/mdlayher/socket"

	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/dnsrole"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/hostname"
	"github.com/ndhc-go/ndhc/internal/ifchrole"
	"github.com/ndhc-go/ndhc/internal/logging"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// Names of the roles.
const (
	Supervisor = "supervisor"
	Engine     = "engine"
	Sockd      = "sockd"
	Ifch       = "ifch"
	Hostname   = "hostname"
	DNS        = "dns"
	Hook       = "hook"
)

// Names of the descriptors the supervisor hands the roles: the two ends
// of each channel are named after the role at the other end.
const (
	fileEngine   = Engine
	fileSockd    = Sockd
	fileIfch     = Ifch
	fileHostname = Hostname
	fileDNS      = DNS
	fileLinks    = "links"
)

// Role is one entry of the table.
type Role struct {
	Name string
	// Policy returns the role's sandbox policy with the default users and
	// directories; Settings.Policy applies the operator's.
	Policy func() sandbox.Policy
	// Optional roles run only when enabled (hostname: --set-hostname).
	Optional bool
	// Controls are the audit's allowed actions for the role, beyond the
	// IPC round trip every role makes.
	Controls func() []probe.Action
	// OwnBattery: Controls is the role's whole audit, in place of the
	// generic battery of forbidden actions (the hook role, whose programs
	// may read files, run programs and open sockets by design).
	OwnBattery bool
	// run is the role's body in its child process; nil for the
	// supervisor, which is the parent.
	run func(in *sandbox.Inherited) int
}

// All is every role, in the order the supervisor starts them.
var All = []Role{
	{Name: Supervisor, Policy: policies.Supervisor},
	{Name: Hostname, Policy: policies.Hostname, Optional: true, Controls: hostnameControls, run: runHostname},
	{Name: DNS, Policy: policies.DNS, Optional: true, Controls: dnsControls, run: runDNS},
	{Name: Ifch, Policy: policies.Ifch, Controls: ifchControls, run: runIfch},
	{Name: Sockd, Policy: policies.Sockd, Controls: sockdControls, run: runSockd},
	{Name: Engine, Policy: policies.Engine, Controls: engineControls, run: runEngine},
	{Name: Hook, Policy: policies.Hook, Optional: true, Controls: hookActions, OwnBattery: true, run: runHook},
}

// ByName returns the named role.
func ByName(name string) (Role, bool) {
	i := slices.IndexFunc(All, func(r Role) bool { return r.Name == name })
	if i < 0 {
		return Role{}, false
	}
	return All[i], true
}

// Names lists the roles' names in table order.
func Names() []string {
	var out []string
	for _, r := range All {
		out = append(out, r.Name)
	}
	return out
}

// AuditActions is every action a probe child may be asked to run: the
// generic battery, the IPC round trip and each role's controls. The child
// finds an action by name, so names are unique.
func AuditActions() []probe.Action {
	all := append(probe.Battery(), probe.IPCRoundTrip(), probe.RuntimeStress())
	for _, r := range All {
		if r.Controls != nil {
			all = append(all, r.Controls()...)
		}
	}
	return all
}

// AuditSubject is what `ndhc audit` runs for one role: the battery, the
// IPC round trip, the Go runtime under stress and the role's controls,
// under its policy p.
func (r Role) AuditSubject(p sandbox.Policy) probe.Subject {
	actions := append(probe.Battery(), probe.IPCRoundTrip(), probe.RuntimeStress())
	if r.OwnBattery {
		actions = []probe.Action{probe.IPCRoundTrip(), probe.RuntimeStress()}
	}
	if r.Controls != nil {
		actions = append(actions, r.Controls()...)
	}
	return probe.Subject{Policy: p, Actions: actions}
}

// RunChild runs the role this process was spawned as and exits; it never
// returns.
func RunChild(name string) {
	if name == probe.Role {
		probe.Child(AuditActions())
	}
	r, ok := ByName(name)
	if !ok || r.run == nil {
		fmt.Fprintf(os.Stderr, "ndhc: no role %q\n", name)
		os.Exit(exitcode.Usage)
	}
	in, err := sandbox.Inherit()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", name, err)
		os.Exit(exitcode.Failure)
	}
	os.Exit(r.run(in))
}

// NewLogger is the logger of a role: lines on w in the configured format
// and from its level, with the role and the interface named once in every
// line.
func NewLogger(w io.Writer, role, iface string, c config.Log) *slog.Logger {
	log := logging.New(w, c.Format, c.Level).With("role", role)
	if iface != "" {
		log = log.With("iface", iface)
	}
	return log
}

// child is the start of every role body: the typed configuration, the
// logger, and the named channels wrapped.
type child struct {
	in  *sandbox.Inherited
	log *slog.Logger
	// attack is the containment test build's battery, run on the role's
	// interface and descriptors (ifindex, ends); nil otherwise.
	attack  func(int, map[string]syscall.Conn)
	ifindex int
	ends    map[string]syscall.Conn
}

// start decodes the role's configuration into cfg and builds its logger.
func start(in *sandbox.Inherited, cfg config.Role) (*child, int) {
	if err := in.Config(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", in.Role, err)
		return nil, exitcode.Failure
	}
	lc, iface := cfg.Logging()
	return &child{in: in, log: NewLogger(os.Stderr, in.Role, iface, lc), attack: containmentStart(in)}, 0
}

// conn wraps the named channel.
func (c *child) conn(name string) (*net.UnixConn, error) {
	f, err := c.in.File(name)
	if err != nil {
		return nil, err
	}
	return sandbox.UnixConn(f)
}

// ready enters the sandbox and tells the supervisor; a role that takes no
// commands then exits with its parent.
func (c *child) ready(commands bool) int {
	if _, err := c.in.Ready(sandbox.Options{Log: c.log, TrimWhenQuiet: sandbox.DefaultTrimQuiet}); err != nil {
		c.log.Error("entering sandbox", "err", err)
		return exitcode.Sandbox
	}
	if c.attack != nil {
		c.attack(c.ifindex, c.ends)
	}
	if !commands {
		c.in.ExitWithParent(c.log)
	}
	return 0
}

// serveRole is the body of a role that serves one peer over one channel:
// its configuration and logger, the channel, what prepare opens while the
// role is still root, the sandbox, then serve until the peer is done.
func serveRole(in *sandbox.Inherited, cfg config.Role, peer string, prepare func(c *child) (serve func(*net.UnixConn, *slog.Logger) int, err error)) int {
	c, code := start(in, cfg)
	if c == nil {
		return code
	}
	conn, err := c.conn(peer)
	if err != nil {
		c.log.Error("channel", "peer", peer, "err", err)
		return exitcode.Failure
	}
	serve, err := prepare(c)
	if err != nil {
		c.log.Error("opening what the role needs", "err", err)
		return exitcode.Failure
	}
	c.ends = map[string]syscall.Conn{peer: conn}
	if code := c.ready(false); code != 0 {
		return code
	}
	return serve(conn, c.log)
}

func runSockd(in *sandbox.Inherited) int {
	var cfg config.Sockd
	return serveRole(in, &cfg, fileEngine, func(*child) (func(*net.UnixConn, *slog.Logger) int, error) {
		ifi := sockd.Interface{Index: cfg.Link.Index, Name: cfg.Link.Name, MAC: cfg.Link.MAC}
		// Opened as root, before the sandbox: sockd has no
		// socket(AF_NETLINK) once inside.
		addrs, err := sockd.OpenAddrs()
		if err != nil {
			return nil, err
		}
		return func(conn *net.UnixConn, log *slog.Logger) int { return sockd.Run(conn, ifi, addrs, log) }, nil
	})
}

func runIfch(in *sandbox.Inherited) int {
	var cfg config.Ifch
	return serveRole(in, &cfg, fileEngine, func(c *child) (func(*net.UnixConn, *slog.Logger) int, error) {
		var hc *net.UnixConn
		if cfg.SetHostname {
			var err error
			if hc, err = c.conn(fileHostname); err != nil {
				return nil, err
			}
		}
		var dc *net.UnixConn
		if cfg.DNS == config.DNSResolved {
			var err error
			if dc, err = c.conn(fileDNS); err != nil {
				return nil, err
			}
		}
		// Everything ifch touches is opened now, as root, before the
		// sandbox. The applier names the interface of each change itself.
		r, err := ifchrole.Open(&cfg, hc, dc, NewLogger(os.Stderr, in.Role, "", cfg.Log))
		if err != nil {
			return nil, err
		}
		return r.Run, nil
	})
}

func runHostname(in *sandbox.Inherited) int {
	var cfg config.Hostname
	return serveRole(in, &cfg, fileIfch, func(*child) (func(*net.UnixConn, *slog.Logger) int, error) {
		return hostname.Run, nil
	})
}

// runDNS is the dns role: it connects to the system bus only once it is
// sandboxed, so that the bus credits the connection to its own
// unprivileged user (see package dnsrole).
func runDNS(in *sandbox.Inherited) int {
	var cfg config.DNS
	return serveRole(in, &cfg, fileIfch, func(*child) (func(*net.UnixConn, *slog.Logger) int, error) {
		return func(conn *net.UnixConn, log *slog.Logger) int { return dnsrole.Run(conn, cfg.Socket, log) }, nil
	})
}

func runEngine(in *sandbox.Inherited) int {
	var cfg config.Engine
	c, code := start(in, &cfg)
	if c == nil {
		return code
	}
	sockdConn, err1 := c.conn(fileSockd)
	ifchConn, err2 := c.conn(fileIfch)
	var links *socket.Conn
	lf, err3 := c.in.File(fileLinks)
	if err3 == nil {
		links, err3 = socket.FileConn(lf, "netlink")
		lf.Close()
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		c.log.Error("wrapping descriptors", "err", err)
		return exitcode.Failure
	}
	c.ifindex, c.ends = cfg.Link.Index, map[string]syscall.Conn{fileSockd: sockdConn, fileIfch: ifchConn, fileLinks: links}
	if code := c.ready(true); code != 0 {
		return code
	}
	ends := engine.Ends{Sockd: sockdConn, Ifch: ifchConn, Links: links, Control: control{in.Ctl}, StateDir: "/"}
	return engine.New(&cfg, ends, c.log).Run()
}

// control is the engine's end of its control channel: commands from the
// supervisor, events to it.
type control struct{ c *net.UnixConn }

func (c control) Command() (event.Command, error) {
	b, err := sandbox.RecvUpTo(c.c, 1)
	if err != nil {
		return 0, err
	}
	return event.ParseCommand(b)
}

func (c control) Report(ev event.Event) error {
	b, err := ev.MarshalBinary()
	if err != nil {
		return err
	}
	return sandbox.Send(c.c, b)
}
