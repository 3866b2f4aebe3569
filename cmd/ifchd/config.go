package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/policies"
)

// config is everything ifchd is told by flags and the config file.
type config struct {
	socket      string
	socketMode  uint
	socketUser  string
	socketGroup string
	resolvConf  string
	metric      int

	maxConns    int
	maxPerUID   int
	idleTimeout time.Duration

	policy ifch.Policy // the rules shared by every peer
	allows allowList

	user, group, chroot string
	degrade             string
	verbose             bool
}

// allowList collects -allow values: UID:IFACE[,IFACE...][:RANGE[,RANGE...]].
type allowList []allowEntry

type allowEntry struct {
	who    string // uid or user name, resolved before the sandbox
	ifaces []string
	ranges []netip.Prefix
}

func (a *allowList) String() string { return fmt.Sprint(len(*a), " entries") }

func (a *allowList) Set(s string) error {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return errors.New("want UID:IFACE[,IFACE...][:RANGE[,RANGE...]]")
	}
	e := allowEntry{who: parts[0]}
	for _, n := range strings.Split(parts[1], ",") {
		if _, err := ifch.Unmarshal([]byte("carrier " + n + "\n")); err != nil {
			return fmt.Errorf("interface %q is not a valid name", n)
		}
		e.ifaces = append(e.ifaces, n)
	}
	if len(parts) == 3 && parts[2] != "any" {
		for _, r := range strings.Split(parts[2], ",") {
			p, err := netip.ParsePrefix(r)
			if err != nil || !p.Addr().Is4() {
				return fmt.Errorf("range %q is not an IPv4 prefix", r)
			}
			e.ranges = append(e.ranges, p.Masked())
		}
	}
	*a = append(*a, e)
	return nil
}

type octalFlag struct{ v *uint }

func (o octalFlag) String() string {
	if o.v == nil {
		return "0"
	}
	return fmt.Sprintf("%#o", *o.v)
}

func (o octalFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return errors.New("want an octal mode up to 0777")
	}
	*o.v = uint(n)
	return nil
}

const usageHead = `ifchd: the interface-change daemon of ndhc-go, standalone.

It listens on a UNIX SOCK_SEQPACKET socket, checks each peer's uid with
SO_PEERCRED against the -allow list, and applies the ifch protocol
(see the ifch package documentation) to the interfaces each uid may change.
Before serving it enters the ifch sandbox: user -user, chroot -chroot,
CAP_NET_ADMIN only, no path access, a seccomp allowlist.

Usage: ifchd [-c FILE] -allow UID:IFACES[:RANGES] [flags]

The config file holds "key = value" lines with # comments; the keys are
the flag names below. Flags on the command line override it; -allow
entries from both are kept.

Example: ifchd -allow ndhc:eth0 -allow 1001:wlan0:192.168.0.0/16 -resolv-conf /etc/resolv.conf

Flags:
`

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("ifchd", flag.ContinueOnError)
	fs.String("c", "", "read settings from `FILE` first")
	fs.StringVar(&c.socket, "socket", "/run/ifchd.sock", "listening socket `PATH`")
	c.socketMode = 0o660
	fs.Var(octalFlag{&c.socketMode}, "socket-mode", "socket file `MODE` (octal)")
	fs.StringVar(&c.socketUser, "socket-owner", "root", "socket file owner (`USER` name or uid)")
	fs.StringVar(&c.socketGroup, "socket-group", "root", "socket file group (`GROUP` name or gid)")
	fs.Var(&c.allows, "allow", "let a uid (or user name) change interfaces, with addresses in the ranges (\"any\" or none: any range): `UID:IFACE[,IFACE...][:RANGE[,RANGE...]]`; repeat for more uids")
	fs.StringVar(&c.resolvConf, "resolv-conf", "", "rewrite `PATH` (with PATH.head and PATH.tail) from the leases; empty: never")
	fs.IntVar(&c.metric, "metric", 0, "priority of the routes ifchd installs (0: 1024)")
	fs.IntVar(&c.maxConns, "max-conns", 16, "most connections at once (the sandbox allows 32 descriptors)")
	fs.IntVar(&c.maxPerUID, "max-conns-per-uid", 4, "most connections at once from one uid")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 0, "drop a peer silent for this long (0: never)")
	fs.IntVar(&c.policy.MinPrefixLen, "min-prefix", ifch.DefaultMinPrefixLen, "shortest subnet prefix accepted")
	fs.IntVar(&c.policy.MinMTU, "min-mtu", ifch.DefaultMinMTU, "smallest MTU accepted (at least 68)")
	fs.IntVar(&c.policy.MaxRoutes, "max-routes", ifch.DefaultMaxRoutes, "most classless static routes")
	fs.IntVar(&c.policy.MaxDNS, "max-dns", ifch.DefaultMaxDNS, "most DNS servers")
	fs.IntVar(&c.policy.MaxSearch, "max-search", ifch.DefaultMaxSearch, "most search domains")
	fs.BoolVar(&c.policy.AllowLinkLocal, "allow-link-local", false, "accept 169.254/16 addresses")
	fs.BoolVar(&c.policy.AllowOffLinkRouter, "allow-offlink-router", false, "accept routers outside the leased subnet (installed onlink)")
	fs.BoolVar(&c.policy.ForbidClasslessDefault, "forbid-classless-default", false, "refuse a default route in the classless static routes")
	fs.StringVar(&c.user, "user", policies.IfchUser, "run as `USER` (name or uid) after start-up")
	fs.StringVar(&c.group, "group", policies.IfchUser, "run as `GROUP` (name or gid) after start-up")
	fs.StringVar(&c.chroot, "chroot", policies.EmptyDir, "empty root-owned `DIR` to chroot to (created if missing)")
	fs.StringVar(&c.degrade, "allow-degraded-sandbox", "", "comma-separated sandbox `LAYERS` (landlock, seccomp) that may be missing; logged")
	fs.BoolVar(&c.verbose, "v", false, "log every change, not only refusals and failures")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	return fs
}

