//go:build linux && containment

package containment_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/ndhc-go/ndhc/internal/containment"
	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
)

// run is one daemon run: its containment records and event records.
type run struct {
	mu     sync.Mutex
	recs   []containment.Record
	events []event.Record
	lines  []string
	cmd    *exec.Cmd
	done   chan struct{}
}

func (r *run) snapshot() ([]containment.Record, []event.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]containment.Record(nil), r.recs...), append([]event.Record(nil), r.events...)
}

// wait polls (bounded) until ok says so or the daemon ends.
func (r *run) wait(d time.Duration, ok func([]containment.Record, []event.Record) bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok(r.snapshot()) {
			return true
		}
		select {
		case <-r.done:
			return ok(r.snapshot())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// supLine is the supervisor's JSON line for a role's output line.
type supLine struct {
	From   string          `json:"from"`
	Record json.RawMessage `json:"record"`
	Line   string          `json:"line"`
}

func start(t *testing.T, l *lab.Lab, bin, sel string, extra []string) *run {
	t.Helper()
	dir := t.TempDir()
	args := []string{"unshare", "--uts", bin, "-i", l.Client.IfName(), "--set-hostname",
		"--supervisor-user", "61100", "--engine-user", "61101", "--sockd-user", "61102", "--ifch-user", "61103", "--hostname-user", "61104", "--hook-user", "61105",
		"--state-dir", filepath.Join(dir, "state"), "--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", filepath.Join(dir, "resolv.conf"),
		"--log-format", "json", "--event-fd", "3"}
	args = append(args, extra...)
	r := &run{done: make(chan struct{})}
	r.cmd = l.Client.Command(context.Background(), args...)
	r.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", containment.EnvSelect + "=" + sel}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.ExtraFiles = []*os.File{evW}
	r.cmd.Stderr, r.cmd.Stdout = errW, errW
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	evW.Close()
	errW.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(evR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e event.Record
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				r.mu.Lock()
				r.events = append(r.events, e)
				r.mu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(errR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			// A role's record inside the supervisor's line, or the
			// supervisor's own record.
			raw := sc.Bytes()
			r.mu.Lock()
			r.lines = append(r.lines, string(raw))
			r.mu.Unlock()
			var sl supLine
			if json.Unmarshal(raw, &sl) == nil && sl.Record != nil {
				raw = sl.Record
			}
			var c containment.Record
			if json.Unmarshal(raw, &c) == nil && c.Containment == 1 {
				r.mu.Lock()
				r.recs = append(r.recs, c)
				r.mu.Unlock()
			}
		}
	}()
	go func() { r.cmd.Wait(); wg.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *run) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// threadBombEnd reports whether a role's crash is the runtime failing to
// get a thread or the memory for one: the thread budget (RLIMIT_NPROC:
// "newosproc") or the memory limit (RLIMIT_DATA: "out of memory", or
// "cannot allocate memory" when the thread's stack mapping fails, as the
// hostname role did on the CI machine).
func threadBombEnd(crash string) bool {
	for _, s := range []string{"newosproc", "thread", "out of memory", "cannot allocate memory"} {
		if strings.Contains(crash, s) {
			return true
		}
	}
	return false
}

type row struct{ role, attack, expected, observed, layer, outcome string }

// TestContainment runs the battery in every role of the real daemon in
// the lab, then the attacks that end a role in runs of their own, checks
// every role's live filter, and prints the table.
func TestContainment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and the daemon's sandboxes")
	}
	lab.Require(t, "unshare")
	lab.RequireServer(t, lab.Dnsmasq)
	bin := filepath.Join(t.TempDir(), "ndhc")
	build := exec.Command("go", "build", "-tags", "containment", "-o", bin, "../../cmd/ndhc")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the containment build: %v\n%s", err, out)
	}
	l := lab.NewT(t, lab.Config{Name: "contain"})
	if _, err := l.StartDnsmasq(lab.ServerConfig{Router: l.Net.Gateway()}); err != nil {
		t.Fatal(err)
	}
	want := []string{roles.Supervisor, roles.Hostname, roles.Ifch, roles.Sockd, roles.Engine, roles.DNS, roles.Hook}
	extra := optionalRoles(t, l)
	r := start(t, l, bin, "", extra)
	ended := func(rs []containment.Record, _ []event.Record) bool {
		n := 0
		for _, c := range rs {
			if c.End {
				n++
			}
		}
		return n >= len(want)
	}
	if !r.wait(60*time.Second, ended) {
		rs, evs := r.snapshot()
		t.Fatalf("not every role finished its battery: %d records, events %+v\n%s", len(rs), evs, strings.Join(r.lines, "\n"))
	}
	// The daemon still leases: the battery did not need to break a role.
	bound := r.wait(60*time.Second, func(_ []containment.Record, evs []event.Record) bool {
		for _, e := range evs {
			if e.Event == "configured" {
				return true
			}
		}
		return false
	})
	if !bound {
		t.Errorf("no lease configured after the battery")
	}
	recs, evs := r.snapshot()
	pids := map[string]int{}
	for _, e := range evs {
		if e.Event == "ready" {
			pids[e.Role] = e.Pid
		}
	}
	filters := map[string][]bpf.Instruction{}
	for _, role := range want {
		if pids[role] == 0 {
			t.Errorf("no ready record for %s", role)
			continue
		}
		prog, err := kit.LiveFilter(pids[role])
		if err != nil {
			t.Errorf("%s: live filter: %v", role, err)
			continue
		}
		filters[role] = prog
	}
	r.stop()

	var rows []row
	add := func(role, attack, observed, layer, outcome string) {
		expected := "blocked"
		if outcome == containment.ByDesign {
			expected = "allowed"
		}
		if lim, why := scopeUnsupported(attack, outcome); lim {
			expected, outcome, observed = "blocked from Landlock ABI 6", kernelLimit, observed+" ("+why+")"
		}
		rows = append(rows, row{role, attack, expected, observed, layer, outcome})
	}
	arch, _ := sandbox.AuditArch()
	var fatal []containment.Record
	for _, c := range recs {
		if c.End {
			continue
		}
		switch c.Outcome {
		case containment.Kill:
			prog := filters[c.Role]
			v, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(c.Nr), Arch: arch, Args: c.Args})
			if err != nil || prog == nil {
				add(c.Role, c.Attack, fmt.Sprintf("live filter unread: %v", err), "", "missing")
				continue
			}
			if sandbox.SeccompAction(v) == sandbox.SeccompRetKillProcess {
				add(c.Role, c.Attack, "live filter: KILL_PROCESS", "seccomp", containment.Blocked)
			} else {
				add(c.Role, c.Attack, fmt.Sprintf("live filter: %#x", v), "", containment.GotThrough)
			}
			if selectedKill[c.Role+"/"+c.Attack] {
				fatal = append(fatal, c)
			}
		case containment.Separate:
			fatal = append(fatal, c)
		default:
			add(c.Role, c.Attack, c.Observed, c.Layer, c.Outcome)
		}
	}
	// Every number not on a role's list is KILL_PROCESS in its live filter.
	for _, role := range want {
		prog := filters[role]
		if prog == nil {
			add(role, "every system call not on its list", "live filter unread", "", "missing")
			continue
		}
		rr, _ := roles.ByName(role)
		p := rr.Policy()
		if p.SeccompDefaultAllow {
			for _, x := range denyListRows(prog, p, arch) {
				add(role, x.attack, x.observed, x.layer, x.outcome)
			}
			continue
		}
		listed := map[int]bool{}
		for _, s := range p.Seccomp {
			if n, err := sandbox.SyscallNumber(s.Name); err == nil {
				listed[n] = true
			}
		}
		var leaks []string
		checked := 0
		for nr := 0; nr < 1024; nr++ {
			if listed[nr] {
				continue
			}
			v, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(nr), Arch: arch})
			if err != nil || sandbox.SeccompAction(v) != sandbox.SeccompRetKillProcess {
				leaks = append(leaks, fmt.Sprint(nr))
			}
			checked++
		}
		if len(leaks) > 0 {
			add(role, "every system call not on its list", "not killed: "+strings.Join(leaks, ","), "", containment.GotThrough)
		} else {
			add(role, "every system call not on its list", fmt.Sprintf("live filter: KILL_PROCESS for all %d numbers 0..1023 off its %d-entry list", checked, len(listed)), "seccomp", containment.Blocked)
		}
	}
	// The attacks that end a role, one run each.
	for _, c := range fatal {
		rows = append(rows, fatalRun(t, l, bin, c, extra))
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].role < rows[j].role })
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s | %-88s | %-8s | %-12s | %-30s | %s\n", "role", "attack", "expected", "outcome", "layer", "observed")
	bad := 0
	for _, x := range rows {
		fmt.Fprintf(&b, "%-10s | %-88s | %-8s | %-12s | %-30s | %s\n", x.role, x.attack, x.expected, x.outcome, x.layer, x.observed)
		if x.outcome != containment.Blocked && x.outcome != containment.ByDesign && x.outcome != kernelLimit {
			bad++
		}
	}
	t.Logf("containment table (%d rows):\n%s", len(rows), b.String())
	if bad > 0 {
		t.Errorf("%d of %d rows not blocked", bad, len(rows))
	}
}

