//go:build linux

package hook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/sandbox"
)

// script writes an executable shell script into dir.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "hook")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testLease(t *testing.T, acquired time.Time) *client.Lease {
	t.Helper()
	l := &client.Lease{
		Addr: netip.MustParsePrefix("192.0.2.10/24"), Routers: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
		DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}, NTP: []netip.Addr{netip.MustParseAddr("192.0.2.123"), netip.MustParseAddr("192.0.2.124")},
		ServerID: netip.MustParseAddr("192.0.2.1"), LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52 * time.Minute, Acquired: acquired,
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	return l
}

func leaseFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lease")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRunArgvEnvStdin: the hook gets exactly [PATH, EVENT, IFACE], the
// three variables and nothing else, cwd /, and one JSON object on stdin
// that decodes strictly and carries the lease's NTP servers.
func TestRunArgvEnvStdin(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, fmt.Sprintf(`out=%s
for a in "$0" "$@"; do printf '%%s\n' "$a"; done > "$out/argv"
tr '\0' '\n' < /proc/$$/environ > "$out/env"
pwd > "$out/cwd"
cat > "$out/stdin"
echo "a line on stdout"
printf 'a control \033[31m line on stderr\n' >&2
`, dir))
	now := time.Now()
	l := testLease(t, now.Add(-time.Second))
	b, err := l.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &Runner{Path: hook, Interface: "eth7", Timeout: 5 * time.Second, Lease: leaseFile(t, append(b, '\n')), Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	r.Run(Message{Kind: Bound, Addr: l.Addr, Time: now})

	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	if got, want := read("argv"), []string{hook, "bound", "eth7"}; !slices.Equal(got, want) {
		t.Errorf("argv %q, want %q", got, want)
	}
	env := read("env")
	slices.Sort(env)
	if want := []string{"NDHC_EVENT=bound", "NDHC_INTERFACE=eth7", Env}; !slices.Equal(env, want) {
		t.Errorf("environment %q, want exactly %q", env, want)
	}
	if got := read("cwd"); !slices.Equal(got, []string{"/"}) {
		t.Errorf("cwd %q", got)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("stdin %q: %v", raw, err)
	}
	if dec.More() {
		t.Errorf("stdin holds more than one object: %q", raw)
	}
	if in.Event != "bound" || in.Interface != "eth7" || in.Address != "192.0.2.10" || in.Lease == nil {
		t.Fatalf("input %+v", in)
	}
	if !slices.Equal(in.Lease.NTP, []string{"192.0.2.123", "192.0.2.124"}) || in.Lease.Prefix != 24 || in.Lease.Server != "192.0.2.1" ||
		in.Lease.LeaseSeconds != 3600 || in.Lease.T1Seconds != 1800 || !slices.Equal(in.Lease.DNS, []string{"192.0.2.53"}) {
		t.Errorf("lease %+v", in.Lease)
	}
	// Output lines reach the log, each one a record of its own.
	var lines []string
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var rec struct{ Msg, Line string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "hook output" {
			lines = append(lines, rec.Line)
		}
	}
	slices.Sort(lines)
	if want := []string{"a control \x1b[31m line on stderr", "a line on stdout"}; !slices.Equal(lines, want) {
		t.Errorf("output lines %q, want %q", lines, want)
	}
}

// TestLeaseHostile: a lease file the engine filled with garbage, or over
// the bound, gives the hook its event without a lease.
func TestLeaseHostile(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage":  []byte("{\"version\":1,\"address\":\"1.2.3.4/33\"}"),
		"not json": []byte("\x00\xff"),
		"huge":     bytes.Repeat([]byte(" "), client.MaxLeaseFile+10),
		"empty":    nil,
	} {
		r := &Runner{Interface: "eth0", Lease: leaseFile(t, content), Log: quiet()}
		in := r.Input(Message{Kind: Released, Time: time.Now()})
		if in.Lease != nil {
			t.Errorf("%s: lease %+v", name, in.Lease)
		}
	}
}

// TestLeaseFreshness: a bound event waits for the engine's new lease, not
// the one the file held before.
func TestLeaseFreshness(t *testing.T) {
	now := time.Now()
	old, _ := testLease(t, now.Add(-time.Hour)).MarshalJSON()
	f := leaseFile(t, old)
	r := &Runner{Interface: "eth0", Lease: f, Log: quiet()}
	newer := testLease(t, now.Add(-time.Second))
	go func() {
		time.Sleep(200 * time.Millisecond)
		b, _ := newer.MarshalJSON()
		os.WriteFile(f.Name(), b, 0o600)
	}()
	in := r.Input(Message{Kind: Bound, Addr: newer.Addr, Time: now})
	if in.Lease == nil || !in.Lease.Acquired.Equal(newer.Acquired.UTC()) {
		t.Fatalf("lease %+v, want the one acquired %v", in.Lease, newer.Acquired)
	}
	// A later stop gets the last lease even once the file is emptied.
	os.WriteFile(f.Name(), nil, 0o600)
	if in := r.Input(Message{Kind: Stopped, Time: time.Now()}); in.Lease == nil || in.Lease.Address != "192.0.2.10" {
		t.Errorf("stopped: lease %+v", in.Lease)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestTimeoutKillsGroup: at the timeout the hook's whole process group is
// killed, a background child included, and the runner goes on.
func TestTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, fmt.Sprintf("sleep 60 &\necho $! > %s/bg\necho $$ > %s/fg\nsleep 60\n", dir, dir))
	r := &Runner{Path: hook, Interface: "eth0", Timeout: 300 * time.Millisecond, Log: quiet()}
	start := time.Now()
	r.Run(Message{Kind: Stopped, Time: time.Now()})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("run took %v with a 300ms timeout", d)
	}
	for _, name := range []string{"bg", "fg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			// A killed orphan may linger as a zombie until init reaps it.
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && bytes.Contains(st, []byte(") Z ")) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !bytes.Contains(st, []byte(") Z ")) {
			t.Errorf("%s process %d still running after the timeout: %s", name, pid, st)
		}
	}
}

