// Command kernels is the kernel matrix harness (`make kernels`): it boots
// Debian's own kernel packages under qemu (TCG), runs the static ndhc
// binary inside each guest (the audit, then the daemon leasing from busybox
// udhcpd over a veth pair and renewing), and prints a table of what each
// kernel did. It exits 1 if any row missed its expectations.
//
// Each guest is an initramfs holding Debian's busybox-static, ndhc, the
// role users and guest/init.sh as PID 1. The kernel and busybox packages
// are downloaded with apt-get download and extracted with dpkg-deb into a
// cache directory, once per package version. The guests have no network
// device: the DHCP traffic runs on a veth pair inside each guest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	ndhc         map[string]string // arch -> static ndhc binary
	busybox      map[string]string // arch -> static busybox
	arches       []*Arch
	cache        string
	run          string
	parallel     int
	timeout      time.Duration
	keep         bool
	list         bool
	stdout, errw io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("kernels", flag.ContinueOnError)
	flags.SetOutput(stderr)
	ndhcAMD64 := flags.String("ndhc", "bin/ndhc", "static ndhc binary for amd64 guests (make build)")
	ndhcARM64 := flags.String("ndhc-arm64", "bin/ndhc-arm64", "static ndhc binary for arm64 guests (GOARCH=arm64 CGO_ENABLED=0 go build ./cmd/ndhc)")
	bbAMD64 := flags.String("busybox", "", "static busybox for amd64 guests (empty: Debian's busybox-static, downloaded into the cache)")
	bbARM64 := flags.String("busybox-arm64", "", "static busybox for arm64 guests (empty: busybox-static:arm64, downloaded into the cache)")
	archList := flags.String("arch", "amd64", "comma-separated guest architectures: amd64, arm64")
	o := options{stdout: stdout, errw: stderr}
	flags.StringVar(&o.cache, "cache", "/var/cache/ndhc-kernels", "where downloaded kernel packages are kept, extracted, between runs")
	flags.StringVar(&o.run, "run", "", "regexp: run only the rows whose name (arch/kernel/variant, see -list) matches")
	// Two guests per host CPU: half of a row is the guest idling until
	// T1. Measured for the 12 amd64 rows on 2 CPUs: 2 at a time 5m10s,
	// 3 at a time 4m08s, 4 at a time 3m47s.
	flags.IntVar(&o.parallel, "parallel", 2*runtime.NumCPU(), "guests booted at the same time")
	flags.DurationVar(&o.timeout, "timeout", defaultTimeout, "per row: qemu is killed after this long")
	flags.BoolVar(&o.keep, "keep", false, "keep the console logs and initramfs images even when every row passed")
	flags.BoolVar(&o.list, "list", false, "list the rows and exit")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: kernels [flags]\n\nBoots Debian kernel packages under qemu (TCG) and runs ndhc's audit and daemon in each.\nNeeds root, qemu-system-x86 (qemu-system-arm for arm64) and xz-utils.\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "kernels: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	o.ndhc = map[string]string{"amd64": *ndhcAMD64, "arm64": *ndhcARM64}
	o.busybox = map[string]string{"amd64": *bbAMD64, "arm64": *bbARM64}
	for _, name := range strings.Split(*archList, ",") {
		a := archByName(strings.TrimSpace(name))
		if a == nil {
			fmt.Fprintf(stderr, "kernels: unknown -arch %q (amd64, arm64)\n", name)
			return 2
		}
		if !slices.Contains(o.arches, a) {
			o.arches = append(o.arches, a)
		}
	}
	if o.parallel < 1 || o.timeout <= 0 {
		fmt.Fprintln(stderr, "kernels: -parallel must be at least 1 and -timeout positive")
		return 2
	}

	var kernels []*Kernel
	for _, a := range o.arches {
		kernels = append(kernels, kernelsFor(a)...)
	}
	rows, err := selectRows(matrix(kernels), o.run)
	if err != nil {
		fmt.Fprintln(stderr, "kernels:", err)
		return 2
	}
	if o.list {
		for _, r := range rows {
			fmt.Fprintln(stdout, r.Name())
		}
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := runMatrix(ctx, &o, rows)
	if err != nil {
		fmt.Fprintln(stderr, "kernels:", err)
		return 1
	}
	return code
}

