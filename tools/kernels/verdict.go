package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// auditJSON is the part of `ndhc audit --json` the harness judges
// (cmd/ndhc/audit.go, sandbox/probe.Result).
type auditJSON struct {
	Kernel      string `json:"kernel"`
	LandlockABI int    `json:"landlock_abi"`
	Roles       []struct {
		Role    string `json:"role"`
		Results []struct {
			Role     string `json:"role"`
			Action   string `json:"action"`
			Expected string `json:"expected"`
			Observed string `json:"observed"`
			Layer    string `json:"layer"`
			Pass     bool   `json:"pass"`
		} `json:"results"`
	} `json:"roles"`
	Pass bool `json:"pass"`
}

// leaseFile is the part of the lease file (dhcp lease JSON) the harness
// reads.
type leaseFile struct {
	Address  string `json:"address"`
	Acquired string `json:"acquired"`
	Lease    int    `json:"lease_seconds"`
}

// outcome is a row's result: the table cells, whether it met its
// expectations and, if not, why and what the guest said that explains it.
type outcome struct {
	Row       *Row
	Tree      *kernelTree
	Release   string
	ClockUsed string
	ABI       string
	Audit     string
	Lease     string
	Renew     string
	Failures  []string // unmet expectations, one line each
	Diag      []string // guest output that explains them
	Log       string   // console log path
	Elapsed   time.Duration
	TimedOut  bool
	// ReachedInit says the guest printed at least one marker: its kernel
	// booted and ran the initramfs's init. A row whose guest never did
	// failed before anything of ndhc ran (a kernel that panics at boot
	// under an overloaded TCG host, such as "IO-APIC + timer doesn't
	// work") and is booted once more.
	ReachedInit bool
	// Retried names the first attempt's failure when the row was booted
	// twice.
	Retried string
}

func (o *outcome) fail(format string, args ...any) {
	o.Failures = append(o.Failures, fmt.Sprintf(format, args...))
}

func (o *outcome) diag(title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	o.Diag = append(o.Diag, title+":")
	for _, l := range lines {
		o.Diag = append(o.Diag, "    "+l)
	}
}

// Passed reports whether the row met every expectation.
func (o *outcome) Passed() bool { return len(o.Failures) == 0 }

// judge compares what the guest reported with the row's expectations.
func judge(r *Row, g *guestReport, o *outcome) {
	o.Audit, o.Lease, o.Renew, o.ABI, o.ClockUsed = "-", "-", "-", "?", "?"
	boot, ok := g.first("boot")
	if !ok {
		o.fail("the guest never reported booting (no init output: see the console log)")
		o.Audit, o.Lease, o.Renew = "?", "?", "?"
		return
	}
	o.Release = boot.Fields["kernel"]
	judgeBoot(r, g, boot, o)
	for _, m := range g.Markers {
		if m.Kind == "error" {
			o.fail("guest error: step %s %s", m.Fields["step"], m.Fields["module"])
		}
	}

	var cells []string
	abi := -1
	for _, step := range r.Audits {
		cell, stepABI := judgeAudit(step, g, o)
		cells = append(cells, cell)
		if stepABI >= 0 && abi < 0 {
			abi = stepABI
		}
	}
	if len(cells) > 0 {
		o.Audit = strings.Join(cells, ",")
	}
	// An audit that died printed no JSON; `ndhc policy` enters no sandbox
	// and still says what the kernel has.
	if p, ok := g.first("policy"); ok && abi < 0 {
		if n, err := strconv.Atoi(p.Fields["landlock_abi"]); err == nil {
			abi = n
		}
	}
	switch {
	case abi > 0:
		o.ABI = strconv.Itoa(abi)
	case abi == 0:
		o.ABI = "none"
	}
	want := r.Kernel.LandlockABI
	if r.NoLandlock {
		want = 0
	}
	if abi >= 0 && (r.NoLandlock || want > 0) && abi != want {
		o.fail("Landlock ABI %d, expected %d for %s", abi, want, lsmName(r))
	}

	if r.Daemon != nil {
		judgeDaemon(r.Daemon, g, o)
	}
	if _, ok := g.first("done"); !ok {
		o.fail("the guest did not finish its steps")
	}
}

