// Command labbench is the client half of `make bench`: in a
// network-namespace lab with dnsmasq it starts ndhc and its peers (busybox
// udhcpc, dhcpcd with privilege separation, ISC dhclient) cold, several
// times each, and measures with events, never by polling:
//
//   - exec → first DHCPDISCOVER: the kernel receive timestamp
//     (SO_TIMESTAMPNS) of the DISCOVER on the server's bridge, minus the
//     time taken just before the fork and exec of the client;
//   - exec → bound: the receive time of the RTM_NEWADDR event for the
//     client's interface on a netlink socket in the client namespace,
//     subscribed before the exec;
//   - once bound: the client's processes (the started process, its
//     descendants and anything else in the client namespace), the sum of
//     their PSS and how many of them hold uid 0;
//   - with a squatter answering ARP for the first address the server
//     offers: exec → a good address bound, for ndhc's default ARP check
//     and for dhcpcd, and whether ndhc ever configured the squatted
//     address.
//
// It prints the tables with medians, minima and maxima and the ratios of
// ndhc to each peer (the machine's fork and exec speed weighs on every
// client alike, so ratios travel better than milliseconds), and with
// --json writes every run's figures for a later diff. It asserts no
// timing. Peers run with scripts that only add the address and with their
// own configuration files in the lab's directory, so that none touches
// anything outside the lab.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
)

type options struct {
	bin          string
	runs         int
	conflictRuns int
	settle       time.Duration
	jsonPath     string
	skipConflict bool
	only         *regexp.Regexp
}

func main() {
	var o options
	flag.StringVar(&o.bin, "ndhc", "bin/ndhc", "the ndhc binary")
	flag.IntVar(&o.runs, "runs", 7, "cold runs per client")
	flag.IntVar(&o.conflictRuns, "conflict-runs", 0, "runs per client with a squatter (0: as -runs)")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "wait after bound before counting processes and PSS (ndhc's roles give back their start-up memory after a second of quiet)")
	flag.StringVar(&o.jsonPath, "json", "", "also write every run's figures as JSON to this file (- for stdout)")
	flag.BoolVar(&o.skipConflict, "no-conflict", false, "skip the conflict table")
	only := flag.String("only", "", "run only the clients whose name matches this regular expression (\"ndhc\", \"dhcpcd|ndhc\")")
	flag.Parse()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "labbench: -only:", err)
			os.Exit(2)
		}
		o.only = re
	}
	if o.runs < 1 || o.runs > 100 || o.conflictRuns < 0 || o.conflictRuns > 100 {
		fmt.Fprintln(os.Stderr, "labbench: -runs and -conflict-runs: 1 to 100")
		os.Exit(2)
	}
	if o.conflictRuns == 0 {
		o.conflictRuns = o.runs
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "labbench:", err)
		os.Exit(1)
	}
}

// contender is one client as the lab starts it.
type contender struct {
	Name string `json:"name"`
	prog string // looked up in PATH
	pkg  string // Debian package that provides prog
	argv func(dir string) []string
	Note string `json:"note,omitempty"`
}

// runResult is one cold run.
type runResult struct {
	DiscoverMS float64 `json:"exec_to_discover_ms"` // -1: no DISCOVER seen
	BoundMS    float64 `json:"exec_to_bound_ms"`
	Addr       string  `json:"addr"`
	procStats
	Procs    []string `json:"procs"`
	Squatted bool     `json:"configured_squatted,omitempty"`
}

// summary is the median, minimum and maximum of one figure.
type summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	// The lower median for an even count: a figure that was measured.
	return summary{Median: s[(len(s)-1)/2], Min: s[0], Max: s[len(s)-1]}
}

type row struct {
	contender
	Missing   string      `json:"missing,omitempty"`
	Runs      []runResult `json:"runs,omitempty"`
	Discover  summary     `json:"exec_to_discover_ms"`
	Bound     summary     `json:"exec_to_bound_ms"`
	Processes summary     `json:"processes"`
	PSS       summary     `json:"pss_kb"`
	Root      summary     `json:"root_processes"`
}

