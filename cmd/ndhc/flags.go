package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/conf"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/dnsrole"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/logging"
	"github.com/ndhc-go/ndhc/internal/notify"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/internal/supervisor"
	"github.com/ndhc-go/ndhc/sandbox"
)

// clientFlags are the options of `ndhc -i IFACE`; the config file uses the
// same names (long form, without dashes in front).
type clientFlags struct {
	fs      *flag.FlagSet
	roles   *roleFlags
	iface   string
	config  string
	eventFD int
	readyFD int

	// control socket and wait mode
	controlSocket string
	controlGroup  string
	controlGID    uint32
	detach        bool

	// DHCP
	hostname    string
	vendorClass string
	clientID    string
	request     string
	oneShot     bool
	timeout     time.Duration
	releaseExit bool

	// ARP
	arpMode    string
	arpWait    time.Duration
	relentless bool

	// ifch
	ifchd          string
	resolvConf     string
	dns            string
	routeMetric    int
	allowRanges    string
	allowLinkLocal bool
	allowOffLink   bool
	setHostname    bool
	minPrefix      int
	mtuFloor       int
	classless      ifch.Classless
	minRoute       int

	// hook
	hook        string
	hookTimeout time.Duration

	level  slog.Level
	format logging.Format

	// Parsed by validate.
	ranges []netip.Prefix
}

func newClientFlags() *clientFlags {
	c := &clientFlags{fs: flag.NewFlagSet("ndhc", flag.ContinueOnError)}
	fs := c.fs
	c.roles = addRoleFlags(fs)
	fs.StringVar(&c.iface, "interface", "", "interface to configure (required; also -i)")
	fs.StringVar(&c.iface, "i", "", "short for --interface")
	fs.StringVar(&c.config, "config", "", "configuration file of key = value lines (also -c)")
	fs.StringVar(&c.config, "c", "", "short for --config")
	fs.TextVar(&c.level, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.TextVar(&c.format, "log-format", logging.Text, "text, json (one object a line) or journal (text lines with syslog priorities, for systemd's journal and syslog)")
	fs.IntVar(&c.eventFD, "event-fd", -1, "write one JSON object a line to this open descriptor (a pipe or socket) for each event: role ready, state change, lease configured or refused, role exit, signal")
	fs.IntVar(&c.readyFD, "ready-fd", -1, "write one newline to this open descriptor (a pipe or socket) and close it once the first lease is configured: s6's notification-fd (under systemd, Type=notify and $NOTIFY_SOCKET do the same)")
	fs.StringVar(&c.controlSocket, "control-socket", "", "control socket for ndhc show, renew, release, rebind and wait (default /run/ndhc/IFACE/control; none: no socket)")
	fs.StringVar(&c.controlGroup, "control-group", "root", "group (name or number) whose members may query the control socket (show, wait); root: root only")
	fs.BoolVar(&c.detach, "wait", false, "detach, and exit 0 once the first lease is configured (like dhcpcd -w); 5 after --timeout (also -w)")
	fs.BoolVar(&c.detach, "w", false, "short for --wait")
	fs.StringVar(&c.hostname, "hostname", "", "host name to send to the server (option 12)")
	fs.StringVar(&c.vendorClass, "vendor-class", "", "vendor class identifier to send (option 60)")
	fs.StringVar(&c.clientID, "clientid", "duid", "client identifier: duid (RFC 4361, kept in the state directory), mac, or string:TEXT")
	fs.StringVar(&c.request, "request", "", "address to ask for in DHCPDISCOVER (option 50)")
	fs.BoolVar(&c.oneShot, "oneshot", false, "exit after the first lease is bound, leaving it configured (also -q)")
	fs.BoolVar(&c.oneShot, "q", false, "short for --oneshot")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "one-shot and --wait: give up after this long without a lease, exit 5 (0: never)")
	fs.BoolVar(&c.releaseExit, "release-on-exit", false, "send DHCPRELEASE and deconfigure on SIGTERM/SIGINT")
	fs.StringVar(&c.arpMode, "arp-mode", "fast", "address conflict check before binding: fast, rfc5227 or off")
	fs.DurationVar(&c.arpWait, "arp-wait", 0, "fast mode: how long to wait for an answer to the probe (0: default)")
	fs.BoolVar(&c.relentless, "relentless-defense", false, "defend the address forever instead of giving it up on a second conflict (RFC 5227 2.4 (c))")
	fs.StringVar(&c.ifchd, "ifchd", "", "use the standalone ifchd listening on this socket instead of spawning ifch")
	fs.StringVar(&c.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolv.conf to rewrite with the lease's DNS servers (empty: leave alone); PATH.head and PATH.tail are copied around the generated lines")
	fs.StringVar(&c.dns, "dns", "auto", "where the lease's DNS servers and search domains go: file (--resolv-conf; a symlink is refused), resolved (systemd-resolved over D-Bus, through the dns role), none, or auto (resolved when it runs and resolv.conf is its file, file otherwise)")
	fs.IntVar(&c.routeMetric, "route-metric", 0, "metric of the routes ifch installs (0: ifch's default)")
	fs.StringVar(&c.allowRanges, "allow-ranges", "", "comma-separated prefixes the leased address must fall in (empty: any unicast)")
	fs.BoolVar(&c.allowLinkLocal, "allow-link-local", false, "accept 169.254/16 leases")
	fs.BoolVar(&c.allowOffLink, "allow-offlink-router", false, "accept a router outside the leased subnet (installed as onlink)")
	fs.BoolVar(&c.setHostname, "set-hostname", false, "set the system hostname from the lease (option 12), through a role holding only CAP_SYS_ADMIN under a seccomp list that allows sethostname alone")
	fs.IntVar(&c.minPrefix, "min-prefix", 0, "shortest subnet prefix accepted (0: ifch's default, 8)")
	fs.IntVar(&c.mtuFloor, "mtu-floor", 0, "smallest MTU accepted from the server (0: ifch's default, 576)")
	fs.TextVar(&c.classless, "classless-routes", ifch.ClasslessOn, "option 121 routes: on, off (option 3 is the default route) or no-default (no default route among them)")
	fs.IntVar(&c.minRoute, "min-route-prefix", 0, "shortest option 121 route taken, the default route apart (0: 8); shorter ones (TunnelVision's 0/1 and 128/1) are dropped")
	fs.StringVar(&c.hook, "hook", "", "program run at each lease event (bound, renewed, rebound, released, expired, lost, conflict, stopped) as --hook-user, with the event and lease as JSON on stdin; absolute path, changeable by root or the hook user only")
	fs.DurationVar(&c.hookTimeout, "hook-timeout", 30*time.Second, "longest run of the hook; its process group is killed then")
	return c
}

// parse reads the command line, then the config file; the command line
// wins for keys set in both.
func (c *clientFlags) parse(args []string) error {
	c.fs.SetOutput(io.Discard)
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.fs.SetOutput(os.Stdout)
			c.usage()
			return err
		}
		return err
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", c.fs.Arg(0))
	}
	if c.config != "" {
		// Short names alias long ones: a short flag on the command line
		// also wins over the long key in the file.
		if err := conf.Load(c.fs, c.config, map[string]string{"i": "interface", "c": "config", "q": "oneshot", "w": "wait"}); err != nil {
			return err
		}
	}
	return c.validate()
}

