package sandbox_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/sandbox"
)

// A toy daemon of two kinds of children, written against the framework
// alone, as any program would be: "echo" answers each command with an
// event, "worker" is a per-connection child that does its job and exits.

type toyConfig struct {
	Greeting string `json:"greeting"`
	Exit     int    `json:"exit"`
}

// toyChild runs a toy role in a child and never returns.
func toyChild(role string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", role)
	in, err := sandbox.Inherit()
	if err != nil {
		log.Error("inherit", "err", err)
		os.Exit(10)
	}
	var cfg toyConfig
	if err := in.Config(&cfg); err != nil {
		log.Error("config", "err", err)
		os.Exit(11)
	}
	if role == "toy-broken" {
		os.Exit(12) // dies before its ready notice
	}
	if role == "toy-fds" {
		// Taken, so that Ready keeps it open.
		if _, err := in.File("named"); err != nil {
			os.Exit(16)
		}
	}
	if _, err := in.Ready(sandbox.Options{Log: log}); err != nil {
		log.Error("ready", "err", err)
		os.Exit(13)
	}
	switch role {
	case "toy-fds":
		// Its descriptors as the kernel lists them, after the sandbox.
		var fds []string
		for fd := range 64 {
			var st syscall.Stat_t
			if syscall.Fstat(fd, &st) == nil {
				fds = append(fds, fmt.Sprintf("%d:%d", fd, st.Ino))
			}
		}
		sandbox.Send(in.Ctl, []byte(strings.Join(fds, " ")))
		os.Exit(0)
	case "toy-privileged":
		// Not sandboxed: it may do what its policy-less parent may.
		pgid, err := syscall.Getpgid(0)
		sandbox.Send(in.Ctl, []byte(fmt.Sprintf("pgid=%d err=%v files=%d", pgid, err, len(in.Policy.Seccomp))))
		// Stays until the parent closes the channel, so the test can
		// look at it.
		sandbox.RecvUpTo(in.Ctl, 1)
		os.Exit(0)
	case "toy-procs":
		// What its runtime schedules on, and the environment it was
		// started with.
		sandbox.Send(in.Ctl, []byte(fmt.Sprintf("gomaxprocs=%d env=%q", runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS"))))
		os.Exit(0)
	case "toy-clock":
		// When Ready returned (a held child: after the parent's go).
		sandbox.Send(in.Ctl, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
		os.Exit(0)
	case "toy-worker":
		sandbox.Send(in.Ctl, []byte(cfg.Greeting+" degrade="+strings.Join(in.Degrade, ",")))
		os.Exit(cfg.Exit)
	case "toy-forbidden":
		syscall.Getpgid(0) // not on the allowlist: seccomp kills the process
		os.Exit(0)
	case "toy-chatty":
		// Many lines at once, then one longer than the relay's bound,
		// then a last line without a newline.
		for i := range cfg.Exit {
			fmt.Fprintf(os.Stderr, "line %d\n", i)
		}
		os.Stderr.WriteString(strings.Repeat("x", sandbox.MaxOutputLine+10) + "\nlast")
		os.Exit(0)
	case "toy-flood":
		sandbox.Send(in.Ctl, make([]byte, 8192))
		time.Sleep(10 * time.Second)
		os.Exit(0)
	}
	for {
		b, err := sandbox.RecvUpTo(in.Ctl, 64)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			os.Exit(0)
		}
		if err != nil {
			os.Exit(14)
		}
		if string(b) == "zone" {
			// The time zone, loaded before the chroot by Enter.
			b, _ = time.Date(2026, 1, 1, 12, 0, 0, 0, time.Local).MarshalText()
		}
		if err := sandbox.Send(in.Ctl, append([]byte(cfg.Greeting+" "), b...)); err != nil {
			os.Exit(15)
		}
	}
}

func toySpec(t *testing.T, role string, cfg toyConfig) sandbox.Spec {
	p := rootPolicy(t)
	p.Role = role
	return sandbox.Spec{Role: role, Policy: p, Config: cfg}
}

// next returns the next event, failing the test after a bound.
func next(t *testing.T, g *sandbox.Group) sandbox.Event {
	t.Helper()
	select {
	case ev := <-g.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return sandbox.Event{}
	}
}

func TestGroupToyDaemon(t *testing.T) {
	requireRoot(t)
	// A zone with no daylight saving time, so the offset below is fixed.
	t.Setenv("TZ", "Asia/Tokyo")
	g := sandbox.NewGroup(sandbox.GroupOptions{Signals: []os.Signal{syscall.SIGUSR1}})
	defer g.Close()

	// Fixed roles: ready reports come back from the children's kernels.
	ms, err := g.Start(sandbox.ExitFatal, toySpec(t, "toy-echo", toyConfig{Greeting: "hello"}))
	if err != nil {
		t.Fatal(err)
	}
	echo := ms[0]
	if echo.Report == nil || echo.Report.Status.Seccomp != 2 || echo.Report.Status.NoNewPrivs != 1 || echo.Report.Status.Uid[1] != 61234 {
		t.Fatalf("ready report %+v", echo.Report)
	}

	// Commands to a child and events back.
	if err := echo.Send([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, g); ev.Member != echo || string(ev.Msg) != "hello ping" {
		t.Fatalf("event %+v, want hello ping from echo", ev)
	}

	// The child's time zone is the parent's TZ, loaded before its chroot.
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Tokyo"); err == nil {
		echo.Send([]byte("zone"))
		if ev := next(t, g); string(ev.Msg) != "hello 2026-01-01T12:00:00+09:00" {
			t.Fatalf("event %q, want the time in Asia/Tokyo", ev.Msg)
		}
	}

	// Signals the parent gets become events for the program to relay.
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	if ev := next(t, g); ev.Signal != syscall.SIGUSR1 {
		t.Fatalf("event %+v, want SIGUSR1", ev)
	}

	// Per-connection children: their exits are expected and reported,
	// and the group goes on.
	for _, code := range []int{0, 3} {
		ws, err := g.Start(sandbox.ExitExpected, toySpec(t, "toy-worker", toyConfig{Greeting: "done", Exit: code}))
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, g); ev.Member != ws[0] || string(ev.Msg) != "done degrade=" {
			t.Fatalf("event %+v, want the worker's message", ev)
		}
		ev := next(t, g)
		if ev.Member != ws[0] || !ev.Exited || ev.Fatal || (code == 0) != (ev.Err == nil) {
			t.Fatalf("event %+v, want the worker's expected exit with status %d", ev, code)
		}
	}
	if got := len(g.Members()); got != 1 {
		t.Fatalf("%d members after the workers left, want 1", got)
	}

	// A child that sends more than the bound is killed.
	if _, err := g.Start(sandbox.ExitExpected, toySpec(t, "toy-flood", toyConfig{})); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, g); !ev.Exited || !strings.Contains(sandbox.DescribeExit(ev.Err), "SIGKILL") {
		t.Fatalf("event %+v (%s), want the flooder killed", ev, sandbox.DescribeExit(ev.Err))
	}

	// A child that dies before its ready notice is a start failure that
	// says how it ended.
	_, err = g.Start(sandbox.ExitExpected, toySpec(t, "toy-broken", toyConfig{}))
	var re *sandbox.ReadyError
	if !errors.As(err, &re) || re.Role != "toy-broken" || re.Exit != "exit status 12" {
		t.Fatalf("start of a broken child: %v", err)
	}

	// Closing the group ends the fixed role: its exit is fatal.
	g.Close()
	if ev := next(t, g); ev.Member != echo || !ev.Exited || !ev.Fatal || ev.Err != nil {
		t.Fatalf("event %+v, want echo's fatal exit 0", ev)
	}
}

// TestGroupDegradeReachesChildren: the operator's degrade list is carried
// to each child in its setup, whatever the spec said.
func TestGroupDegradeReachesChildren(t *testing.T) {
	requireRoot(t)
	g := sandbox.NewGroup(sandbox.GroupOptions{Degrade: []string{sandbox.LayerLandlock}})
	defer g.Close()
	spec := toySpec(t, "toy-worker", toyConfig{Greeting: "w"})
	spec.Degrade = []string{sandbox.LayerSeccomp}
	ws, err := g.Start(sandbox.ExitExpected, spec)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, g); ev.Member != ws[0] || string(ev.Msg) != "w degrade=landlock" {
		t.Fatalf("event %q, want the child to see degrade=landlock", ev.Msg)
	}
}