func lsmName(r *Row) string {
	if r.NoLandlock {
		return "lsm= without landlock"
	}
	return "the default LSM list"
}

// judgeBoot checks that the guest was booted as the row says: the
// clocksource it asked for is the one in use, and Landlock is present or
// absent as asked. A row that silently ran on other conditions would
// prove nothing.
func judgeBoot(r *Row, g *guestReport, boot marker, o *outcome) {
	// The clocksource at the end of the steps is the one they ran on. If
	// it changed during the row (the watchdog can demote the TSC), both
	// show; tsc-early is only the TSC before calibration, not a change.
	atBoot := boot.Fields["clocksource"]
	used := atBoot
	if end, ok := g.first("end"); ok && end.Fields["clocksource"] != "" {
		used = end.Fields["clocksource"]
	}
	o.ClockUsed = used
	if atBoot != used && atBoot != used+"-early" {
		o.ClockUsed = atBoot + ">" + used
	}
	if r.Clocksource != "" && o.ClockUsed != r.Clocksource {
		o.fail("asked clocksource %s, the guest used %s", r.Clocksource, o.ClockUsed)
	}
	if n, err := strconv.Atoi(boot.Fields["cpus"]); err != nil || n != r.VCPUs {
		o.fail("asked %d vCPUs, the guest has %s", r.VCPUs, boot.Fields["cpus"])
	}
	lsm := boot.Fields["lsm"]
	if lsm != "" && lsm != "unknown" {
		has := false
		for _, l := range strings.Split(lsm, ",") {
			has = has || l == "landlock"
		}
		if has == r.NoLandlock {
			o.fail("active LSMs %s: Landlock should be %s", lsm, map[bool]string{true: "absent", false: "present"}[r.NoLandlock])
		}
	}
}

// judgeAudit returns the table cell of one audit run and the Landlock ABI
// it reported (-1 when it printed no JSON).
func judgeAudit(step AuditStep, g *guestReport, o *outcome) (string, int) {
	name := step.Name()
	m, ok := g.find("audit", "name", name)
	if !ok {
		o.fail("audit %s: no result from the guest", name)
		return "?", -1
	}
	rc, _ := strconv.Atoi(m.Fields["rc"])
	stdout := g.stream("audit-" + name + "-stdout")
	stderr := g.stream("audit-" + name + "-stderr")
	var a auditJSON
	abi := -1
	parsed := false
	if strings.TrimSpace(stdout) != "" {
		if err := json.Unmarshal([]byte(stdout), &a); err != nil {
			o.fail("audit %s: output is not the audit JSON: %v", name, err)
		} else {
			parsed = true
			abi = a.LandlockABI
		}
	}
	// The results that failed, from the typed output: what a reader of a
	// failure needs first.
	var failed []string
	if parsed {
		for _, role := range a.Roles {
			for _, x := range role.Results {
				if !x.Pass {
					failed = append(failed, fmt.Sprintf("%s %s: expected %s, observed %s", x.Role, x.Action, x.Expected, x.Observed))
				}
			}
		}
	}
	errLines := nonEmpty(strings.Split(stderr, "\n"))
	if rc == 137 {
		o.fail("audit %s: killed after the guest's timeout", name)
		o.diag("audit "+name+" stderr", tail(errLines, 20))
		return "TIMEOUT", abi
	}
	if step.ExpectPass {
		if rc == 0 && parsed && a.Pass {
			return "ok", abi
		}
		o.fail("audit %s: exit %d, pass=%v (expected pass)", name, rc, parsed && a.Pass)
		o.diag("audit "+name+" failed results", failed)
		o.diag("audit "+name+" stderr", tail(errLines, 20))
		o.diag("audit "+name+" seccomp kills (the forbidden-action probes' included)", summarizeSeccomp(g.Data["audit-"+name+"-seccomp"]))
		return "FAIL", abi
	}
	// Expected to be refused, for a reason the output names.
	named := step.MustName == "" || strings.Contains(strings.ToLower(stdout+stderr), strings.ToLower(step.MustName))
	switch {
	case rc == 0:
		o.fail("audit %s: passed, expected a refusal naming %s", name, step.MustName)
		return "FAIL(passed)", abi
	case rc > 128:
		o.fail("audit %s: killed by signal %d, expected a refusal naming %s", name, rc-128, step.MustName)
		o.diag("audit "+name+" stderr", tail(errLines, 20))
		return "FAIL", abi
	case !named:
		o.fail("audit %s: refused (exit %d) without naming %s", name, rc, step.MustName)
		o.diag("audit "+name+" stderr", tail(errLines, 20))
		o.diag("audit "+name+" failed results", failed)
		return "FAIL", abi
	}
	return "refused", abi
}