func (c *clientFlags) usage() {
	fmt.Fprintf(c.fs.Output(), "usage: ndhc -i IFACE [flags]\n       ndhc -c FILE\n\n")
	c.fs.PrintDefaults()
}

func (c *clientFlags) validate() error {
	if c.iface == "" {
		return errors.New("no interface: use -i IFACE or interface = IFACE in the config file")
	}
	if len(c.iface) >= 16 || strings.ContainsAny(c.iface, "/ \t\n") {
		return fmt.Errorf("bad interface name %q", c.iface)
	}
	switch c.arpMode {
	case "fast", "rfc5227", "off":
	default:
		return fmt.Errorf("arp-mode %q: want fast, rfc5227 or off", c.arpMode)
	}
	if c.timeout < 0 {
		return fmt.Errorf("timeout %v: want 0 (never) or more", c.timeout)
	}
	if c.arpWait < 0 || c.arpWait > 10*time.Second {
		return fmt.Errorf("arp-wait %v: want 0 to 10s", c.arpWait)
	}
	var err error
	switch {
	case c.clientID == "duid", c.clientID == "mac":
	case strings.HasPrefix(c.clientID, "string:") && len(c.clientID) > len("string:") && len(c.clientID) <= len("string:")+254:
	default:
		return fmt.Errorf("clientid %q: want duid, mac or string:TEXT (1 to 254 bytes)", c.clientID)
	}
	if c.hostname != "" {
		if _, err := dhcp.ParseHostname(c.hostname); err != nil {
			return fmt.Errorf("hostname %q: %w", c.hostname, err)
		}
	}
	if len(c.vendorClass) > 255 {
		return errors.New("vendor-class: at most 255 bytes")
	}
	if c.request != "" {
		a, err := netip.ParseAddr(c.request)
		if err != nil || !a.Is4() {
			return fmt.Errorf("request %q: not an IPv4 address", c.request)
		}
	}
	if c.ranges, err = parseRanges(c.allowRanges); err != nil {
		return err
	}
	if c.routeMetric < 0 || c.minPrefix < 0 || c.minPrefix > 32 || c.mtuFloor < 0 || c.mtuFloor > 65535 || c.minRoute < 0 || c.minRoute > 32 {
		return errors.New("route-metric, min-prefix (0..32), min-route-prefix (0..32) and mtu-floor (0..65535) must be in range")
	}
	if c.setHostname && c.ifchd != "" {
		return errors.New("set-hostname: with --ifchd, ifchd sets the hostname (or not); ndhc spawns no ifch to ask")
	}
	mode, err := dnsrole.ParseMode(c.dns)
	if err != nil {
		return err
	}
	if mode == config.DNSResolved && c.ifchd != "" {
		return errors.New("dns resolved: with --ifchd, ifchd handles DNS (its own --dns); ndhc spawns no ifch to ask")
	}
	if c.hook != "" && !strings.HasPrefix(c.hook, "/") {
		return fmt.Errorf("hook %q: want an absolute path", c.hook)
	}
	if c.hookTimeout <= 0 || c.hookTimeout > time.Hour {
		return fmt.Errorf("hook-timeout %v: want more than 0 and at most 1h", c.hookTimeout)
	}
	if c.ifchd != "" && !strings.HasPrefix(c.ifchd, "/") {
		return fmt.Errorf("ifchd %q: want an absolute socket path", c.ifchd)
	}
	if err := c.roles.parse(); err != nil {
		return err
	}
	if c.eventFD == 0 || c.eventFD == 2 || c.eventFD < -1 {
		return fmt.Errorf("event-fd %d: want an open descriptor other than stdin and stderr", c.eventFD)
	}
	if c.readyFD == 0 || c.readyFD == 2 || c.readyFD < -1 || (c.readyFD > 0 && c.readyFD == c.eventFD) {
		return fmt.Errorf("ready-fd %d: want an open descriptor other than stdin, stderr and the event-fd", c.readyFD)
	}
	return c.validateControl()
}

