package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/conf"
	cfgpkg "github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/dnsrole"
	"github.com/ndhc-go/ndhc/internal/ifchrole"
	"github.com/ndhc-go/ndhc/internal/logging"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// config is everything ifchd is told by flags and the config file. The
// flags that set the same knob as one of ndhc's have ndhc's name.
type config struct {
	config      string
	socket      string
	socketMode  conf.Mode
	socketUser  string
	socketGroup string
	resolvConf  string
	dns         string
	routeMetric int

	maxConns    int
	maxPerUID   int
	idleTimeout time.Duration

	policy ifch.Policy // the rules shared by every peer
	allows allowList

	ifchUser, emptyDir string
	degrade            string   // as given
	degradeLayers      []string // parsed by sandbox.ParseLayers
	level              slog.Level
	format             logging.Format
}

// allowList collects -allow values. Each value holds one or more entries
// separated by white space (the config file can name a key once, so its
// single allow line lists every uid), each
// UID:IFACE[,IFACE...][:RANGES[:PERMS]] (see ifchrole.ParseAllow).
type allowList []ifchrole.Allow

func (a *allowList) String() string { return fmt.Sprint(len(*a), " entries") }

func (a *allowList) Set(s string) error {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return errors.New("want UID:IFACE[,IFACE...][:RANGE[,RANGE...]|any[:PERM[,PERM...]|none]]")
	}
	var add []ifchrole.Allow
	for _, f := range fields {
		e, err := ifchrole.ParseAllow(f)
		if err != nil {
			return err
		}
		add = append(add, e)
	}
	*a = append(*a, add...)
	return nil
}

const usageHead = `ifchd: the interface-change daemon of ndhc-go, standalone.

It listens on a UNIX SOCK_SEQPACKET socket, checks each peer's uid with
SO_PEERCRED against the -allow list, and applies the ifch protocol
(see the ifch package documentation) to the interfaces each uid may change.
Before serving it enters the ifch sandbox: user and group -ifch-user,
chroot -empty-dir, CAP_NET_ADMIN only, no path access, a seccomp allowlist.
The flags that ndhc also has (-route-metric, -mtu-floor, -ifch-user, ...)
have ndhc's names. Flags take one dash or two.

Usage: ifchd [-c FILE] -allow UID:IFACES[:RANGES[:PERMS]] [flags]

Each allow entry is a policy of its own: the interfaces it names, the
ranges the address must fall in ("any": any), and what else the peer may
set (PERMS: dns, routes, mtu, comma-separated, or none; all three when
left out). An interface may be in one entry only. What a peer may not set
is dropped from its requests, and logged.

The config file (-c or -config) is read as ndhc's: "key = value" lines,
# comments, values optionally in double quotes, each key at most once;
the keys are the long flag names below (not c or config). A flag given on
the command line wins over the file, except -allow: the entries of both
are kept. In the file, one allow line lists every entry, separated by
spaces:

	allow = ndhc:eth0 1001:wlan0:192.168.0.0/16

Example: ifchd -allow ndhc:eth0 -allow 1001:wlan0:192.168.0.0/16 -resolv-conf /etc/resolv.conf

Flags:
`

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("ifchd", flag.ContinueOnError)
	fs.StringVar(&c.config, "config", "", "read settings from the config `FILE` (also -c)")
	fs.StringVar(&c.config, "c", "", "short for -config `FILE`")
	fs.StringVar(&c.socket, "socket", "/run/ifchd.sock", "listening socket `PATH`")
	fs.TextVar(&c.socketMode, "socket-mode", conf.Mode(0o660), "socket file `MODE` (octal)")
	fs.StringVar(&c.socketUser, "socket-owner", "root", "socket file owner (`USER` name or uid)")
	fs.StringVar(&c.socketGroup, "socket-group", "root", "socket file group (`GROUP` name or gid)")
	fs.Var(&c.allows, "allow", "let a uid (or user name) change interfaces, with addresses in the ranges (\"any\" or none: any range) and the permissions dns, routes, mtu (or none; all when left out): `UID:IFACE[,IFACE...][:RANGES[:PERMS]]`; repeat, or separate entries with spaces, for more uids")
	fs.StringVar(&c.resolvConf, "resolv-conf", "", "rewrite `PATH` (with PATH.head and PATH.tail) from the leases; empty: never")
	fs.StringVar(&c.dns, "dns", "auto", "where DNS servers go: file (-resolv-conf; a symlink is refused), none, or auto (file, unless -resolv-conf is systemd-resolved's own file while it runs: ifchd has no dns role to reach it, so it refuses to start); resolved is ndhc's alone")
	fs.IntVar(&c.routeMetric, "route-metric", 0, "metric of the routes ifchd installs (0: 1024)")
	fs.IntVar(&c.maxConns, "max-conns", 16, "most connections at once (the sandbox allows 32 descriptors)")
	fs.IntVar(&c.maxPerUID, "max-conns-per-uid", 4, "most connections at once from one uid")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 0, "drop a peer silent for this long (0: never)")
	fs.IntVar(&c.policy.MinPrefixLen, "min-prefix", ifch.DefaultMinPrefixLen, "shortest subnet prefix accepted")
	fs.IntVar(&c.policy.MinMTU, "mtu-floor", ifch.DefaultMinMTU, "smallest MTU accepted (at least 68)")
	fs.IntVar(&c.policy.MaxRoutes, "max-routes", ifch.DefaultMaxRoutes, "most classless static routes")
	fs.IntVar(&c.policy.MaxDNS, "max-dns", ifch.DefaultMaxDNS, "most DNS servers")
	fs.IntVar(&c.policy.MaxSearch, "max-search", ifch.DefaultMaxSearch, "most search domains")
	fs.BoolVar(&c.policy.AllowLinkLocal, "allow-link-local", false, "accept 169.254/16 addresses")
	fs.BoolVar(&c.policy.AllowOffLinkRouter, "allow-offlink-router", false, "accept routers outside the leased subnet (installed onlink)")
	fs.TextVar(&c.policy.Classless, "classless-routes", ifch.ClasslessOn, "option 121 routes taken: on, off or no-default (no default route among them); the others are dropped")
	fs.IntVar(&c.policy.MinRoutePrefix, "min-route-prefix", ifch.DefaultMinRoutePrefix, "shortest classless route taken, the default route apart; shorter ones (TunnelVision's 0/1 and 128/1) are dropped")
	fs.StringVar(&c.ifchUser, "ifch-user", policies.IfchUser, "run as `USER` (name or uid) after start-up; the group has the same name")
	fs.StringVar(&c.emptyDir, "empty-dir", policies.EmptyDir, "empty root-owned `DIR` to chroot to (created if missing)")
	fs.StringVar(&c.degrade, "allow-degraded-sandbox", "", "comma-separated sandbox `LAYERS` (landlock, seccomp) that may be missing; logged")
	// info, as ndhc: ifchd changes the host's addresses, routes and
	// resolv.conf on other programs' behalf, and each change (and each peer
	// that asks for one) deserves a line by default. warn keeps only
	// refusals and failures, the quiet default ifchd had before.
	fs.TextVar(&c.level, "log-level", slog.LevelInfo, "log `LEVEL`: debug, info, warn or error")
	fs.TextVar(&c.format, "log-format", logging.Text, "log `FORMAT`: text, json or journal (syslog priorities)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	return fs
}

