package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/control"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/exitcode"
)

// Ids of the throwaway peers of the control socket: no user or group of
// these numbers need exist (the credentials are set on the process).
const (
	ctlPeerUID  = 61190
	ctlGroup    = 61191 // --control-group
	ctlOtherGID = 61192
)

// ctlDir returns a directory that users other than root may search, with
// a copy of the test binary they may run (the build directory is root's
// alone): the control socket goes in it.
func ctlDir(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(dir, "ndhc")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// ctlRun runs `ndhc ARGS` (a control command) with cred (nil: root) and
// returns its exit code, stdout and stderr.
func ctlRun(t *testing.T, bin string, cred *syscall.Credential, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NDHC_TEST_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("ndhc %v: %v", args, err)
	}
	return 0, out.String(), errb.String()
}

// ctlShow is `ndhc show --json` as root, decoded.
func ctlShow(t *testing.T, bin, iface, sock string) control.State {
	t.Helper()
	code, out, errs := ctlRun(t, bin, nil, "show", "-i", iface, "--control-socket", sock, "--json")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errs)
	}
	var st control.State
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("show --json: %v: %q", err, out)
	}
	return st
}

// TestLabControl drives the running daemon through its control socket:
// ndhc wait before the daemon exists (5 after its timeout) and once it
// binds (0); ndhc show --json against the kernel and the event stream;
// renew and rebind, seen on the event stream; a member of the control
// group may show and wait but not renew, anyone else is refused; release
// removes the address from the interface.
func TestLabControl(t *testing.T) {
	l := newLab(t, "control")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	dir, bin := ctlDir(t)
	sock := filepath.Join(dir, "run", "control")
	iface := l.Client.IfName()
	base := []string{"-i", iface, "--control-socket", sock}

	// Nothing listens yet: wait retries, then gives up with 5.
	start := time.Now()
	if code, _, errs := ctlRun(t, bin, nil, append([]string{"wait", "--timeout", "1s"}, base...)...); code != exitcode.NoLease {
		t.Fatalf("wait without a daemon: exit %d, want %d: %s", code, exitcode.NoLease, errs)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("wait gave up after %v, before its timeout", d)
	}

	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off", "--control-socket", sock, "--control-group", "61191"}})
	code, out, errs := ctlRun(t, bin, nil, append([]string{"wait", "--timeout", "40s", "--json"}, base...)...)
	if code != 0 {
		t.Fatalf("wait: exit %d: %s", code, errs)
	}
	var waited control.State
	if err := json.Unmarshal([]byte(out), &waited); err != nil || !waited.Bound() {
		t.Fatalf("wait printed %q (%v): want a bound state", out, err)
	}
	c.waitRec(5*time.Second, "configured", 0, is("configured"))

	// The socket: root's, the control group's, 0660.
	var fst syscall.Stat_t
	if err := syscall.Stat(sock, &fst); err != nil {
		t.Fatal(err)
	}
	if fst.Mode&0o777 != 0o660 || fst.Uid != 0 || fst.Gid != ctlGroup {
		t.Errorf("socket mode %o owner %d:%d", fst.Mode&0o777, fst.Uid, fst.Gid)
	}

	st := ctlShow(t, bin, iface, sock)
	ka := clientKernelAddr(t, l)
	if st.State != "BOUND" || !st.Configured || !ka.exists || st.Address != ka.prefix {
		t.Fatalf("show: state %s configured %v address %v; the kernel has %+v", st.State, st.Configured, st.Address, ka)
	}
	if st.DNS != "file" {
		t.Errorf("show: dns %q, want file (no systemd-resolved in the lab)", st.DNS)
	}
	if !(st.Obtained.Before(st.T1) && st.T1.Before(st.T2) && st.T2.Before(st.Expiry)) {
		t.Errorf("timers out of order: obtained %v t1 %v t2 %v expiry %v", st.Obtained, st.T1, st.T2, st.Expiry)
	}
	if st.Server != l.Net.Gateway() || st.Router != l.Net.Gateway() {
		t.Errorf("server %v router %v, want %v", st.Server, st.Router, l.Net.Gateway())
	}
	pids := map[string]int{}
	for _, r := range st.Roles {
		pids[r.Name] = r.Pid
		if r.Seccomp != 2 || r.NoNewPrivs != 1 {
			t.Errorf("role %+v: not sandboxed", r)
		}
	}
	for _, role := range []string{"supervisor", "engine", "sockd", "ifch"} {
		if pids[role] != c.rolePid(role) {
			t.Errorf("%s: pid %d in show, %d on the event stream", role, pids[role], c.rolePid(role))
		}
	}

	// renew, then rebind: each accepted, each a renewal on the event
	// stream.
	for _, op := range []struct{ name, via string }{{"renew", "RENEWING"}, {"rebind", "REBINDING"}} {
		m := c.mark()
		code, out, errs := ctlRun(t, bin, nil, append([]string{op.name}, base...)...)
		if code != 0 || !strings.Contains(out, "accepted") {
			t.Fatalf("%s: exit %d: %s%s", op.name, code, out, errs)
		}
		c.waitRec(5*time.Second, "the control record", m, func(r event.Record) bool { return r.Event == "control" && r.Cause == op.name })
		c.waitRec(20*time.Second, op.name+" done", m, state("BOUND", op.via))
		c.waitRec(5*time.Second, "configured again", m, is("configured"))
	}
	waitFor(t, 5*time.Second, "two renewals counted", func() bool { return ctlShow(t, bin, iface, sock).Renewals == 2 })

	// A member of the control group (a supplementary group here) may
	// query, and nothing more.
	member := &syscall.Credential{Uid: ctlPeerUID, Gid: ctlOtherGID, Groups: []uint32{ctlGroup}}
	if code, out, errs := ctlRun(t, bin, member, append([]string{"show", "--json"}, base...)...); code != 0 || !strings.Contains(out, `"state":"BOUND"`) {
		t.Errorf("group member's show: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs := ctlRun(t, bin, member, append([]string{"wait", "--timeout", "5s"}, base...)...); code != 0 {
		t.Errorf("group member's wait: exit %d: %s", code, errs)
	}
	m := c.mark()
	if code, _, errs := ctlRun(t, bin, member, append([]string{"renew"}, base...)...); code != exitcode.Failure || !strings.Contains(errs, "refused") {
		t.Errorf("group member's renew: exit %d: %s", code, errs)
	}
	// Anyone else: the file mode keeps the peer out (connect needs
	// write permission) ...
	outsider := &syscall.Credential{Uid: ctlPeerUID, Gid: ctlOtherGID, Groups: []uint32{}}
	if code, _, errs := ctlRun(t, bin, outsider, append([]string{"show"}, base...)...); code != exitcode.Failure || !strings.Contains(errs, "permission denied") {
		t.Errorf("outsider's show: exit %d: %s", code, errs)
	}
	// ... and, should the mode let it in, the supervisor's check of its
	// credentials closes the connection unanswered.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := ctlRun(t, bin, outsider, append([]string{"show"}, base...)...); code != exitcode.Failure || out != "" || !strings.Contains(errs, "closed the connection") {
		t.Errorf("outsider's show through a 0666 socket: exit %d: %s%s", code, out, errs)
	}
	if err := os.Chmod(sock, 0o660); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := c.count(m, func(r event.Record) bool { return r.Event == "control" || r.Event == "state" }); n != 0 {
		t.Errorf("a refused peer changed something: %d records", n)
	}

	// release: the address leaves the interface.
	m = c.mark()
	if code, out, errs := ctlRun(t, bin, nil, append([]string{"release", "--wait", "--timeout", "20s", "--json"}, base...)...); code != 0 || !strings.Contains(out, `"state":"RELEASED"`) {
		t.Fatalf("release --wait: exit %d: %s%s", code, out, errs)
	}
	c.waitRec(5*time.Second, "RELEASED", m, state("RELEASED"))
	waitFor(t, 5*time.Second, "the address removed", func() bool { return !clientKernelAddr(t, l).exists })
	if st := ctlShow(t, bin, iface, sock); st.State != "RELEASED" || st.Configured || st.Address.IsValid() || !st.T1.IsZero() {
		t.Errorf("show after release: %+v", st)
	}
	// Released, the daemon runs on without a lease: wait times out.
	if code, _, errs := ctlRun(t, bin, nil, append([]string{"wait", "--timeout", "1s"}, base...)...); code != exitcode.NoLease {
		t.Errorf("wait while released: exit %d: %s", code, errs)
	}
}