func archByName(name string) *Arch {
	for _, a := range arches {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// preflight fails loudly, before any download, on what would make every
// row fail: not root, a missing tool, or a binary the guest cannot run.
func preflight(o *options, rows []*Row) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: apt-get download into the cache, and ndhc's audit and daemon need root inside the guests")
	}
	// Tool and the Debian package that has it, qemu first: the one a
	// fresh machine lacks.
	var tools [][2]string
	seen := map[*Arch]bool{}
	for _, r := range rows {
		a := r.Kernel.Arch
		if seen[a] {
			continue
		}
		seen[a] = true
		tools = append(tools, [2]string{a.Qemu, a.QemuPkg})
		if bb := o.busybox[a.Name]; bb != "" {
			if err := checkStatic(bb, a.ELF); err != nil {
				return fmt.Errorf("busybox: %w", err)
			}
		}
		if err := checkStatic(o.ndhc[a.Name], a.ELF); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("ndhc: %w (make build; for arm64: GOARCH=arm64 CGO_ENABLED=0 go build -o bin/ndhc-arm64 ./cmd/ndhc)", err)
			}
			return fmt.Errorf("ndhc: %w", err)
		}
	}
	tools = append(tools, [2]string{"apt-get", "apt"}, [2]string{"apt-cache", "apt"}, [2]string{"dpkg", "dpkg"}, [2]string{"dpkg-deb", "dpkg"})
	for _, t := range tools {
		if _, err := exec.LookPath(t[0]); err != nil {
			return fmt.Errorf("%s not found: install the Debian package %s", t[0], t[1])
		}
	}
	return nil
}

func runMatrix(ctx context.Context, o *options, rows []*Row) (int, error) {
	start := time.Now()
	if err := preflight(o, rows); err != nil {
		return 1, err
	}
	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return 1, err
	}
	// One directory per run: the initramfs images and the console logs.
	// Removed at the end, except the logs when a row failed (their paths
	// are printed) and everything with -keep.
	runDir, err := os.MkdirTemp("", "ndhc-kernels-")
	if err != nil {
		return 1, err
	}
	work, logs := filepath.Join(runDir, "initramfs"), filepath.Join(runDir, "logs")
	for _, d := range []string{work, logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			os.RemoveAll(runDir)
			return 1, err
		}
	}
	keepLogs := false
	defer func() {
		switch {
		case o.keep:
		case keepLogs:
			os.RemoveAll(work)
		default:
			os.RemoveAll(runDir)
		}
	}()
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.errw, "kernels: "+format+"\n", args...)
	}

	// Kernels and their initramfs, one per kernel package, before any
	// guest starts: downloads are the only slow host step.
	a, err := newApt(ctx, o.cache, logf)
	if err != nil {
		return 1, err
	}
	trees := map[*Kernel]*kernelTree{}
	initrds := map[*Kernel]string{}
	for _, r := range rows {
		k := r.Kernel
		if trees[k] != nil {
			continue
		}
		bb := o.busybox[k.Arch.Name]
		if bb == "" {
			if bb, err = a.fetchBusybox(ctx, k.Arch); err != nil {
				return 1, fmt.Errorf("busybox-static for %s: %w", k.Arch.Name, err)
			}
			if err := checkStatic(bb, k.Arch.ELF); err != nil {
				return 1, err
			}
			o.busybox[k.Arch.Name] = bb
		}
		t, err := a.fetchKernel(ctx, k)
		if err != nil {
			return 1, fmt.Errorf("kernel %s/%s: %w", k.Arch.Name, k.Name, err)
		}
		initrd := initramfsPath(work, t)
		if err := buildInitramfs(initrd, t, bb, o.ndhc[k.Arch.Name]); err != nil {
			return 1, fmt.Errorf("initramfs for %s: %w", t.Package, err)
		}
		logf("%s/%s is %s %s", k.Arch.Name, k.Name, t.Package, t.Version)
		trees[k], initrds[k] = t, initrd
	}
	pruned := map[*Arch]bool{}
	for k := range trees {
		if !pruned[k.Arch] {
			pruned[k.Arch] = true
			if err := a.prune(ctx, k.Arch); err != nil {
				logf("pruning the cache: %v", err)
			}
		}
	}

	// The rows with more steps start first, so that the workers do not
	// wait for one long row at the end.
	queue := append([]*Row{}, rows...)
	sort.SliceStable(queue, func(i, j int) bool { return len(queue[i].Audits) > len(queue[j].Audits) })
	results := map[*Row]*outcome{}
	var mu sync.Mutex
	jobs := make(chan *Row)
	var wg sync.WaitGroup
	for w := 0; w < o.parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				res := runRow(ctx, r, trees[r.Kernel], initrds[r.Kernel], logName(logs, r), o.timeout)
				if !res.Passed() && !res.ReachedInit && ctx.Err() == nil {
					// Nothing of ndhc ran: the kernel did not boot.
					first := strings.Join(res.Failures, "; ")
					logf("%s: the guest never reached init (%s); booting it once more", r.Name(), first)
					res = runRow(ctx, r, trees[r.Kernel], initrds[r.Kernel], strings.TrimSuffix(logName(logs, r), ".log")+"-retry.log", o.timeout)
					res.Retried = first
				}
				verdict := "PASS"
				if !res.Passed() {
					verdict = "FAIL"
				}
				mu.Lock()
				results[r] = res
				logf("%s %s (%.0fs)", verdict, r.Name(), res.Elapsed.Seconds())
				mu.Unlock()
			}
		}()
	}
	for _, r := range queue {
		if ctx.Err() != nil {
			break
		}
		jobs <- r
	}
	close(jobs)
	wg.Wait()

	// The table first, then what failed: a log cut to its last lines
	// (a CI summary) keeps the reasons.
	printTable(o.stdout, rows, results)
	for _, r := range rows {
		if res := results[r]; res != nil && res.Retried != "" {
			fmt.Fprintf(o.stdout, "retried %s: its first boot never reached init (%s)\n", r.Name(), res.Retried)
		}
	}
	failed := 0
	var reasons []string
	for _, r := range rows {
		res := results[r]
		if res == nil {
			failed++
			reasons = append(reasons, r.Name()+": not run")
			continue
		}
		if res.Passed() {
			continue
		}
		failed++
		keepLogs = true
		fmt.Fprintln(o.stdout)
		printFailure(o.stdout, res)
		reasons = append(reasons, r.Name()+": "+strings.Join(res.Failures, "; "))
	}
	for _, why := range reasons {
		fmt.Fprintf(o.stdout, "FAIL %s\n", why)
	}
	fmt.Fprintf(o.stdout, "\n%d rows in %s\nkernels: %d passed, %d failed\n", len(rows), time.Since(start).Round(time.Second), len(rows)-failed, failed)
	if keepLogs || o.keep {
		fmt.Fprintf(o.stdout, "console logs: %s\n", logs)
	}
	if ctx.Err() != nil {
		return 1, errors.New("interrupted")
	}
	if failed > 0 {
		return 1, nil
	}
	return 0, nil
}

