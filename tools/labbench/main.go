// Command labbench is the client half of `make bench`: in a
// network-namespace lab with dnsmasq it measures, over several cold runs,
// how long ndhc and its peers (ISC dhclient, dhcpcd, busybox udhcpc) take
// from process start until the leased address is on the interface, the
// time from exec to ndhc's first DHCPDISCOVER on the wire, and the memory
// of all ndhc processes once bound. Peers run with scripts that only add
// the address, so none of them touches anything outside the lab.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/vishvananda/netlink"
)

func main() {
	bin := flag.String("ndhc", "bin/ndhc", "the ndhc binary")
	runs := flag.Int("runs", 7, "cold runs per client")
	flag.Parse()
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "labbench:", err)
		os.Exit(1)
	}
}

type contender struct {
	name string
	prog string
	argv func(iface, dir string) []string
	note string
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

func run(bin string, runs int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: it builds a network-namespace lab")
	}
	bin, _ = filepath.Abs(bin)
	lab.CleanupStale()
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
	script := filepath.Join(dir, "peer-script")
	if err := os.WriteFile(script, []byte(peerScript), 0o755); err != nil {
		return err
	}
	ndhcArgs := func(arp string) func(iface, dir string) []string {
		return func(iface, d string) []string {
			return []string{bin, "-i", iface, "-q", "--arp-mode", arp, "--state-dir", filepath.Join(d, "state"),
				"--empty-dir", filepath.Join(d, "empty"), "--resolv-conf", filepath.Join(d, "resolv.conf")}
		}
	}
	contenders := []contender{
		{name: "ndhc --arp-mode off", prog: bin, argv: ndhcArgs("off")},
		{name: "ndhc (default: fast ARP check)", prog: bin, argv: ndhcArgs("fast")},
		{name: "ndhc --arp-mode rfc5227", prog: bin, argv: ndhcArgs("rfc5227"), note: "RFC 5227 probe timings"},
		{name: "dhclient -1 (isc-dhcp-client)", prog: "dhclient", argv: func(iface, d string) []string {
			return []string{"dhclient", "-4", "-1", "-d", "-sf", script, "-lf", filepath.Join(d, "dhclient.leases"), "-pf", filepath.Join(d, "dhclient.pid"), iface}
		}},
		{name: "dhcpcd -A -4 --nodelay", prog: "dhcpcd", argv: func(iface, d string) []string {
			// ip netns exec runs it in a mount namespace of its own: fresh
			// tmpfs over dhcpcd's state and run directories keep it from
			// rebooting a saved lease (unfair) and from touching the host's.
			return []string{"sh", "-c", `mount -t tmpfs ndhc-bench /var/lib/dhcpcd && mount -t tmpfs ndhc-bench /run && exec "$@"`, "sh",
				"dhcpcd", "-A", "-4", "--nodelay", "-1", "-B", "-f", "/dev/null", "-c", "/bin/true", "-C", "resolv.conf", iface}
		}, note: "configures the address itself; hooks disabled"},
		{name: "busybox udhcpc", prog: "busybox", argv: func(iface, d string) []string {
			return []string{"busybox", "udhcpc", "-i", iface, "-f", "-q", "-n", "-s", script}
		}},
	}
	fmt.Printf("ndhc lab benchmark: dnsmasq in a namespace, %d cold runs per client, time from process start until the address is on the interface\n\n", runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tmedian ms\tmin ms\tmax ms\tvs ndhc --arp-mode off\t")
	var base float64
	for _, c := range contenders {
		if _, err := exec.LookPath(c.prog); err != nil {
			fmt.Fprintf(tw, "%s\tnot installed\t\t\t\t\n", c.name)
			continue
		}
		var times []time.Duration
		for range runs {
			// One directory per client across its runs: like the peers'
			// DUID and lease files under /var/lib, ndhc's DUID and IAID
			// persist; only the lease is removed, so every run starts from
			// INIT with a DHCPDISCOVER.
			d, err := coldRun(l, c, fmt.Sprintf("%s/%s", dir, strings.ReplaceAll(c.name, " ", "_")))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			times = append(times, d)
		}
		slices.Sort(times)
		med := times[len(times)/2]
		ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
		if base == 0 {
			base = float64(med)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2fx\t\n", c.name, ms(med), ms(times[0]), ms(times[len(times)-1]), float64(med)/base)
	}
	tw.Flush()
	return ndhcDetails(l, bin, dir)
}

// coldRun starts one client with no address and no saved lease, and
// returns the time until the address shows on the interface.
func coldRun(l *lab.Lab, c contender, dir string) (time.Duration, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	leases, _ := filepath.Glob(filepath.Join(dir, "state", "*", "lease"))
	for _, f := range append(leases, filepath.Join(dir, "dhclient.leases")) {
		os.Remove(f)
	}
	if _, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "flush", "dev", l.Client.IfName()); err != nil {
		return 0, err
	}
	cmd := l.Client.Command(context.Background(), c.argv(l.Client.IfName(), dir)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	var took time.Duration
	err := l.Client.Do(func() error {
		link, err := netlink.LinkByName(l.Client.IfName())
		if err != nil {
			return err
		}
		for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Microsecond) {
			addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			if len(addrs) > 0 {
				took = time.Since(start)
				return nil
			}
		}
		return fmt.Errorf("no address within 30s; output:\n%s", out.String())
	})
	return took, err
}

// ndhcDetails measures exec to first DISCOVER and the memory of a bound
// ndhc.
func ndhcDetails(l *lab.Lab, bin, dir string) error {
	if _, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "flush", "dev", l.Client.IfName()); err != nil {
		return err
	}
	capt, err := l.Client.CaptureDHCP()
	if err != nil {
		return err
	}
	d := filepath.Join(dir, "details")
	os.MkdirAll(d, 0o755)
	cmd := l.Client.Command(context.Background(), bin, "-i", l.Client.IfName(), "--state-dir", filepath.Join(d, "state"),
		"--empty-dir", filepath.Join(d, "empty"), "--resolv-conf", filepath.Join(d, "resolv.conf"))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	disc, err := capt.Wait(ctx, func(p lab.Packet) bool { return p.Outgoing && p.MessageType() == lab.Discover })
	if err != nil {
		return fmt.Errorf("no DISCOVER seen: %w", err)
	}
	if _, err := capt.Wait(ctx, func(p lab.Packet) bool { return !p.Outgoing && p.MessageType() == lab.Ack }); err != nil {
		return fmt.Errorf("no ACK seen: %w", err)
	}
	capt.Stop()
	time.Sleep(500 * time.Millisecond) // announcements and the gateway check finish
	fmt.Printf("\nndhc, exec to first DHCPDISCOVER on the wire: %.1f ms (all four roles spawned and sandboxed before it)\n",
		float64(disc.Time.Sub(start).Microseconds())/1000)
	pids := append([]int{cmd.Process.Pid}, lab.ChildPIDs(cmd.Process.Pid)...)
	var pss, rss int
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tPSS kB\tRSS kB\t")
	for _, pid := range pids {
		p, r := smaps(pid)
		pss += p
		rss += r
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", lab.NdhcRole(pid), p, r)
	}
	fmt.Fprintf(tw, "all ndhc processes, bound\t%d\t%d\t\n", pss, rss)
	fmt.Println()
	return tw.Flush()
}

// smaps returns Pss and Rss in kB from /proc/PID/smaps_rollup.
func smaps(pid int) (pss, rss int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Pss:":
			pss = n
		case "Rss:":
			rss = n
		}
	}
	return pss, rss
}