// runChatty runs the toy-chatty child writing n lines with an Output
// that waits for the child to be gone when stall is set, and returns the
// lines relayed.
func runChatty(t *testing.T, n int, stall bool) (*sandbox.Member, []sandbox.OutputLine) {
	t.Helper()
	var mu sync.Mutex
	var lines []sandbox.OutputLine
	release := make(chan struct{})
	if !stall {
		close(release)
	}
	g := sandbox.NewGroup(sandbox.GroupOptions{Output: func(l sandbox.OutputLine) {
		<-release
		mu.Lock()
		defer mu.Unlock()
		l.Text = bytes.Clone(l.Text)
		lines = append(lines, l)
	}})
	defer g.Close()
	ms, err := g.Start(sandbox.ExitExpected, toySpec(t, "toy-chatty", toyConfig{Exit: n}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ms[0].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child blocked on its stderr")
	}
	if stall {
		close(release)
	}
	if ev := next(t, g); !ev.Exited || ev.Member != ms[0] {
		t.Fatalf("event %+v, want the exit", ev)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if l.Member != ms[0] {
			t.Fatalf("line from %v", l.Member)
		}
	}
	return ms[0], lines
}

// TestGroupOutput: a child's stderr reaches the parent line by line
// through the group, in order, a long line is cut, and the last line comes
// before the exit event.
func TestGroupOutput(t *testing.T) {
	requireRoot(t)
	_, lines := runChatty(t, 100, false)
	var texts []string
	var cut []bool
	for _, l := range lines {
		if l.Dropped != 0 {
			t.Fatalf("%d lines dropped with a parent that keeps up", l.Dropped)
		}
		if bytes.HasPrefix(l.Text, []byte("time=")) {
			continue // the sandbox's own log line
		}
		texts = append(texts, string(l.Text))
		cut = append(cut, l.Cut)
	}
	want := []string{}
	for i := range 100 {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, strings.Repeat("x", sandbox.MaxOutputLine), "xxxxxxxxxx", "last")
	if d := cmp.Diff(want, texts); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	if !cut[100] || cut[101] {
		t.Error("the long line's first part is not marked cut")
	}
}

// TestGroupOutputStalled: a parent whose output stalls costs lines, never
// the child's progress, and says how many were dropped.
func TestGroupOutputStalled(t *testing.T) {
	requireRoot(t)
	const n = 5000
	_, lines := runChatty(t, n, true)
	got, dropped := 0, 0
	for _, l := range lines {
		dropped += l.Dropped
		if bytes.HasPrefix(l.Text, []byte("line ")) {
			got++
		}
	}
	if got == 0 || dropped == 0 || got+dropped < n {
		t.Errorf("%d lines relayed and %d dropped of %d: want the queue's worth relayed and the rest counted", got, dropped, n)
	}
	t.Logf("%d lines relayed, %d dropped while the parent was stalled", got, dropped)
}

// TestGroupSeccompKill: a child killed by seccomp is reported so, and
// named with its system call when the kernel logged the kill (its printk
// rate limit may drop the record after a burst of kills).
func TestGroupSeccompKill(t *testing.T) {
	requireRoot(t)
	kills, err := sandbox.OpenKillLog()
	if err != nil {
		t.Logf("kernel log not readable (%v): the kill cannot be named", err)
	}
	defer kills.Close()
	g := sandbox.NewGroup(sandbox.GroupOptions{Kills: kills})
	defer g.Close()
	if _, err := g.Start(sandbox.ExitExpected, toySpec(t, "toy-forbidden", toyConfig{})); err != nil {
		t.Fatal(err)
	}
	ev := next(t, g)
	if !ev.Exited || !strings.Contains(sandbox.DescribeExit(ev.Err), "SIGSYS") {
		t.Fatalf("event %+v (%s), want a kill by SIGSYS", ev, sandbox.DescribeExit(ev.Err))
	}
	if ev.Syscall != "" && ev.Syscall != "getpgid" {
		t.Errorf("named %q, want getpgid", ev.Syscall)
	}
	t.Logf("named: %q", ev.Syscall)
}

// TestGroupPrivilegedProgram starts a privileged child from another
// binary: it keeps root, the full bounding set and no seccomp filter, and
// reports so in its ready notice.
func TestGroupPrivilegedProgram(t *testing.T) {
	requireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy under another name: Program must really be what runs.
	prog := filepath.Join(t.TempDir(), "toy-program")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, b, 0o755); err != nil {
		t.Fatal(err)
	}
	g := sandbox.NewGroup(sandbox.GroupOptions{})
	defer g.Close()
	spec := sandbox.Spec{Role: "toy-privileged", Policy: sandbox.Policy{Role: "toy-privileged"}, Program: prog, Privileged: true, Config: toyConfig{}}
	ms, err := g.Start(sandbox.ExitExpected, spec)
	if err != nil {
		t.Fatal(err)
	}
	m := ms[0]
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", m.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if exe != prog {
		t.Errorf("child runs %s, want %s", exe, prog)
	}
	st := m.Report.Status
	if st.Uid != [4]uint32{} || st.Seccomp != 0 || st.NoNewPrivs != 0 {
		t.Errorf("privileged child: uid %v seccomp %d no_new_privs %d, want root, 0, 0", st.Uid, st.Seccomp, st.NoNewPrivs)
	}
	// Spawn narrows the bounding set of the thread it forks from for
	// sandboxed children; a privileged child keeps what a session needs.
	need, err := sandbox.CapMask([]string{"CAP_SETUID", "CAP_SETGID", "CAP_AUDIT_CONTROL", "CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"})
	if err != nil {
		t.Fatal(err)
	}
	if st.CapBnd&need != need || st.CapEff&need != need {
		t.Errorf("privileged child's bounding set %#x, effective %#x: want at least %#x", st.CapBnd, st.CapEff, need)
	}
	ev := next(t, g)
	if want := fmt.Sprintf("pgid=%d err=<nil> files=0", syscall.Getpgrp()); string(ev.Msg) != want {
		t.Errorf("child said %q, want %q", ev.Msg, want)
	}

	for name, bad := range map[string]sandbox.Spec{
		"a policy":         {Role: "toy-privileged", Policy: rootPolicy(t), Privileged: true},
		"relative program": {Role: "toy-worker", Policy: rootPolicy(t), Program: "toy-program"},
	} {
		if _, err := sandbox.Spawn(bad); err == nil {
			t.Errorf("Spawn with %s: no error", name)
		}
	}
}