// TestServeQueue: events beyond the queue are dropped and counted, the
// rest run in order, one at a time; the end message lets the queue drain.
func TestServeQueue(t *testing.T) {
	dir := t.TempDir()
	hook := script(t, dir, fmt.Sprintf("cat >> %s/runs\necho >> %s/runs\nsleep 0.05\n", dir, dir))
	a, b, err := sandbox.SeqpacketPair()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sandbox.UnixConn(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := sandbox.UnixConn(b)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	defer cb.Close()
	r := &Runner{Path: hook, Interface: "eth0", Timeout: 5 * time.Second, Log: quiet()}
	done := make(chan error, 1)
	go func() { done <- r.Serve(cb) }()
	const total = QueueLen + 20
	base := time.Unix(1700000000, 0)
	for i := range total {
		msg, _ := Message{Kind: Renewed, Addr: netip.MustParsePrefix("192.0.2.10/24"), Time: base.Add(time.Duration(i+1) * time.Second)}.MarshalBinary()
		if err := sandbox.Send(ca, msg); err != nil {
			t.Fatal(err)
		}
	}
	end, _ := End(time.Now()).MarshalBinary()
	sandbox.Send(ca, end)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "runs"))
	dec := json.NewDecoder(bytes.NewReader(raw))
	var runs int
	var dropped uint64
	var last time.Time
	for {
		var in Input
		if err := dec.Decode(&in); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if !in.Time.After(last) {
			t.Errorf("run %d out of order: %v after %v", runs, in.Time, last)
		}
		last = in.Time
		runs++
		dropped += in.Dropped
	}
	dropped += r.dropped.Load()
	if runs > QueueLen+1 || runs < QueueLen || uint64(runs)+dropped != total {
		t.Errorf("%d runs and %d dropped of %d events, queue %d", runs, dropped, total, QueueLen)
	}
}

// TestServeMalformed: a message that fails the checks ends Serve with an
// error (the role exits).
func TestServeMalformed(t *testing.T) {
	a, b, _ := sandbox.SeqpacketPair()
	ca, _ := sandbox.UnixConn(a)
	cb, _ := sandbox.UnixConn(b)
	defer ca.Close()
	defer cb.Close()
	r := &Runner{Path: "/bin/true", Interface: "eth0", Timeout: time.Second, Log: quiet()}
	done := make(chan error, 1)
	go func() { done <- r.Serve(cb) }()
	sandbox.Send(ca, []byte("H\x01\xff\x00not a time"))
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("malformed message accepted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestCheckPath: what start-up refuses, and what it accepts.
func TestCheckPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the files are made root's and another user's")
	}
	base, err := os.MkdirTemp("/run", "ndhc-hook-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	const hookUID = 61105
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600)
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	good := mk("good", 0o755, 0)
	if got, err := CheckPath(good, hookUID); err != nil || got != good {
		t.Errorf("good hook refused: %v", err)
	}
	if _, err := CheckPath(mk("users", 0o700, hookUID), hookUID); err != nil {
		t.Errorf("hook owned by the hook user refused: %v", err)
	}
	link := filepath.Join(base, "link")
	os.Symlink(good, link)
	if got, err := CheckPath(link, hookUID); err != nil || got != good {
		t.Errorf("symlink to a good hook: %q, %v", got, err)
	}
	sub := filepath.Join(base, "open")
	os.Mkdir(sub, 0o777)
	os.Chmod(sub, 0o777)
	os.WriteFile(filepath.Join(sub, "h"), []byte("#!/bin/sh\n"), 0o755)
	for name, p := range map[string]string{
		"relative":        "hook",
		"unclean":         base + "/./good",
		"missing":         filepath.Join(base, "missing"),
		"directory":       base,
		"not executable":  mk("noexec", 0o644, 0),
		"group writable":  mk("gw", 0o775, 0),
		"others writable": mk("ow", 0o757, 0),
		"another user's":  mk("other", 0o755, 4242),
		"open directory":  filepath.Join(sub, "h"),
		"link to bad":     func() string { l := filepath.Join(base, "badlink"); os.Symlink(filepath.Join(base, "gw"), l); return l }(),
	} {
		if _, err := CheckPath(p, hookUID); err == nil {
			t.Errorf("%s: %s accepted", name, p)
		}
	}
	// A root-owned directory inside the sticky /tmp is fine.
	tmp, err := os.MkdirTemp("/tmp", "ndhc-hook-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	p := filepath.Join(tmp, "h")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	if st, err := os.Stat("/tmp"); err == nil && st.Mode()&os.ModeSticky != 0 {
		if _, err := CheckPath(p, hookUID); err != nil {
			t.Errorf("hook under sticky /tmp refused: %v", err)
		}
	}
}