func (r *row) finish() {
	var d, b, n, p, u []float64
	for _, x := range r.Runs {
		if x.DiscoverMS >= 0 {
			d = append(d, x.DiscoverMS)
		}
		b = append(b, x.BoundMS)
		n = append(n, float64(x.Processes))
		p = append(p, float64(x.PSSkB))
		u = append(u, float64(x.Root))
	}
	r.Discover, r.Bound, r.Processes, r.PSS, r.Root = summarize(d), summarize(b), summarize(n), summarize(p), summarize(u)
}

type report struct {
	Date        string  `json:"date"`
	Kernel      string  `json:"kernel"`
	NdhcVersion string  `json:"ndhc_version"`
	Runs        int     `json:"runs"`
	Clock       string  `json:"clock"`
	ExecFloorMS summary `json:"ip_netns_exec_true_ms"`
	Lease       []row   `json:"lease"`
	Conflict    []row   `json:"conflict,omitempty"`
	Squatted    string  `json:"squatted_addr,omitempty"`
}

const peerScript = `#!/bin/sh
# Adds the leased address and nothing else (no routes, no resolv.conf).
case "$1" in
bound|renew) ip addr add "$ip/$mask" dev "$interface" ;;             # udhcpc
esac
case "$reason" in
BOUND|RENEW|REBOOT) ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;  # dhclient
esac
exit 0
`

// dhclient reads this instead of /etc/dhcp/dhclient.conf.
const dhclientConf = `# labbench: ask for what the other clients use; nothing else.
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name;
`

// dhcpcd reads this instead of /etc/dhcpcd.conf; its script is /bin/true,
// so no hook runs (no resolv.conf, hostname, NTP or timesyncd changes).
const dhcpcdConf = `# labbench: IPv4 only, no link-local fallback, no hooks.
ipv4only
noipv4ll
option subnet_mask, routers, domain_name_servers, domain_name
`

func ndhcArgv(bin, iface string, extra ...string) func(string) []string {
	return func(d string) []string {
		return append([]string{bin, "-i", iface, "--state-dir", filepath.Join(d, "state"),
			"--empty-dir", filepath.Join(d, "empty"), "--dns", "file", "--resolv-conf", filepath.Join(d, "resolv.conf"),
			"--control-socket", "none"}, extra...)
	}
}

