//go:build linux && containment

package logincontainment_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/internal/login/client"
	"github.com/ndhc-go/ndhc/internal/login/hostkey"
	lc "github.com/ndhc-go/ndhc/internal/login/logincontainment"
	"github.com/ndhc-go/ndhc/internal/login/logintest"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

const (
	pamService = "netlogind-containment"
	tcpAddr    = "127.0.0.1:2424"
	password   = "C0ntain-me"
)

// selectedKill are the attacks [net]'s filter kills that are also made for
// real, each in a connection of its own, to see the kernel kill [net].
var selectedKill = map[string]bool{
	lc.AttackCreateTmp:    true,
	lc.AttackSocketInet:   true,
	lc.AttackConnectOut:   true,
	lc.AttackKillOtherNet: true,
	lc.AttackPtraceOther:  true,
}

// daemon is the running netlogind and the records its [net]s wrote.
type daemon struct {
	dir, sock, ns string
	cmd           *exec.Cmd
	done          chan struct{}
	log           syncBuf

	mu   sync.Mutex
	recs []lc.Record
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// poll returns the records read so far.
func (d *daemon) poll(t *testing.T) []lc.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]lc.Record(nil), d.recs...)
}

// read takes the records from the FIFO until it is closed.
func (d *daemon) read(t *testing.T, f *os.File) {
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<16)
	for sc.Scan() {
		var r lc.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Containment != 1 {
			t.Errorf("a line in the records FIFO that is no record: %q", sc.Bytes())
			continue
		}
		d.mu.Lock()
		d.recs = append(d.recs, r)
		d.mu.Unlock()
	}
}

