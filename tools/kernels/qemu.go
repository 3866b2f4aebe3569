package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Guest-side bounds, passed on the command line. Their sum over a row's
// steps stays below the row timeout (defaultTimeout; a test checks it) so
// that a slow step still ends with a report; the row timeout is the last
// resort that kills qemu. Measured under TCG: boot 5 s, an audit 30 to
// 90 s (arm64 the slowest; 9 s once, with a shorter battery on a quiet
// host: at 90 s the arm64 rows of a loaded host timed out), binding 3 to
// 6 s, the renewal at T1 30 s after binding.
const (
	guestAuditTimeout = 150 // seconds per ndhc audit
	guestBindWait     = 60  // seconds from starting ndhc to a bound lease
	guestRenewWait    = 50  // seconds from binding to the first renewal
	guestStopWait     = 10  // seconds from SIGTERM to SIGKILL (init.sh)
	guestBootBudget   = 60  // seconds for boot, modules, veth, udhcpd and the report

	defaultTimeout = 10 * time.Minute
)

// guestWorstCase is the longest a row's guest can take before it reports
// and powers off by itself.
func guestWorstCase(r *Row) time.Duration {
	s := guestBootBudget + len(r.Audits)*guestAuditTimeout
	if r.Daemon != nil {
		s += guestBindWait + guestRenewWait + guestStopWait
	}
	return time.Duration(s) * time.Second
}

// cmdline is the kernel command line of a row.
func cmdline(r *Row, t *kernelTree) []string {
	args := []string{
		"console=" + r.Kernel.Arch.Console,
		// quiet keeps kernel messages (and the audit records the probes
		// cause on purpose) off the console, where they could split the
		// marker lines; the guest reads them with dmesg when needed.
		"quiet",
		// A panic (init dying) reboots at once, and -no-reboot turns that
		// into qemu exiting instead of waiting for the row timeout.
		"panic=-1",
		"rdinit=/init",
	}
	if r.Clocksource != "" {
		args = append(args, "clocksource="+r.Clocksource)
		if r.Clocksource == "tsc" {
			// Under TCG, 6.1's clocksource watchdog declares the TSC
			// unstable with two vCPUs and switches to the HPET; a row
			// that asks for the TSC is about the vDSO path, so keep it.
			args = append(args, "tsc=reliable")
		}
	}
	if r.NoLandlock {
		args = append(args, "lsm="+withoutLandlock(t.LSM))
	}
	// Unknown name=value parameters reach init as environment variables.
	var audits []string
	for _, a := range r.Audits {
		audits = append(audits, a.Name())
	}
	if len(audits) > 0 {
		args = append(args, "ndhck_audits="+strings.Join(audits, ","))
	}
	if r.Daemon != nil {
		mode := "strict"
		if r.Daemon.Degrade {
			mode = "degraded"
		}
		args = append(args, "ndhck_daemon="+mode)
	}
	args = append(args,
		"ndhck_audit_timeout="+strconv.Itoa(guestAuditTimeout),
		"ndhck_bind_wait="+strconv.Itoa(guestBindWait),
		"ndhck_renew_wait="+strconv.Itoa(guestRenewWait))
	return args
}

// qemuArgs is the qemu command line of a row. The guest has no network
// device at all: every packet of the test stays on the veth pair inside
// it, and nothing is ever sent from the host.
func qemuArgs(r *Row, t *kernelTree, initrd string) []string {
	a := r.Kernel.Arch
	args := append([]string{}, a.Machine...)
	args = append(args,
		"-m", "512",
		"-smp", strconv.Itoa(r.VCPUs),
		"-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
		"-nic", "none",
		"-no-reboot",
		"-kernel", t.Vmlinuz,
		"-initrd", initrd,
		"-append", strings.Join(cmdline(r, t), " "),
	)
	return args
}

// runRow boots one row and judges it. The console goes line by line to the
// log file and to the marker parser. qemu is killed by its PID when the row
// timeout passes or the run is interrupted.
func runRow(ctx context.Context, r *Row, t *kernelTree, initrd, logPath string, timeout time.Duration) *outcome {
	o := &outcome{Row: r, Tree: t, Log: logPath}
	start := time.Now()
	defer func() { o.Elapsed = time.Since(start) }()

	logf, err := os.Create(logPath)
	if err != nil {
		o.fail("%v", err)
		return o
	}
	defer logf.Close()
	args := qemuArgs(r, t, initrd)
	fmt.Fprintf(logf, "# %s %s\n", r.Kernel.Arch.Qemu, shellQuote(args))

	cmd := exec.Command(r.Kernel.Arch.Qemu, args...)
	cmd.Stdin = nil // /dev/null: nothing may reach the guest's console
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		o.fail("%v", err)
		return o
	}
	cmd.Stderr = cmd.Stdout // qemu's own complaints belong in the log too
	if err := cmd.Start(); err != nil {
		o.fail("starting %s: %v", r.Kernel.Arch.Qemu, err)
		return o
	}
	pid := cmd.Process.Pid

	// The reader ends at EOF, when qemu exits or is killed.
	var g guestReport
	readDone := make(chan error, 1)
	go func() {
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				logf.WriteString(line)
				g.feed(line)
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				readDone <- err
				return
			}
		}
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-readDone:
	case <-timer.C:
		o.TimedOut = true
		syscall.Kill(pid, syscall.SIGKILL)
		err = <-readDone
	case <-ctx.Done():
		syscall.Kill(pid, syscall.SIGKILL)
		err = <-readDone
	}
	waitErr := cmd.Wait()
	if err != nil {
		o.fail("reading the console: %v", err)
	}
	o.ReachedInit = len(g.Markers) > 0
	judge(r, &g, o)
	switch {
	case ctx.Err() != nil:
		o.fail("interrupted")
	case o.TimedOut:
		o.fail("timed out after %s: qemu (pid %d) killed", timeout, pid)
	case waitErr != nil:
		// Powering off makes qemu exit 0; anything else is qemu's own
		// failure (bad arguments, missing firmware), said in the log.
		o.fail("qemu: %v", waitErr)
	}
	return o
}

// shellQuote renders a command line for the log so it can be re-run by hand.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " '\"$\\*?;&|<>()") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// logName is a row's console log file name.
func logName(dir string, r *Row) string {
	return filepath.Join(dir, strings.ReplaceAll(r.Name(), "/", "_")+".log")
}