// dhcpcdArgv runs dhcpcd in the foreground (-B) as Debian ships it
// (privilege separation on). `ip netns exec` gives it a mount namespace of
// its own, slave to the host's: fresh tmpfs over its state and run
// directories keep it from rebooting a saved lease (every run is cold) and
// from touching the host's files.
func dhcpcdArgv(dir, iface string, extra ...string) func(string) []string {
	return func(string) []string {
		a := []string{"sh", "-c", `mount -t tmpfs ndhc-bench /var/lib/dhcpcd && mount -t tmpfs ndhc-bench /run && exec "$@"`, "sh",
			"dhcpcd", "-4", "--nodelay", "-B", "-f", filepath.Join(dir, "dhcpcd.conf"), "-c", "/bin/true"}
		return append(append(a, extra...), iface)
	}
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it builds a network-namespace lab")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return err
	}
	lab.CleanupStale()
	rep := report{Date: time.Now().UTC().Format(time.RFC3339), Runs: o.runs, Kernel: kernel(), NdhcVersion: version(bin),
		Clock: "CLOCK_REALTIME: exec mark before fork+exec, SO_TIMESTAMPNS of the DISCOVER on the server bridge, receive time of RTM_NEWADDR"}

	l, err := lab.New(lab.Config{Name: "bench"})
	if err != nil {
		return err
	}
	defer l.Close()
	gw := l.Net.Gateway()
	if _, err := l.StartDnsmasq(lab.ServerConfig{Router: gw, DNS: []netip.Addr{gw}}); err != nil {
		return err
	}
	dir := l.Dir()
	if err := writeFiles(dir); err != nil {
		return err
	}
	iface := l.Client.IfName()
	script := filepath.Join(dir, "peer-script")
	contenders := []contender{
		{Name: "ndhc-go --arp-mode off", prog: bin, argv: ndhcArgv(bin, iface, "--arp-mode", "off")},
		{Name: "ndhc-go default (fast ARP)", prog: bin, argv: ndhcArgv(bin, iface)},
		{Name: "busybox udhcpc", prog: "busybox", pkg: "busybox", argv: func(d string) []string {
			return []string{"busybox", "udhcpc", "-i", iface, "-f", "-n", "-s", script}
		}, Note: "no ARP check (no -a)"},
		{Name: "dhcpcd -A -4 --nodelay (privsep)", prog: "dhcpcd", pkg: "dhcpcd-base", argv: dhcpcdArgv(dir, iface, "-A"),
			Note: "-A: no ARP check; configures the address itself, script /bin/true"},
		{Name: "ISC dhclient", prog: "dhclient", pkg: "isc-dhcp-client", argv: func(d string) []string {
			return []string{"dhclient", "-4", "-1", "-d", "-cf", filepath.Join(dir, "dhclient.conf"), "-sf", script,
				"-lf", filepath.Join(d, "dhclient.leases"), "-pf", filepath.Join(d, "dhclient.pid"), iface}
		}, Note: "no ARP check"},
	}
	dw, err := watchDiscovers(l.Net.NS)
	if err != nil {
		return err
	}
	defer dw.Close()
	rep.ExecFloorMS = execFloor(l.Client, o.runs)
	fmt.Printf("ndhc lab benchmark: dnsmasq in a namespace, veth, %d cold runs per client, medians [min-max]\n", o.runs)
	fmt.Printf("timing: %s\n", rep.Clock)
	fmt.Printf("floor: `ip netns exec` of /bin/true, fork to exit, %.1f ms median (every client is started that way)\n\n", rep.ExecFloorMS.Median)
	// The runs are interleaved, one of each client in turn, so that a
	// change in the machine's load over the benchmark falls on every
	// client alike.
	rows := make([]*row, 0, len(contenders))
	for _, c := range contenders {
		if o.only != nil && !o.only.MatchString(c.Name) {
			continue
		}
		r := &row{contender: c}
		if _, err := exec.LookPath(c.prog); err != nil {
			r.Missing = "not installed (apt-get install " + c.pkg + ")"
			fmt.Fprintf(os.Stderr, "labbench: %s: %s\n", c.Name, r.Missing)
		}
		rows = append(rows, r)
	}
	for i := range o.runs {
		for _, r := range rows {
			if r.Missing != "" {
				continue
			}
			res, err := coldRun(l, dw, r.contender, filepath.Join(dir, slug(r.Name)), o.settle, 30*time.Second, func(netip.Prefix) bool { return true })
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", r.Name, i+1, err)
			}
			r.Runs = append(r.Runs, res)
		}
	}
	for _, r := range rows {
		if r.Missing == "" {
			r.finish()
		}
		rep.Lease = append(rep.Lease, *r)
	}
	printLease(os.Stdout, rep.Lease)
	if !o.skipConflict {
		var sq netip.Addr
		rep.Conflict, sq, err = conflict(o, bin)
		if err != nil {
			return fmt.Errorf("conflict: %w", err)
		}
		rep.Squatted = sq.String()
		printConflict(os.Stdout, rep.Conflict, sq)
	}
	printRatios(os.Stdout, rep)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep); err != nil {
			return err
		}
	}
	for _, r := range rep.Conflict {
		if strings.HasPrefix(r.Name, "ndhc") {
			for i, x := range r.Runs {
				if x.Squatted {
					return fmt.Errorf("%s configured the squatted address %v in run %d", r.Name, rep.Squatted, i+1)
				}
			}
		}
	}
	return nil
}