// TestGroupChildHoldsNamedDescriptorsOnly: a descriptor the parent holds
// without close-on-exec (as if its own parent had left it open) does not
// reach a child, which keeps its named ones.
func TestGroupChildHoldsNamedDescriptorsOnly(t *testing.T) {
	requireRoot(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	named, err := os.CreateTemp(t.TempDir(), "named")
	if err != nil {
		t.Fatal(err)
	}
	var leaked, kept syscall.Stat_t
	syscall.Fstat(int(w.Fd()), &leaked)
	syscall.Fstat(int(named.Fd()), &kept)
	g := sandbox.NewGroup(sandbox.GroupOptions{})
	defer g.Close()
	spec := toySpec(t, "toy-fds", toyConfig{})
	spec.Policy.Seccomp = sandbox.With(spec.Policy.Seccomp, sandbox.Allow("fstat", "the test lists its descriptors"))
	spec.Files = []sandbox.File{{Name: "named", File: named}}
	if _, err := g.Start(sandbox.ExitExpected, spec); err != nil {
		t.Fatal(err)
	}
	ev := next(t, g)
	got := " " + string(ev.Msg) + " "
	if strings.Contains(got, fmt.Sprintf(":%d ", leaked.Ino)) {
		t.Errorf("the child holds the parent's unnamed descriptor (inode %d): %s", leaked.Ino, got)
	}
	if !strings.Contains(got, fmt.Sprintf(":%d ", kept.Ino)) {
		t.Errorf("the child lost its named descriptor (inode %d): %s", kept.Ino, got)
	}
}

// TestGroupGoMaxProcs: a policy's GoMaxProcs reaches the child's runtime
// from its first instruction (the environment Spawn builds); without it
// the child gets no GOMAXPROCS, whatever the parent's environment says.
func TestGroupGoMaxProcs(t *testing.T) {
	requireRoot(t)
	t.Setenv("GOMAXPROCS", "3")
	g := sandbox.NewGroup(sandbox.GroupOptions{})
	defer g.Close()
	for _, tc := range []struct {
		procs int
		want  string
	}{
		{1, `gomaxprocs=1 env="1"`},
		{2, `gomaxprocs=2 env="2"`},
		{0, ` env=""`}, // the runtime's default, not the parent's 3
	} {
		s := toySpec(t, "toy-procs", toyConfig{})
		s.Policy.GoMaxProcs = tc.procs
		ms, err := g.Start(sandbox.ExitExpected, s)
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, g); ev.Member != ms[0] || !strings.HasSuffix(string(ev.Msg), tc.want) || tc.procs == 0 && strings.HasPrefix(string(ev.Msg), "gomaxprocs=3 ") {
			t.Errorf("GoMaxProcs %d: child says %q, want %q", tc.procs, ev.Msg, tc.want)
		}
		if ev := next(t, g); !ev.Exited || ev.Err != nil {
			t.Fatalf("event %+v, want the child's exit 0", ev)
		}
	}
}