// TestLabWaitMode: ndhc -w returns 0 once the first lease is configured,
// and the client runs on, detached, until stopped by its pid.
func TestLabWaitMode(t *testing.T) {
	l := newLab(t, "waitmode")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	dir, bin := ctlDir(t)
	sock := filepath.Join(dir, "run", "control")
	iface := l.Client.IfName()
	logf, err := os.Create(filepath.Join(dir, "ndhc.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := l.Client.Command(ctx, os.Args[0], "-w", "-i", iface,
		"--supervisor-user", "61100", "--engine-user", "61101", "--sockd-user", "61102", "--ifch-user", "61103", "--hostname-user", "61104",
		"--state-dir", filepath.Join(dir, "state"), "--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", filepath.Join(dir, "resolv.conf"),
		"--arp-mode", "off", "--control-socket", sock, "--timeout", "40s")
	cmd.Env = append(os.Environ(), "NDHC_TEST_MAIN=1")
	cmd.Stderr = logf // a file: the detached client keeps it
	// The detached client is in a session of its own: stopped by pid.
	var super int
	t.Cleanup(func() {
		if super > 1 && !processGone(super) {
			syscall.Kill(super, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("ndhc output:\n%s", b)
		}
	})
	err = cmd.Run()
	if err != nil {
		t.Fatalf("ndhc -w: %v", err)
	}
	if !clientAddr(t, l).IsValid() {
		t.Fatal("ndhc -w returned 0 without an address on the interface")
	}
	st := ctlShow(t, bin, iface, sock)
	for _, r := range st.Roles {
		if r.Name == "supervisor" {
			super = r.Pid
		}
	}
	if !st.Bound() || super <= 1 || processGone(super) {
		t.Fatalf("after ndhc -w: state %s, supervisor pid %d", st.State, super)
	}
	if err := syscall.Kill(super, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the detached client to stop", func() bool { return processGone(super) })
}
