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
	"github.com/ndhc-go/ndhc/internal/conf"
)

// clientFlags are the options of `ndhc -i IFACE`; the config file uses the
// same names (long form, without dashes in front).
type clientFlags struct {
	fs       *flag.FlagSet
	roles    *roleSettings
	iface    string
	config   string
	logLevel string

	// DHCP
	hostname    string
	vendorClass string
	clientID    string
	request     string
	oneShot     bool
	releaseExit bool

	// ARP
	arpMode    string
	arpWait    time.Duration
	relentless bool

	// ifch
	ifchd          string
	resolvConf     string
	routeMetric    int
	allowRanges    string
	allowLinkLocal bool
	allowOffLink   bool
	setHostname    bool
	minPrefix      int
	mtuFloor       int
}

func newClientFlags() *clientFlags {
	c := &clientFlags{fs: flag.NewFlagSet("ndhc", flag.ContinueOnError)}
	fs := c.fs
	c.roles = newRoleSettings(fs)
	fs.StringVar(&c.iface, "interface", "", "interface to configure (required; also -i)")
	fs.StringVar(&c.iface, "i", "", "short for --interface")
	fs.StringVar(&c.config, "config", "", "configuration file of key = value lines (also -c)")
	fs.StringVar(&c.config, "c", "", "short for --config")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.hostname, "hostname", "", "host name to send to the server (option 12)")
	fs.StringVar(&c.vendorClass, "vendor-class", "", "vendor class identifier to send (option 60)")
	fs.StringVar(&c.clientID, "clientid", "duid", "client identifier: duid (RFC 4361, kept in the state directory), mac, or string:TEXT")
	fs.StringVar(&c.request, "request", "", "address to ask for in DHCPDISCOVER (option 50)")
	fs.BoolVar(&c.oneShot, "oneshot", false, "exit after the first lease is bound, leaving it configured (also -q)")
	fs.BoolVar(&c.oneShot, "q", false, "short for --oneshot")
	fs.BoolVar(&c.releaseExit, "release-on-exit", false, "send DHCPRELEASE and deconfigure on SIGTERM/SIGINT")
	fs.StringVar(&c.arpMode, "arp-mode", "fast", "address conflict check before binding: fast, rfc5227 or off")
	fs.DurationVar(&c.arpWait, "arp-wait", 0, "fast mode: how long to wait for an answer to the probe (0: default)")
	fs.BoolVar(&c.relentless, "relentless-defense", false, "defend the address forever instead of giving it up on a second conflict (RFC 5227 2.4 (c))")
	fs.StringVar(&c.ifchd, "ifchd", "", "use the standalone ifchd listening on this socket instead of spawning ifch")
	fs.StringVar(&c.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolv.conf to rewrite with the lease's DNS servers (empty: leave alone); PATH.head and PATH.tail are copied around the generated lines")
	fs.IntVar(&c.routeMetric, "route-metric", 0, "metric of the routes ifch installs (0: ifch's default)")
	fs.StringVar(&c.allowRanges, "allow-ranges", "", "comma-separated prefixes the leased address must fall in (empty: any unicast)")
	fs.BoolVar(&c.allowLinkLocal, "allow-link-local", false, "accept 169.254/16 leases")
	fs.BoolVar(&c.allowOffLink, "allow-offlink-router", false, "accept a router outside the leased subnet (installed as onlink)")
	fs.BoolVar(&c.setHostname, "set-hostname", false, "set the system hostname from the lease (option 12), through a role holding only CAP_SYS_ADMIN under a seccomp list that allows sethostname alone")
	fs.IntVar(&c.minPrefix, "min-prefix", 0, "shortest subnet prefix accepted (0: ifch's default, 8)")
	fs.IntVar(&c.mtuFloor, "mtu-floor", 0, "smallest MTU accepted from the server (0: ifch's default, 576)")
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
		b, err := os.ReadFile(c.config)
		if err != nil {
			return err
		}
		entries, err := conf.Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", c.config, err)
		}
		explicit := map[string]bool{}
		c.fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		// Short names alias long ones: a short flag on the command line
		// also wins over the long key in the file.
		for short, long := range map[string]string{"i": "interface", "c": "config", "q": "oneshot"} {
			if explicit[short] {
				explicit[long] = true
			}
		}
		for _, e := range entries {
			if len(e.Key) == 1 || e.Key == "config" {
				return fmt.Errorf("%s: %w", c.config, &conf.Error{Line: e.Line, Msg: fmt.Sprintf("unknown key %q", e.Key)})
			}
		}
		if err := conf.Apply(c.fs, entries, explicit); err != nil {
			return fmt.Errorf("%s: %w", c.config, err)
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
	if c.arpWait < 0 || c.arpWait > 10*time.Second {
		return fmt.Errorf("arp-wait %v: want 0 to 10s", c.arpWait)
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return err
	}
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
	if _, err := c.ranges(); err != nil {
		return err
	}
	if c.routeMetric < 0 || c.minPrefix < 0 || c.minPrefix > 32 || c.mtuFloor < 0 || c.mtuFloor > 65535 {
		return errors.New("route-metric, min-prefix (0..32) and mtu-floor (0..65535) must be in range")
	}
	if c.setHostname && c.ifchd != "" {
		return errors.New("set-hostname: with --ifchd, ifchd sets the hostname (or not); ndhc spawns no ifch to ask")
	}
	if c.ifchd != "" && !strings.HasPrefix(c.ifchd, "/") {
		return fmt.Errorf("ifchd %q: want an absolute socket path", c.ifchd)
	}
	if _, err := c.roles.degradeList(); err != nil {
		return err
	}
	return nil
}

