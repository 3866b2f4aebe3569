//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
)

// taskStats sums, over every thread of process pid, the time spent on a
// CPU (the first field of /proc/PID/task/TID/schedstat, in ns) and the
// context switches (voluntary and not), which count the wake-ups.
func taskStats(t *testing.T, pid int) (cpu time.Duration, switches int) {
	t.Helper()
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*"))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(task, "schedstat"))
		if err != nil {
			continue // a thread that just exited
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(ns)
		}
		b, err = os.ReadFile(filepath.Join(task, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				switches += n
			}
			if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				switches += n
			}
		}
	}
	return cpu, switches
}

// TestLabIdle: a bound client costs nothing between its timers. Once the
// lease is bound, the ARP announcements and the gateway check are over
// and every role has trimmed itself, no thread of any process of the
// client is woken for seconds: no polling, no ticker, no runtime
// housekeeping. The figures per process are logged.
func TestLabIdle(t *testing.T) {
	l := newLab(t, "idle")
	cfg := richServer(l)
	cfg.LeaseTime = time.Hour // T1 half an hour away
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{})
	c.waitRec(20*time.Second, "BOUND", 0, state("BOUND"))
	// The announcements (2 s apart), the gateway check, then a second of
	// quiet before each role trims itself.
	time.Sleep(6 * time.Second)
	pids := map[string]int{"supervisor": c.cmd.Process.Pid}
	for role, rec := range c.ready() {
		pids[role] = rec.Pid
	}
	type sample struct {
		cpu      time.Duration
		switches int
	}
	before := map[string]sample{}
	for role, pid := range pids {
		cpu, sw := taskStats(t, pid)
		before[role] = sample{cpu, sw}
	}
	const idle = 8 * time.Second
	time.Sleep(idle)
	for role, pid := range pids {
		if lab.ParentPID(pid) == 0 {
			t.Fatalf("%s (pid %d) is gone", role, pid)
		}
		cpu, sw := taskStats(t, pid)
		dc, ds := cpu-before[role].cpu, sw-before[role].switches
		t.Logf("%-10s pid %d: %v on a CPU and %d wake-ups in %v of idle", role, pid, dc, ds, idle)
		if ds > 0 {
			t.Errorf("%s was woken %d times (%v on a CPU) in %v with nothing to do", role, ds, dc, idle)
		}
	}
}