// validateControl checks the control socket's flags and the wait mode.
func (c *clientFlags) validateControl() error {
	if c.controlSocket != "" && c.controlSocket != "none" && !strings.HasPrefix(c.controlSocket, "/") {
		return fmt.Errorf("control-socket %q: want an absolute path or none", c.controlSocket)
	}
	gid, err := lookupGroup(c.controlGroup)
	if err != nil {
		return err
	}
	c.controlGID = gid
	if c.detach && (c.readyFD > 0 || c.eventFD > 0 || c.oneShot) {
		return errors.New("wait: not with --ready-fd (it uses one), --event-fd (not passed on) or --oneshot (which waits in the foreground already)")
	}
	return nil
}

func parseRanges(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' }) {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("allow-ranges: %q is not an IPv4 prefix", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// instance builds the supervisor's configuration for the resolved
// interface: every role's typed configuration, made once, here.
func (c *clientFlags) instance(ifi *net.Interface, log *slog.Logger, stderr io.Writer) (*supervisor.Config, error) {
	link := config.Link{Name: ifi.Name, Index: ifi.Index, MAC: dhcp.MAC(ifi.HardwareAddr)}
	lg := config.Log{Level: c.level, Format: c.format}
	eng := config.Engine{
		Link: link, Log: lg, VendorClass: c.vendorClass, OneShot: c.oneShot, ReleaseOnExit: c.releaseExit,
		ARPWait: c.arpWait, Relentless: c.relentless,
	}
	switch c.arpMode {
	case "fast":
		eng.ARP = client.ARPFast
	case "rfc5227":
		eng.ARP = client.ARPRFC5227
	case "off":
		eng.ARP = client.ARPOff
	}
	switch {
	case c.clientID == "mac":
		eng.ClientID = config.ClientIDMAC
	case strings.HasPrefix(c.clientID, "string:"):
		eng.ClientID, eng.ClientIDText = config.ClientIDString, strings.TrimPrefix(c.clientID, "string:")
	default:
		eng.ClientID = config.ClientIDDUID
	}
	if c.hostname != "" {
		h, err := dhcp.ParseHostname(c.hostname)
		if err != nil {
			return nil, err
		}
		eng.Hostname = h
	}
	if c.request != "" {
		eng.Request = netip.MustParseAddr(c.request) // checked by validate
	}
	ic := config.Ifch{
		Link: link, Log: lg, ResolvConf: c.resolvConf, RouteMetric: uint32(c.routeMetric), SetHostname: c.setHostname,
		Policy: ifch.Policy{
			Interfaces: []string{ifi.Name}, AllowedRanges: c.ranges, MinPrefixLen: c.minPrefix,
			AllowLinkLocal: c.allowLinkLocal, AllowOffLinkRouter: c.allowOffLink, MinMTU: c.mtuFloor,
			Classless: c.classless, MinRoutePrefix: c.minRoute,
		},
	}
	// The DNS decision, taken once, here: ifch writes the file only in
	// file mode, and hands the data to the dns role in resolved mode.
	mode, _ := dnsrole.ParseMode(c.dns) // checked by validate
	paths := dnsrole.DefaultPaths
	paths.ResolvConf = c.resolvConf
	mode, why := dnsrole.Decide(mode, paths)
	ic.DNS = mode
	if mode != config.DNSFile {
		ic.ResolvConf = ""
	}
	dc := config.DNS{Log: lg, Socket: c.roles.settings.BusSocketInChroot(), Mode: mode, Why: why}
	eng.Limits = ifch.Policy{MinMTU: c.mtuFloor, Classless: c.classless, MinRoutePrefix: c.minRoute, AllowOffLinkRouter: c.allowOffLink}
	sc := &supervisor.Config{
		Log: log, Stderr: stderr, Settings: c.roles.settings, Degrade: c.roles.degrade, Ifchd: c.ifchd, OneShotTimeout: c.timeout,
		ControlSocket: controlSocketPath(c.controlSocket, ifi.Name), ControlGroup: c.controlGID,
		Engine: eng, Sockd: config.Sockd{Link: link, Log: lg}, Ifch: ic, Hostname: config.Hostname{Log: lg}, DNS: dc,
		Hook: config.Hook{Log: lg, Interface: ifi.Name, Path: c.hook, Timeout: c.hookTimeout},
	}
	if c.eventFD > 0 {
		ev, err := event.OpenFD(c.eventFD)
		if err != nil {
			return nil, err
		}
		sc.Events = ev
	}
	if c.readyFD > 0 {
		// The same kinds of descriptor as the event stream, for the same
		// reason (no regular file: the sandbox's file-size limits).
		f, err := openReadyFD(c.readyFD)
		if err != nil {
			return nil, err
		}
		sc.ReadyFile = f
	}
	return sc, nil
}

// runClient is `ndhc -i IFACE`: it checks what the supervisor needs and
// runs it.
func runClient(args []string) int {
	c := newClientFlags()
	if err := c.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		fmt.Fprintf(os.Stderr, "ndhc: %v\n", err)
		return exitcode.Usage
	}
	if c.detach {
		return detach(args, c.timeout)
	}
	var stderr io.Writer = os.Stderr
	if c.format == logging.Journal {
		stderr = logging.NewJournal(os.Stderr)
	}
	log := roles.NewLogger(stderr, roles.Supervisor, c.iface, config.Log{Level: c.level, Format: c.format})
	// What the caller left open reaches no role (and not this process's
	// code either); only the event stream is kept.
	if err := sandbox.CloseInherited(c.eventFD, c.readyFD); err != nil {
		log.Error("closing inherited descriptors", "err", err)
		return exitcode.Failure
	}
	if os.Geteuid() != 0 {
		log.Error("ndhc must be started as root: it creates the sandboxes of its roles, which then drop root")
		return exitcode.Usage
	}
	ifi, err := net.InterfaceByName(c.iface)
	if err != nil {
		log.Error("no such interface", "err", err)
		return exitcode.Usage
	}
	if len(ifi.HardwareAddr) != 6 {
		log.Error("not an Ethernet interface", "hwaddr", ifi.HardwareAddr.String())
		return exitcode.Usage
	}
	sc, err := c.instance(ifi, log, stderr)
	if err != nil {
		log.Error("configuration", "err", err)
		return exitcode.Usage
	}
	// Connected now, as root and before any sandbox: the supervisor's
	// sandbox leaves it write(2) on this descriptor, nothing to open one.
	if sc.Notify, err = notify.Open(); err != nil {
		log.Error("service manager notifications", "err", err)
		return exitcode.Failure
	}
	defer sc.Notify.Close()
	return supervisor.Run(sc)
}