func (c *clientFlags) ranges() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.FieldsFunc(c.allowRanges, func(r rune) bool { return r == ',' }) {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("allow-ranges: %q is not an IPv4 prefix", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// roleConfig is what the supervisor tells every role after spawning it;
// each role reads the parts it needs.
type roleConfig struct {
	Interface string `json:"interface"`
	Ifindex   int    `json:"ifindex"`
	MAC       string `json:"mac"`
	LogLevel  string `json:"log_level"`

	Engine engineConfig `json:"engine"`
	Ifch   ifchConfig   `json:"ifch"`
}

type engineConfig struct {
	Hostname    string        `json:"hostname,omitempty"`
	VendorClass string        `json:"vendor_class,omitempty"`
	ClientID    string        `json:"clientid"`
	Request     string        `json:"request,omitempty"`
	OneShot     bool          `json:"oneshot,omitempty"`
	ReleaseExit bool          `json:"release_on_exit,omitempty"`
	ARPMode     string        `json:"arp_mode"`
	ARPWait     time.Duration `json:"arp_wait,omitempty"`
	Relentless  bool          `json:"relentless,omitempty"`
}

type ifchConfig struct {
	ResolvConf     string         `json:"resolv_conf,omitempty"`
	RouteMetric    int            `json:"route_metric,omitempty"`
	AllowRanges    []netip.Prefix `json:"allow_ranges,omitempty"`
	AllowLinkLocal bool           `json:"allow_link_local,omitempty"`
	AllowOffLink   bool           `json:"allow_offlink_router,omitempty"`
	SetHostname    bool           `json:"set_hostname,omitempty"`
	MinPrefix      int            `json:"min_prefix,omitempty"`
	MTUFloor       int            `json:"mtu_floor,omitempty"`
}

// roleConfigFor builds the role configuration for the resolved interface.
func (c *clientFlags) roleConfigFor(ifi *net.Interface) roleConfig {
	ranges, _ := c.ranges()
	return roleConfig{
		Interface: ifi.Name, Ifindex: ifi.Index, MAC: ifi.HardwareAddr.String(), LogLevel: c.logLevel,
		Engine: engineConfig{
			Hostname: c.hostname, VendorClass: c.vendorClass, ClientID: c.clientID, Request: c.request,
			OneShot: c.oneShot, ReleaseExit: c.releaseExit, ARPMode: c.arpMode, ARPWait: c.arpWait, Relentless: c.relentless,
		},
		Ifch: ifchConfig{
			ResolvConf: c.resolvConf, RouteMetric: c.routeMetric, AllowRanges: ranges, AllowLinkLocal: c.allowLinkLocal,
			AllowOffLink: c.allowOffLink, SetHostname: c.setHostname, MinPrefix: c.minPrefix, MTUFloor: c.mtuFloor,
		},
	}
}