// selectedKill are the attacks the filter kills that are also made for
// real, each in a run of its own, to see the kernel kill the role.
var selectedKill = map[string]bool{
	"engine/" + containment.AttackKillInit:      true,
	"engine/" + containment.AttackCloneNewnet:   true,
	"hostname/" + containment.AttackOpenTmp:     true,
	"sockd/" + containment.AttackSocketTCP:      true,
	"ifch/" + containment.AttackMadviseHWPoison: true,
	"supervisor/" + containment.AttackKillInit:  true,
	"engine/" + containment.AttackSendtoOtherIf: true,
	"dns/" + containment.AttackDNSSocketDgram:   true,
}

// fatalRun makes one attack in a run of its own and says how it ended.
func fatalRun(t *testing.T, l *lab.Lab, bin string, c containment.Record, extra []string) row {
	t.Helper()
	r := start(t, l, bin, c.Role+"/"+c.Attack, extra)
	// The peer that must end for a sockd request is sockd.
	victim := c.Role
	if strings.HasPrefix(c.Attack, "ask sockd") {
		victim = roles.Sockd
	}
	if victim == roles.Supervisor {
		// A supervisor that dies writes no record of its own exit:
		// the daemon's wait status is the supervisor's.
		res := row{c.Role, c.Attack + " [own run]", "blocked", "", "", "missing"}
		select {
		case <-r.done:
			ws, _ := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
			res.observed = r.cmd.ProcessState.String()
			if ws.Signaled() && ws.Signal() == syscall.SIGSYS {
				res.layer, res.outcome = "seccomp (the daemon's wait status: SIGSYS)", containment.Blocked
			} else {
				res.outcome = containment.GotThrough
			}
		case <-time.After(60 * time.Second):
			res.observed = "the daemon did not end within 60 s"
			r.stop()
		}
		return res
	}
	var res row
	got := r.wait(60*time.Second, func(rs []containment.Record, evs []event.Record) bool {
		for _, e := range evs {
			if e.Event == "exit" && e.Role == victim {
				res = row{c.Role, c.Attack, "blocked", e.Status + " " + e.Crash, "", containment.GotThrough}
				switch {
				case strings.Contains(e.Status, "SIGSYS"):
					res.layer, res.outcome = "seccomp (SIGSYS in the exit record)", containment.Blocked
				case threadBombEnd(e.Crash):
					res.layer, res.outcome = "rlimit (RLIMIT_NPROC or RLIMIT_DATA: no further thread)", containment.Blocked
				case victim == roles.Sockd:
					res.layer, res.outcome = "sockd-validation (sockd ended the channel)", containment.Blocked
				}
				return true
			}
		}
		for _, x := range rs {
			if x.Role == c.Role && x.Attack == c.Attack && x.Outcome != containment.Separate && x.Outcome != containment.Kill {
				res = row{c.Role, c.Attack, "blocked", x.Observed, x.Layer, x.Outcome}
				if x.Outcome == containment.Blocked && !strings.HasPrefix(x.Layer, "sockd") {
					return true
				}
			}
		}
		return false
	})
	r.stop()
	if !got && res.outcome == "" {
		// The victim's peer may notice its death first, and the
		// supervisor stops the group at the first exit it sees, so the
		// victim's own exit goes unrecorded: its crash is in the lines
		// the supervisor relayed for it.
		r.stop()
		r.mu.Lock()
		for _, raw := range r.lines {
			var sl supLine
			if json.Unmarshal([]byte(raw), &sl) == nil && sl.From == victim && strings.HasPrefix(sl.Line, "fatal error:") {
				res = row{c.Role, c.Attack + " [own run]", "blocked", sl.Line + " (relayed; a peer's exit was recorded first)",
					"rlimit (RLIMIT_NPROC or RLIMIT_DATA: no further thread)", containment.Blocked}
				if !threadBombEnd(sl.Line) {
					res.layer, res.outcome = "", containment.GotThrough
				}
				break
			}
		}
		// Or its lines were dropped by the supervisor's rate limit (a
		// crash prints every goroutine): the battery of a role that
		// survives its attack always ends with a record, so a daemon
		// that ended with another role's exit and no record from the
		// victim means the victim died first.
		if res.outcome == "" {
			var first event.Record
			for _, e := range r.events {
				if e.Event == "exit" {
					first = e
					break
				}
			}
			mine := false
			for _, x := range r.recs {
				mine = mine || (x.Role == c.Role && x.Attack == c.Attack && x.Outcome != containment.Separate && x.Outcome != containment.Kill)
			}
			if c.Attack == containment.AttackThreadBomb && first.Role != "" && first.Role != victim && !mine {
				res = row{c.Role, c.Attack + " [own run]", "blocked",
					fmt.Sprintf("%s died without a record; %s's exit (%s) came first", victim, first.Role, first.Status),
					"rlimit (RLIMIT_NPROC or RLIMIT_DATA: no further thread)", containment.Blocked}
			}
		}
		r.mu.Unlock()
		if res.outcome != "" {
			return res
		}
		r.mu.Lock()
		tail := r.lines[max(0, len(r.lines)-8):]
		r.mu.Unlock()
		t.Logf("%s/%s: the daemon's last lines:\n%s", c.Role, c.Attack, strings.Join(tail, "\n"))
		return row{c.Role, c.Attack, "blocked", "no exit and no record within 60 s", "", "missing"}
	}
	res.attack += " [own run]"
	return res
}