// judgeDaemon checks the daemon bound a lease the kernel shows, renewed it,
// and stopped cleanly on SIGTERM.
func judgeDaemon(d *DaemonStep, g *guestReport, o *outcome) {
	m, ok := g.first("daemon")
	if !ok {
		o.fail("daemon: no result from the guest")
		o.Lease, o.Renew = "?", "?"
		return
	}
	f := m.Fields
	if e := f["error"]; e != "" {
		o.fail("daemon: the guest could not set up the network (%s)", e)
		o.Lease, o.Renew = "?", "?"
		return
	}
	explain := false
	if f["bound"] == "1" {
		o.Lease = "ok " + f["bind_secs"] + "s"
	} else {
		o.Lease = "FAIL"
		o.fail("daemon: no lease bound (the address of `ndhc status` on the interface)")
		explain = true
	}
	var bound, renewed leaseFile
	boundOK := parseLease(g.stream("lease-bound"), &bound)
	if f["bound"] == "1" && !boundOK {
		o.fail("daemon: `ndhc status --json` at binding is not lease JSON")
	}
	switch {
	case f["bound"] != "1":
		o.Renew = "-"
	case f["renewed"] == "1":
		o.Renew = "ok " + f["renew_secs"] + "s"
		if parseLease(g.stream("lease-renewed"), &renewed) && boundOK {
			t0, err0 := time.Parse(time.RFC3339Nano, bound.Acquired)
			t1, err1 := time.Parse(time.RFC3339Nano, renewed.Acquired)
			if err0 != nil || err1 != nil || !t1.After(t0) {
				o.fail("daemon: renewed lease acquired %q, not after %q", renewed.Acquired, bound.Acquired)
				o.Renew = "FAIL"
			}
		} else {
			o.fail("daemon: `ndhc status --json` after renewal is not lease JSON")
			o.Renew = "FAIL"
		}
	default:
		o.Renew = "FAIL"
		o.fail("daemon: the lease was not renewed (acquired unchanged)")
		explain = true
	}
	if f["early"] == "1" {
		o.fail("daemon: ndhc exited by itself with status %s", f["exit"])
		explain = true
	} else if f["exit"] != "0" {
		o.fail("daemon: exit status %s after SIGTERM, expected 0", f["exit"])
		explain = true
	}
	if d.Degrade && explain {
		o.Diag = append(o.Diag, "(daemon ran with --allow-degraded-sandbox=landlock)")
	}
	if explain {
		// The summary line of a failed row names the daemon's last
		// error, when it logged one.
		for _, l := range slices.Backward(g.Data["ndhc-stderr"]) {
			if strings.Contains(l, "level=ERROR") {
				o.fail("daemon: its last error: %s", l)
				break
			}
		}
		o.diag("seccomp kills during the daemon run (dmesg audit records)", summarizeSeccomp(g.Data["seccomp"]))
		o.diag("ndhc stderr (last 30 lines)", g.Data["ndhc-stderr"])
		if f["bound"] != "1" {
			o.diag("udhcpd (last 20 lines)", g.Data["udhcpd"])
		}
	}
}

// parseLease reads `ndhc status --json`: the interface, whether a client
// runs, and the lease.
func parseLease(s string, l *leaseFile) bool {
	var st struct {
		Lease *leaseFile `json:"lease"`
	}
	if strings.TrimSpace(s) == "" || json.Unmarshal([]byte(s), &st) != nil || st.Lease == nil {
		return false
	}
	*l = *st.Lease
	return l.Address != "" && l.Acquired != ""
}

func nonEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