// TestGroupHold: a held child's Ready returns only after StartThen's
// function returned; when the function fails, the child never gets its
// go, is killed, and the error comes back.
func TestGroupHold(t *testing.T) {
	requireRoot(t)
	g := sandbox.NewGroup(sandbox.GroupOptions{})
	defer g.Close()
	s := toySpec(t, "toy-clock", toyConfig{})
	s.Hold = true
	var thenDone int64
	ms, err := g.StartThen(sandbox.ExitExpected, func() error {
		// Long enough that a child not held would be past Ready.
		time.Sleep(300 * time.Millisecond)
		thenDone = time.Now().UnixNano()
		return nil
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, g)
	released, err := strconv.ParseInt(string(ev.Msg), 10, 64)
	if ev.Member != ms[0] || err != nil {
		t.Fatalf("event %+v: want the child's clock", ev)
	}
	if released < thenDone {
		t.Errorf("the held child went on %v before the parent's function returned", time.Duration(thenDone-released))
	}
	if ev := next(t, g); !ev.Exited || ev.Err != nil {
		t.Fatalf("event %+v, want the child's exit 0", ev)
	}

	s = toySpec(t, "toy-clock", toyConfig{})
	s.Hold = true
	failed := errors.New("the parent could not sandbox itself")
	if _, err := g.StartThen(sandbox.ExitExpected, func() error { return failed }, s); !errors.Is(err, failed) {
		t.Fatalf("StartThen: %v, want %v", err, failed)
	}
	select {
	case ev := <-g.Events():
		t.Fatalf("event %+v from a child whose start failed", ev)
	case <-time.After(100 * time.Millisecond):
	}
}