func writeFiles(dir string) error {
	for name, body := range map[string]string{"peer-script": peerScript, "dhclient.conf": dhclientConf, "dhcpcd.conf": dhcpcdConf} {
		mode := os.FileMode(0o644)
		if name == "peer-script" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			return err
		}
	}
	return nil
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// conflict runs ndhc's default mode and dhcpcd (with its ARP check) against
// a squatter that owns the address dnsmasq offers this client first, in a
// lab of its own whose pool holds that address and one more. Neither
// client asks for an address (dhcpcd -r would ask for the squatted one
// for ever). dnsmasq restarts with an empty lease file before each run,
// so that every run meets the squatted address first (dnsmasq remembers a
// declined address).
func conflict(o options, bin string) ([]row, netip.Addr, error) {
	l, err := lab.New(lab.Config{Name: "benchc", ClientMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}})
	if err != nil {
		return nil, netip.Addr{}, err
	}
	defer l.Close()
	gw := l.Net.Gateway()
	srv, err := l.StartDnsmasq(lab.ServerConfig{Router: gw, DNS: []netip.Addr{gw}, RangeStart: l.Net.Host(100), RangeEnd: l.Net.Host(101)})
	if err != nil {
		return nil, netip.Addr{}, err
	}
	dir := l.Dir()
	if err := writeFiles(dir); err != nil {
		return nil, netip.Addr{}, err
	}
	dw, err := watchDiscovers(l.Net.NS)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	defer dw.Close()
	iface := l.Client.IfName()
	restart := func() error {
		if err := srv.Stop(); err != nil {
			return err
		}
		if err := os.Remove(srv.LeaseFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return srv.Restart()
	}
	// Which address dnsmasq offers first depends on a hash of the MAC:
	// one run without a squatter tells.
	probe := contender{Name: "probe", prog: bin, argv: ndhcArgv(bin, iface, "--arp-mode", "off")}
	res, err := coldRun(l, dw, probe, filepath.Join(dir, "probe"), 0, 30*time.Second, func(netip.Prefix) bool { return true })
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("probe: %w", err)
	}
	first, err := netip.ParsePrefix(res.Addr)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	squatted := first.Addr()
	if _, err := l.AddSquatter(squatted); err != nil {
		return nil, squatted, err
	}
	contenders := []contender{
		{Name: "ndhc-go default (fast ARP)", prog: bin, argv: ndhcArgv(bin, iface)},
		{Name: "dhcpcd -4 --nodelay (privsep)", prog: "dhcpcd", pkg: "dhcpcd-base", argv: dhcpcdArgv(dir, iface),
			Note: "its RFC 5227 ARP probes"},
	}
	good := func(p netip.Prefix) bool { return p.Addr() != squatted }
	var rows []row
	for _, c := range contenders {
		r := row{contender: c}
		if _, err := exec.LookPath(c.prog); err != nil {
			r.Missing = "not installed (apt-get install " + c.pkg + ")"
			rows = append(rows, r)
			continue
		}
		cdir := filepath.Join(dir, slug(c.Name))
		for i := range o.conflictRuns {
			if err := restart(); err != nil {
				return nil, squatted, err
			}
			res, err := coldRun(l, dw, c, cdir, 0, 60*time.Second, good)
			if err != nil {
				return nil, squatted, fmt.Errorf("%s, run %d: %w", c.Name, i+1, err)
			}
			r.Runs = append(r.Runs, res)
		}
		r.finish()
		rows = append(rows, r)
	}
	return rows, squatted, nil
}