// parseConfig reads the flags, and the -c file first if one is named. Help
// and flag errors are written to out.
func parseConfig(args []string, out io.Writer) (*config, error) {
	// First pass: only to learn -c.
	pre := newFlagSet(&config{})
	pre.SetOutput(discard{})
	pre.Usage = func() {}
	var file string
	if err := pre.Parse(args); err == nil {
		file = pre.Lookup("c").Value.String()
	}
	c := &config{}
	fs := newFlagSet(c)
	fs.SetOutput(out)
	if file != "" {
		if err := applyFile(fs, file); err != nil {
			return nil, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("ifchd: unexpected argument %q", fs.Arg(0))
	}
	if len(c.allows) == 0 {
		return nil, errors.New("ifchd: no -allow entry: nobody could use the daemon")
	}
	if c.maxConns < 1 || c.maxConns > 20 {
		return nil, errors.New("ifchd: -max-conns must be 1..20 (the sandbox allows 32 descriptors)")
	}
	if c.metric < 0 || int64(c.metric) > math.MaxUint32 {
		return nil, errors.New("ifchd: -metric must be 0..4294967295")
	}
	if c.maxPerUID < 1 {
		return nil, errors.New("ifchd: -max-conns-per-uid must be at least 1")
	}
	if c.policy.MinMTU < ifch.MinMTU || c.policy.MinMTU > ifch.MaxMTU {
		return nil, fmt.Errorf("ifchd: -min-mtu must be %d..%d", ifch.MinMTU, ifch.MaxMTU)
	}
	if c.policy.MinPrefixLen < 1 || c.policy.MinPrefixLen > 32 {
		return nil, errors.New("ifchd: -min-prefix must be 1..32")
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max-routes", c.policy.MaxRoutes}, {"max-dns", c.policy.MaxDNS}, {"max-search", c.policy.MaxSearch}} {
		if n.v < 1 {
			return nil, fmt.Errorf("ifchd: -%s must be at least 1", n.name)
		}
	}
	return c, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// applyFile sets flags from "key = value" lines.
func applyFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ifchd: config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return fmt.Errorf("ifchd: config %s:%d: want key = value", path, n)
		}
		if k == "c" || fs.Lookup(k) == nil {
			return fmt.Errorf("ifchd: config %s:%d: unknown key %q", path, n, k)
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("ifchd: config %s:%d: %s: %w", path, n, k, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ifchd: config: %w", err)
	}
	return nil
}

// resolveAllows turns the allow list into one policy per uid. It reads the
// user database, so it runs before the sandbox.
func resolveAllows(c *config) (map[uint32]*ifch.Policy, error) {
	out := make(map[uint32]*ifch.Policy)
	for _, e := range c.allows {
		uid, err := lookupUID(e.who)
		if err != nil {
			return nil, err
		}
		p := out[uid]
		if p == nil {
			cp := c.policy
			cp.Interfaces, cp.AllowedRanges = nil, nil
			p = &cp
			out[uid] = p
		}
		p.Interfaces = append(p.Interfaces, e.ifaces...)
		p.AllowedRanges = append(p.AllowedRanges, e.ranges...)
	}
	return out, nil
}

func lookupUID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, fmt.Errorf("ifchd: -allow %s: %w", s, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("ifchd: -allow %s: uid %q: %w", s, u.Uid, err)
	}
	return uint32(n), nil
}

func lookupGID(s string) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("ifchd: group %s: %w", s, err)
	}
	return strconv.Atoi(g.Gid)
}