// wait polls the records (bounded) until ok finds what it wants.
func (d *daemon) wait(t *testing.T, dl time.Duration, ok func(lc.Record) bool) (lc.Record, bool) {
	for deadline := time.Now().Add(dl); time.Now().Before(deadline); {
		for _, r := range d.poll(t) {
			if ok(r) {
				return r, true
			}
		}
		select {
		case <-d.done:
			t.Fatalf("netlogind exited\n%s", d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return lc.Record{}, false
}

func (d *daemon) of(t *testing.T, pid int) []lc.Record {
	var out []lc.Record
	for _, r := range d.poll(t) {
		if r.Pid == pid {
			out = append(out, r)
		}
	}
	return out
}

// connect writes the selection, opens a connection (UNIX, or TCP in the
// daemon's namespace) and waits for its [net]'s first record, which
// echoes the selection's tag: the selection is read when [net] is
// spawned, so the next one is written only after.
func (d *daemon) connect(t *testing.T, sel lc.Selection, tcp bool) (net.Conn, lc.Record) {
	t.Helper()
	b, _ := json.Marshal(sel)
	if err := os.WriteFile(filepath.Join(d.dir, lc.SelectFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	var err error
	for range 100 {
		if tcp {
			c, err = dialIn(d.ns, tcpAddr)
		} else {
			c, err = net.Dial("unix", d.sock)
		}
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	first, ok := d.wait(t, 20*time.Second, func(r lc.Record) bool {
		return r.Attack == "(start)" && r.Selected != nil && r.Selected.Tag == sel.Tag
	})
	if !ok {
		c.Close()
		t.Fatalf("connection %s: no first record from its [net]\n%s", sel.Tag, d.log.String())
	}
	return c, first
}

// dialIn connects to addr from inside the named network namespace ns.
func dialIn(ns, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		// The socket is made on this thread, in ns, and stays there.
		c, derr := net.DialTimeout("tcp", addr, 5*time.Second)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Left locked: the thread goes away with its goroutine.
			ch <- result{c, derr}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{c, derr}
	}()
	r := <-ch
	return r.c, r.err
}

func startDaemon(t *testing.T, bins string) *daemon {
	t.Helper()
	d := &daemon{dir: t.TempDir(), ns: logintest.NamedNetNS(t), done: make(chan struct{})}
	d.sock = filepath.Join(d.dir, "netlogind.sock")
	// The records FIFO, held open read-write so that it never reads
	// end-of-file while no [net] holds it; closed when the test ends.
	fifo := filepath.Join(d.dir, lc.RecordsFile)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rf, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() { d.read(t, rf); close(readDone) }()
	t.Cleanup(func() { rf.Close(); <-readDone })
	keyPEM, certPEM, err := hostkey.Generate("netlogind-containment", []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, cert := filepath.Join(d.dir, "host.key"), filepath.Join(d.dir, "host.crt")
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(bins, "netlogind"),
		"-unix", d.sock, "-unix-mode", "0600", "-listen", tcpAddr, "-key", key, "-cert", cert,
		"-run-dir", filepath.Join(d.dir, "run"),
		"-pam-service", pamService, "-pam-confdir", logintest.PAMConfDir(t, pamService),
		"-net-uids", "62700-62799", "-fail-delay", "1s", "-log-level", "debug"}
	d.cmd = logintest.NSCommand(context.Background(), d.ns, args...)
	d.cmd.Env = append(os.Environ(), lc.EnvDir+"="+d.dir)
	d.cmd.Stderr = &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
			t.Errorf("netlogind still running 15 s after SIGTERM")
		}
	})
	for range 250 {
		if fi, err := os.Stat(d.sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("netlogind exited: %s\n%s", d.cmd.ProcessState, d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no socket after 5 s\n%s", d.log.String())
	return nil
}

// session is the authenticated connection that must keep working: its
// commands come one at a time from the harness.
type session struct {
	user string
	cmds chan string
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (s *session) Text(string) {}
func (s *session) Prompt(_ string, echo bool) ([]byte, error) {
	if echo {
		return []byte(s.user), nil
	}
	return []byte(password), nil
}
func (s *session) NextCommand() (string, bool, error) {
	c, ok := <-s.cmds
	return c, ok, nil
}
func (s *session) Stdout() io.Writer { return s }
func (s *session) Stderr() io.Writer { return io.Discard }
func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// run has the session run `echo word` and says whether word came back.
func (s *session) run(word string) bool {
	s.cmds <- "echo " + word
	for range 500 {
		s.mu.Lock()
		got := strings.Contains(s.out.String(), word+"\n")
		s.mu.Unlock()
		if got {
			return true
		}
		select {
		case <-s.done:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

type row struct{ conn, attack, expected, outcome, layer, observed string }

// TestContainment runs the battery in the [net] of a UNIX connection and
// of a TLS connection of the real daemon, checks their live filters,
// makes the attacks that end a [net] in connections of their own, and
// checks after each that the authenticated UNIX connection still runs a
// command.
func TestContainment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: netlogind runs as root with [net] uids and a chroot, and the harness creates a user, a network namespace and traces [net]")
	}
	bins := t.TempDir()
	build := exec.Command("go", "build", "-tags", "containment", "-o", filepath.Join(bins, "netlogind"), "github.com/ndhc-go/ndhc/cmd/netlogind")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the containment build of netlogind: %v\n%s", err, out)
	}
	logintest.Build(t, bins, "github.com/ndhc-go/ndhc/cmd/netlogind-session", true)
	user := logintest.ThrowawayUser(t, password)
	d := startDaemon(t, bins)

	var rows []row
	add := func(r row) { rows = append(rows, r) }
	arch, _ := sandbox.AuditArch()

	// The two full batteries.
	type main struct {
		name   string
		conn   net.Conn
		pid    int
		filter []bpf.Instruction
	}
	var mains []*main
	for _, m := range []struct {
		name string
		tcp  bool
	}{{"unix", false}, {"tls", true}} {
		c, first := d.connect(t, lc.Selection{Tag: m.name}, m.tcp)
		if _, ok := d.wait(t, 60*time.Second, func(r lc.Record) bool { return r.Pid == first.Pid && r.End }); !ok {
			t.Fatalf("%s: the battery did not end: %+v\n%s", m.name, d.of(t, first.Pid), d.log.String())
		}
		prog, err := kit.LiveFilter(first.Pid)
		if err != nil {
			t.Errorf("%s: live filter of [net] %d: %v", m.name, first.Pid, err)
		}
		mains = append(mains, &main{name: m.name, conn: c, pid: first.Pid, filter: prog})
	}
	a, tls := mains[0], mains[1]
	// The TLS connection's [net] is done with: closing it ends [net].
	tls.conn.Close()

	// The UNIX connection logs in and stays.
	s := &session{user: user, cmds: make(chan string), done: make(chan error, 1)}
	go func() {
		_, err := client.Run(context.Background(), a.conn, s)
		s.done <- err
	}()
	if !s.run("ok-start") {
		t.Fatalf("the battery's UNIX connection does not log in and run a command\n%s", d.log.String())
	}

	type fatal struct {
		attack string
		tls    bool
	}
	var fatals []fatal
	seen := map[string]bool{}
	for _, m := range mains {
		for _, r := range d.of(t, m.pid) {
			if r.Attack == "(start)" || r.End {
				continue
			}
			switch r.Outcome {
			case lc.Kill:
				v, err := sandbox.EvalSeccomp(m.filter, sandbox.SeccompData{Nr: int32(r.Nr), Arch: arch, Args: r.Args})
				switch {
				case m.filter == nil || err != nil:
					add(row{m.name, r.Attack, lc.Blocked, "missing", "", fmt.Sprintf("live filter unread: %v", err)})
				case sandbox.SeccompAction(v) == sandbox.SeccompRetKillProcess:
					add(row{m.name, r.Attack, lc.Blocked, lc.Blocked, "seccomp", fmt.Sprintf("live filter: KILL_PROCESS for nr %d", r.Nr)})
				default:
					add(row{m.name, r.Attack, lc.Blocked, lc.GotThrough, "", fmt.Sprintf("live filter: %#x for nr %d", v, r.Nr)})
				}
				if m == a && selectedKill[r.Attack] && !seen[r.Attack] {
					fatals, seen[r.Attack] = append(fatals, fatal{r.Attack, false}), true
				}
			case lc.Separate:
				if !seen[r.Attack] {
					fatals, seen[r.Attack] = append(fatals, fatal{r.Attack, r.TLS}), true
				}
			default:
				add(row{m.name, r.Attack, lc.Blocked, r.Outcome, r.Layer, r.Observed})
			}
		}
		// Every number off [net]'s list is KILL_PROCESS in its live filter.
		if m.filter == nil {
			add(row{m.name, "every system call not on its list", lc.Blocked, "missing", "", "live filter unread"})
			continue
		}
		listed := map[int]bool{}
		for _, sc := range policies.NetloginNet(policies.NetloginNetUIDFirst, policies.NetloginEmptyDir).Seccomp {
			if n, err := sandbox.SyscallNumber(sc.Name); err == nil {
				listed[n] = true
			}
		}
		var leaks []string
		checked := 0
		for nr := range 1024 {
			if listed[nr] {
				continue
			}
			checked++
			v, err := sandbox.EvalSeccomp(m.filter, sandbox.SeccompData{Nr: int32(nr), Arch: arch})
			if err != nil || sandbox.SeccompAction(v) != sandbox.SeccompRetKillProcess {
				leaks = append(leaks, fmt.Sprint(nr))
			}
		}
		if len(leaks) > 0 {
			add(row{m.name, "every system call not on its list", lc.Blocked, lc.GotThrough, "", "not killed: " + strings.Join(leaks, ",")})
		} else {
			add(row{m.name, "every system call not on its list", lc.Blocked, lc.Blocked, "seccomp",
				fmt.Sprintf("live filter: KILL_PROCESS for all %d numbers 0..1023 off its %d-entry list", checked, len(listed))})
		}
	}
	if len(fatals) < len(selectedKill) {
		t.Errorf("only %d attacks to make in connections of their own; the battery's records: %+v", len(fatals), d.of(t, a.pid))
	}

	// The attacks that end a [net] (or its connection), one connection
	// each; the authenticated connection runs a command after each.
	for i, f := range fatals {
		rows = append(rows, fatalRun(t, d, i, f.attack, f.tls, a.pid))
		word := fmt.Sprintf("ok-after-%d", i)
		if s.run(word) {
			add(row{"unix", "the authenticated connection, after: " + f.attack, "unharmed", "unharmed", "", "ran `echo " + word + "`"})
		} else {
			add(row{"unix", "the authenticated connection, after: " + f.attack, "unharmed", "harmed", "", "no output for `echo " + word + "`"})
			break
		}
	}
	close(s.cmds)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("the authenticated connection's end: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the authenticated connection did not finish")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%-5s | %-100s | %-9s | %-12s | %-34s | %s\n", "conn", "attack", "expected", "observed", "layer", "details")
	bad := 0
	for _, x := range rows {
		fmt.Fprintf(&b, "%-5s | %-100s | %-9s | %-12s | %-34s | %s\n", x.conn, x.attack, x.expected, x.outcome, x.layer, x.observed)
		if x.outcome != x.expected {
			bad++
		}
	}
	t.Logf("containment table (%d rows):\n%s", len(rows), b.String())
	if bad > 0 {
		t.Errorf("%d of %d rows not as expected\nnetlogind's log:\n%s", bad, len(rows), d.log.String())
	}
}

// fatalRun makes one attack for real in a connection of its own: it
// traces the battery's thread from the armed record on, sends the go
// byte, and judges by the kernel's account of the thread's end and the
// attack's record, if [net] lived to write one.
func fatalRun(t *testing.T, d *daemon, i int, attack string, tcp bool, target int) row {
	t.Helper()
	conn := "own"
	if tcp {
		conn = "own-t"
	}
	res := row{conn: conn, attack: attack, expected: lc.Blocked, outcome: "missing"}
	c, first := d.connect(t, lc.Selection{Attack: attack, Target: target, Tag: fmt.Sprint("fatal-", i)}, tcp)
	defer c.Close()
	armed, ok := d.wait(t, 20*time.Second, func(r lc.Record) bool { return r.Pid == first.Pid && r.Outcome == lc.Armed })
	if !ok {
		res.observed = fmt.Sprintf("no armed record: %+v", d.of(t, first.Pid))
		return res
	}
	ended := traceExit(armed.Tid, time.Now().Add(40*time.Second), func() { c.Write([]byte{1}) })
	// The attack's own record, when [net] lives to write it; then the
	// connection is closed so that a surviving [net] ends too.
	var rec *lc.Record
	var end ending
	for done := false; !done; {
		select {
		case end = <-ended:
			done = true
		case <-time.After(50 * time.Millisecond):
			if rec == nil {
				for _, r := range d.of(t, first.Pid) {
					if r.Attack == attack && r.Outcome != lc.Armed && r.Outcome != lc.Step {
						rec = &r
						c.Close()
						break
					}
				}
			}
		}
	}
	var steps []string
	for _, r := range d.of(t, first.Pid) {
		switch {
		case r.Attack != attack || r.Outcome == lc.Armed:
		case r.Outcome == lc.Step:
			steps = append(steps, r.Observed)
		case rec == nil:
			rec = &r
		}
	}
	if rec != nil {
		steps = append(steps, rec.Observed)
	}
	res.observed = strings.Join(append(steps, "[net] "+end.String()), "; ")
	sig := syscall.Signal(-1)
	if end.err == nil && end.status.Signaled() {
		sig = end.status.Signal()
	}
	switch {
	case rec != nil && rec.Outcome == lc.GotThrough:
		res.outcome, res.layer = lc.GotThrough, rec.Layer
	case selectedKill[attack]:
		// Made for real: only the kernel's kill counts.
		if sig == syscall.SIGSYS {
			res.outcome, res.layer = lc.Blocked, "seccomp (SIGSYS, seen by ptrace)"
		} else {
			res.outcome = lc.GotThrough
		}
	case rec != nil && rec.Outcome == lc.Blocked:
		res.outcome, res.layer = lc.Blocked, rec.Layer
	case attack == lc.AttackSignTwice && len(steps) == 0:
		// Without the first signature the second request proves nothing.
		res.outcome = "missing"
	case rec == nil && sig == syscall.SIGKILL:
		res.outcome, res.layer = lc.Blocked, "listener (killed [net]: SIGKILL, seen by ptrace)"
	case rec == nil && end.err == nil:
		// [net] died before its record: contained to itself, but say how.
		res.outcome, res.layer = lc.Blocked, "died before its record"
	}
	res.attack += " [own connection]"
	return res
}