// coldRun starts one client with no address and no saved lease, waits for
// an address for which good holds, and measures the run.
func coldRun(l *lab.Lab, dw *discoverWatch, c contender, dir string, settle, timeout time.Duration, good func(netip.Prefix) bool) (runResult, error) {
	res := runResult{DiscoverMS: -1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	// The client's directory lives across its runs, as the peers' DUID
	// files under /var/lib would: ndhc keeps its DUID and IAID; only
	// leases go, so every run starts from INIT with a DHCPDISCOVER.
	leases, _ := filepath.Glob(filepath.Join(dir, "state", "*", "lease"))
	for _, f := range append(leases, filepath.Join(dir, "dhclient.leases")) {
		os.Remove(f)
	}
	if _, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "flush", "dev", l.Client.IfName()); err != nil {
		return res, err
	}
	aw, err := watchAddrs(l.Client)
	if err != nil {
		return res, err
	}
	defer aw.Close()
	cmd := l.Client.Command(context.Background(), c.argv(dir)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := nowNS()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer stop(l.Client, cmd)
	ev, err := aw.wait(timeout, good)
	if err != nil {
		return res, fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	res.BoundMS = ms(ev.at - start)
	res.Addr = ev.addr.String()
	if t, ok := dw.first(start); ok {
		res.DiscoverMS = ms(t - start)
	}
	if settle > 0 {
		time.Sleep(settle) // forks after binding (daemons) and announcements finish
	}
	pids := clientProcs(l.Client, cmd.Process.Pid)
	res.procStats = measureProcs(pids)
	res.Procs = procNames(pids)
	for _, a := range aw.added() {
		if !good(a) {
			res.Squatted = true
		}
	}
	return res, nil
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// stop ends a client: SIGTERM to the started process, then, after 3 s,
// SIGKILL to every process of the client (by pid: all were started by
// this run, in the client namespace where nothing else runs).
func stop(ns *lab.NS, cmd *exec.Cmd) {
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	for range 50 { // leftovers: forked daemons
		pids := clientProcs(ns, pid)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	<-done
}

// execFloor is the median of n starts of /bin/true through `ip netns exec`
// in the client namespace, fork to exit.
func execFloor(ns *lab.NS, n int) summary {
	var v []float64
	for range n {
		cmd := ns.Command(context.Background(), "/bin/true")
		t := nowNS()
		if err := cmd.Run(); err != nil {
			continue
		}
		v = append(v, ms(nowNS()-t))
	}
	return summarize(v)
}

func kernel() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func version(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func spread(s summary) string {
	return fmt.Sprintf("%.1f [%.1f-%.1f]", s.Median, s.Min, s.Max)
}

func printLease(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\texec->DISCOVER ms\texec->bound ms\tprocesses\tPSS sum kB\troot processes\t")
	for _, r := range rows {
		if r.Missing != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\n", r.Name, r.Missing)
			continue
		}
		disc := "not seen"
		if r.Discover != (summary{}) {
			disc = spread(r.Discover)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t\n", r.Name, disc, spread(r.Bound), r.Processes.Median, r.PSS.Median, r.Root.Median)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Note)
		}
	}
	for _, r := range rows {
		if len(r.Runs) > 0 {
			fmt.Fprintf(w, "  %s, processes once bound (last run): %s\n", r.Name, strings.Join(r.Runs[len(r.Runs)-1].Procs, " "))
		}
	}
	fmt.Fprintln(w)
}

func printConflict(w io.Writer, rows []row, sq netip.Addr) {
	fmt.Printf("conflict: a squatter answers ARP for %v, the address dnsmasq offers this client first; exec to a good address bound\n", sq)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\texec->DISCOVER ms\texec->good address ms\tconfigured the squatted address\t")
	for _, r := range rows {
		if r.Missing != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\n", r.Name, r.Missing)
			continue
		}
		n := 0
		for _, x := range r.Runs {
			if x.Squatted {
				n++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d of %d runs\t\n", r.Name, spread(r.Discover), spread(r.Bound), n, len(r.Runs))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// printRatios prints ndhc's medians divided by each peer's: below 1 is
// ndhc ahead.
func printRatios(w io.Writer, rep report) {
	find := func(rows []row, prefix string) *row {
		for i := range rows {
			if strings.HasPrefix(rows[i].Name, prefix) && rows[i].Missing == "" {
				return &rows[i]
			}
		}
		return nil
	}
	off, def := find(rep.Lease, "ndhc-go --arp-mode off"), find(rep.Lease, "ndhc-go default")
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	fmt.Fprintln(w, "ratios, ndhc-go median / peer median (below 1: ndhc-go ahead)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "peer\tDISCOVER, ARP off\tbound, ARP off\tbound, fast ARP\tPSS\t")
	for _, r := range rep.Lease {
		if strings.HasPrefix(r.Name, "ndhc") {
			continue
		}
		if r.Missing != "" || off == nil || def == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t\n", r.Name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Name, ratio(off.Discover.Median, r.Discover.Median),
			ratio(off.Bound.Median, r.Bound.Median), ratio(def.Bound.Median, r.Bound.Median), ratio(off.PSS.Median, r.PSS.Median))
	}
	tw.Flush()
	if off != nil && def != nil {
		fmt.Fprintf(w, "the fast ARP check adds %.1f ms to exec->bound (median against median; its window is 250 ms)\n", def.Bound.Median-off.Bound.Median)
	}
	if a, b := find(rep.Conflict, "ndhc"), find(rep.Conflict, "dhcpcd"); a != nil && b != nil {
		fmt.Fprintf(w, "conflict, exec to a good address: ndhc-go %s of dhcpcd's\n", ratio(a.Bound.Median, b.Bound.Median))
	}
	fmt.Fprintln(w)
}
