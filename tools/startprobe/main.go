// Command startprobe measures ndhc's start-up and memory in a
// network-namespace lab with dnsmasq: over N cold runs (fresh state
// directory each), the time from exec to the first DHCPDISCOVER on the
// wire, and per process once bound: PSS, its anonymous and file parts,
// RSS, private anonymous memory and the thread count. With -strace FILE it
// runs one ndhc under strace -f -ttt instead, for a per-role breakdown.
// With -memaccount the binary must be the memory-account build (go build
// -tags memaccount), and the runtime's own account of each process's
// memory is printed beside the kernel's.
package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/ndhc-go/ndhc/internal/memaccount"
)

func main() {
	bin := flag.String("ndhc", "bin/ndhc", "the ndhc binary, or several separated by commas: their runs are interleaved, for a fair comparison on a loaded machine")
	runs := flag.Int("runs", 5, "cold runs")
	trace := flag.String("strace", "", "run once under strace -f -ttt, writing to this file")
	settle := flag.Duration("settle", 3*time.Second, "how long after the ACK the memory is measured")
	flag.BoolVar(&withAccount, "memaccount", false, "read each process's runtime memory account (the binary built with -tags memaccount) and print it per role")
	flag.Parse()
	if err := run(*bin, *runs, *trace, *settle, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "startprobe:", err)
		os.Exit(1)
	}
}

type mem struct{ pss, pssAnon, pssFile, rss, anon, threads int }

// withAccount is -memaccount; accounts holds, per binary and role, the
// last account each run's process wrote.
var (
	withAccount bool
	accounts    = map[string]map[string][]map[string]uint64{}
)