func printFailure(w io.Writer, res *outcome) {
	fmt.Fprintf(w, "--- FAIL %s (%s)\n", res.Row.Name(), res.Release)
	for _, f := range res.Failures {
		fmt.Fprintf(w, "    %s\n", f)
	}
	for _, d := range res.Diag {
		fmt.Fprintf(w, "    %s\n", d)
	}
	fmt.Fprintf(w, "    console log: %s\n", res.Log)
}

func printTable(w io.Writer, rows []*Row, results map[*Row]*outcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tKERNEL\tARCH\tVCPUS\tCLOCKSOURCE(asked/used)\tLSM\tLANDLOCK-ABI\tAUDIT\tLEASE\tRENEW\tRESULT")
	for _, r := range rows {
		res := results[r]
		asked := r.Clocksource
		if asked == "" {
			asked = "-"
		}
		lsm := "default"
		if r.NoLandlock {
			lsm = "no-landlock"
		}
		if res == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s/?\t%s\t?\t?\t?\t?\tNOT RUN\n", r.Name(), r.Kernel.Name, r.Kernel.Arch.Name, r.VCPUs, asked, lsm)
			continue
		}
		kernel := res.Release
		if kernel == "" && res.Tree != nil {
			kernel = res.Tree.Release
		}
		verdict := "PASS"
		if !res.Passed() {
			verdict = "FAIL"
			if res.TimedOut {
				verdict = "FAIL(timeout)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name(), kernel, r.Kernel.Arch.Name, r.VCPUs,
			asked, res.ClockUsed, lsm, res.ABI, res.Audit, res.Lease, res.Renew, verdict)
	}
	tw.Flush()
}