// parseConfig reads the command line, then the config file if one is
// named; the command line wins for keys set in both, except -allow, whose
// entries from both are kept. Help and flag errors are written to out.
func parseConfig(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c)
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("ifchd: unexpected argument %q", fs.Arg(0))
	}
	if c.config != "" {
		// -allow adds entries rather than replacing a value: the file's
		// come after the command line's.
		if err := conf.Load(fs, c.config, map[string]string{"c": "config"}, "allow"); err != nil {
			return nil, fmt.Errorf("ifchd: config %w", err)
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *config) validate() error {
	if len(c.allows) == 0 {
		return errors.New("ifchd: no -allow entry: nobody could use the daemon")
	}
	if c.maxConns < 1 || c.maxConns > 20 {
		return errors.New("ifchd: -max-conns must be 1..20 (the sandbox allows 32 descriptors)")
	}
	if c.routeMetric < 0 || int64(c.routeMetric) > math.MaxUint32 {
		return errors.New("ifchd: -route-metric must be 0..4294967295")
	}
	if c.maxPerUID < 1 {
		return errors.New("ifchd: -max-conns-per-uid must be at least 1")
	}
	if c.policy.MinMTU < ifch.MinMTU || c.policy.MinMTU > ifch.MaxMTU {
		return fmt.Errorf("ifchd: -mtu-floor must be %d..%d", ifch.MinMTU, ifch.MaxMTU)
	}
	if c.policy.MinRoutePrefix < 1 || c.policy.MinRoutePrefix > 32 {
		return errors.New("ifchd: -min-route-prefix must be 1..32")
	}
	if c.policy.MinPrefixLen < 1 || c.policy.MinPrefixLen > 32 {
		return errors.New("ifchd: -min-prefix must be 1..32")
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max-routes", c.policy.MaxRoutes}, {"max-dns", c.policy.MaxDNS}, {"max-search", c.policy.MaxSearch}} {
		if n.v < 1 {
			return fmt.Errorf("ifchd: -%s must be at least 1", n.name)
		}
	}
	if err := c.decideDNS(dnsrole.DefaultPaths); err != nil {
		return err
	}
	layers, err := sandbox.ParseLayers(c.degrade)
	if err != nil {
		return fmt.Errorf("ifchd: -allow-degraded-sandbox: %w", err)
	}
	c.degradeLayers = layers
	return nil
}

// decideDNS applies -dns: ifchd writes the -resolv-conf file or nothing.
// It has no dns role (ndhc's way to systemd-resolved), so a host where
// resolv.conf is resolved's own file is refused rather than overwritten.
func (c *config) decideDNS(p dnsrole.Paths) error {
	mode, err := dnsrole.ParseMode(c.dns)
	if err != nil {
		return fmt.Errorf("ifchd: -%w", err)
	}
	if mode == cfgpkg.DNSResolved {
		return errors.New("ifchd: -dns resolved: ifchd has no dns role to reach systemd-resolved; run ndhc without --ifchd (its ifch hands DNS to resolved through its dns role), or give -resolv-conf a file of ifchd's own")
	}
	p.ResolvConf = c.resolvConf
	mode, why := dnsrole.Decide(mode, p)
	switch mode {
	case cfgpkg.DNSNone:
		c.resolvConf = ""
	case cfgpkg.DNSResolved:
		return fmt.Errorf("ifchd: -dns auto: %s; ifchd would overwrite it and has no dns role to reach resolved: use -dns none, or -resolv-conf of a file of ifchd's own", why)
	}
	return nil
}