func run(bins string, runs int, trace string, settle time.Duration, extra []string) error {
	var progs []string
	for b := range strings.SplitSeq(bins, ",") {
		a, _ := filepath.Abs(b)
		progs = append(progs, a)
	}
	lab.CleanupStale()
	l, err := lab.New(lab.Config{Name: "sprobe"})
	if err != nil {
		return err
	}
	defer l.Close()
	gw := l.Net.Gateway()
	if _, err := l.StartDnsmasq(lab.ServerConfig{Router: gw, DNS: []netip.Addr{gw}}); err != nil {
		return err
	}
	if trace != "" {
		runs = 1
	}
	discs := map[string][]float64{}
	mems := map[string]map[string][]mem{}
	for _, p := range progs {
		mems[p] = map[string][]mem{}
	}
	for i := range runs * len(progs) {
		bin := progs[i%len(progs)]
		d := filepath.Join(l.Dir(), fmt.Sprintf("run%d", i))
		os.MkdirAll(d, 0o755)
		if _, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "flush", "dev", l.Client.IfName()); err != nil {
			return err
		}
		capt, err := l.Client.CaptureDHCP()
		if err != nil {
			return err
		}
		argv := append([]string{bin, "-i", l.Client.IfName(), "--arp-mode", "off", "--state-dir", filepath.Join(d, "state"),
			"--empty-dir", filepath.Join(d, "empty"), "--resolv-conf", filepath.Join(d, "resolv.conf")}, extra...)
		if trace != "" {
			argv = append([]string{"strace", "-f", "--seccomp-bpf", "-ttt", "-e", "signal=none", "-o", trace, "-e", cmp.Or(os.Getenv("STARTPROBE_TRACE"), "trace=execve,seccomp,sendmsg,sendto,write,exit_group,chroot")}, argv...)
		}
		cmd := l.Client.Command(context.Background(), argv...)
		var stderr []io.Writer
		if lf := os.Getenv("STARTPROBE_LOG"); lf != "" {
			f, err := os.Create(lf)
			if err != nil {
				return err
			}
			defer f.Close()
			stderr = append(stderr, f)
		}
		var out bytes.Buffer
		if withAccount {
			stderr = append(stderr, &out)
		}
		if len(stderr) > 0 {
			cmd.Stderr = io.MultiWriter(stderr...)
		}
		roleOf := map[int]string{}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		disc, err := capt.Wait(ctx, func(p lab.Packet) bool { return p.Outgoing && p.MessageType() == lab.Discover })
		// The exchange, as the client's interface sees it: when each
		// message left or arrived, from the exec.
		var phases []string
		for _, step := range []struct {
			name string
			out  bool
			t    int
		}{{"OFFER", false, lab.Offer}, {"REQUEST", true, lab.Request}, {"ACK", false, lab.Ack}} {
			if err != nil {
				break
			}
			var p lab.Packet
			p, err = capt.Wait(ctx, func(p lab.Packet) bool { return p.Outgoing == step.out && p.MessageType() == step.t })
			phases = append(phases, fmt.Sprintf("%s %.1f", step.name, float64(p.Time.Sub(start).Microseconds())/1000))
		}
		cancel()
		capt.Stop()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("run %d: %w", i, err)
		}
		ms := float64(disc.Time.Sub(start).Microseconds()) / 1000
		discs[bin] = append(discs[bin], ms)
		fmt.Printf("run %d %s: exec to DISCOVER %.1f ms, %s (wall-clock start %.6f)\n", i, bin, ms, strings.Join(phases, ", "), float64(start.UnixMicro())/1e6)
		time.Sleep(settle)
		if trace == "" {
			pids := append([]int{cmd.Process.Pid}, lab.ChildPIDs(cmd.Process.Pid)...)
			for _, pid := range pids {
				// A role's argv[0] is the supervisor's with "-ROLE" added.
				role := "supervisor"
				if pid != cmd.Process.Pid {
					a := lab.Argv0(pid)
					role = a[strings.LastIndex(a, "-")+1:]
				}
				mems[bin][role] = append(mems[bin][role], measure(pid))
				roleOf[pid] = role
				if dump := os.Getenv("STARTPROBE_SMAPS"); dump != "" {
					b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
					os.WriteFile(filepath.Join(dump, role+".smaps"), b, 0o644)
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if withAccount {
			if err := readAccounts(bin, out.String(), roleOf); err != nil {
				return fmt.Errorf("run %d: %w", i, err)
			}
		}
	}
	for _, bin := range progs {
		if err := report(bin, discs[bin], mems[bin], trace == ""); err != nil {
			return err
		}
	}
	return nil
}

func report(bin string, discs []float64, mems map[string][]mem, memory bool) error {
	fmt.Printf("\n%s\nN=%d exec to first DISCOVER: median %.1f ms, min %.1f, max %.1f\n", bin, len(discs), median(discs), slices.Min(discs), slices.Max(discs))
	if !memory {
		return nil
	}
	fmt.Printf("\nmedian per process once bound (kB):\n%-12s %6s %8s %8s %6s %9s %7s\n", "process", "PSS", "PSS anon", "PSS file", "RSS", "priv anon", "threads")
	var tot mem
	for _, r := range slices.Sorted(func(yield func(string) bool) {
		for k := range mems {
			if !yield(k) {
				return
			}
		}
	}) {
		ms := mems[r]
		m := mem{medianOf(ms, func(m mem) int { return m.pss }), medianOf(ms, func(m mem) int { return m.pssAnon }), medianOf(ms, func(m mem) int { return m.pssFile }),
			medianOf(ms, func(m mem) int { return m.rss }), medianOf(ms, func(m mem) int { return m.anon }), medianOf(ms, func(m mem) int { return m.threads })}
		fmt.Printf("%-12s %6d %8d %8d %6d %9d %7d\n", r, m.pss, m.pssAnon, m.pssFile, m.rss, m.anon, m.threads)
		tot.pss += m.pss
		tot.pssAnon += m.pssAnon
		tot.pssFile += m.pssFile
		tot.rss += m.rss
		tot.anon += m.anon
		tot.threads += m.threads
	}
	fmt.Printf("%-12s %6d %8d %8d %6d %9d %7d\n", "all", tot.pss, tot.pssAnon, tot.pssFile, tot.rss, tot.anon, tot.threads)
	if withAccount {
		reportAccounts(bin, mems)
	}
	return nil
}

// readAccounts keeps each measured process's last account from one run's
// stderr. A process without one means the binary is not the
// memory-account build, or the process never trimmed.
func readAccounts(bin, out string, roleOf map[int]string) error {
	last := map[int]map[string]uint64{}
	for line := range strings.Lines(out) {
		pid, v, ok, err := memaccount.Parse(line)
		if err != nil {
			return err
		}
		if ok {
			last[pid] = v
		}
	}
	if accounts[bin] == nil {
		accounts[bin] = map[string][]map[string]uint64{}
	}
	for pid, role := range roleOf {
		v, ok := last[pid]
		if !ok {
			return fmt.Errorf("%s (pid %d) wrote no memory account: build the binary with -tags memaccount", role, pid)
		}
		accounts[bin][role] = append(accounts[bin][role], v)
	}
	return nil
}

// reportAccounts prints the median of each class per role, in KiB, beside
// the kernel's count of the role's anonymous memory.
func reportAccounts(bin string, mems map[string][]mem) {
	fmt.Printf("\nthe runtime's account once bound, median kB (mapped and ready, not all resident):\n%-12s %9s", "process", "anon RSS")
	for _, c := range memaccount.Classes {
		fmt.Printf(" %*s", max(len(c.Name), 6), c.Name)
	}
	fmt.Println()
	for _, r := range slices.Sorted(maps.Keys(accounts[bin])) {
		fmt.Printf("%-12s %9d", r, medianOf(mems[r], func(m mem) int { return m.anon }))
		for _, c := range memaccount.Classes {
			var v []int
			for _, a := range accounts[bin][r] {
				n := int(a[c.Name])
				if strings.HasSuffix(c.Metric, ":bytes") {
					n >>= 10
				}
				v = append(v, n)
			}
			slices.Sort(v)
			fmt.Printf(" %*d", max(len(c.Name), 6), v[len(v)/2])
		}
		fmt.Println()
	}
}

func measure(pid int) mem {
	var m mem
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Pss:":
			m.pss = n
		case "Pss_Anon:":
			m.pssAnon = n
		case "Pss_File:":
			m.pssFile = n
		case "Rss:":
			m.rss = n
		case "Anonymous:":
			m.anon = n
		}
	}
	b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			m.threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return m
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

func medianOf(ms []mem, f func(mem) int) int {
	var v []int
	for _, m := range ms {
		v = append(v, f(m))
	}
	slices.Sort(v)
	return v[len(v)/2]
}
