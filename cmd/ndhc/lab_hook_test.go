package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/hook"
	"golang.org/x/sys/unix"
)

// hookRun is what the lab's hook recorded of one run.
type hookRun struct {
	argv, env []string
	// suidEUID is what the set-user-ID root id(1) printed.
	suidEUID string
	status   map[string]string
	input    hook.Input
}

// labHook writes the lab's hook: a POSIX shell script in a root-owned
// directory (mode 0755 up the path, as --hook demands) that records, per
// run, its argv, its environment as the kernel has it, its
// /proc/self/status and its stdin into a directory of its own under out,
// which only the hook user can write.
func labHook(t *testing.T, uid int) (path, out string) {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	out = filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(out, uid, uid); err != nil {
		t.Fatal(err)
	}
	// A set-user-ID root copy of id(1) (os.ModeSetuid: os.Chmod keeps only
	// the permission bits of a plain 0o4755): under no_new_privs the hook runs
	// it with its own uid.
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(dir, "suid-id")
	if err := os.WriteFile(suid, id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "hook")
	script := fmt.Sprintf(`#!/bin/sh
out=%s
suid=%s
n=$(ls "$out" | wc -l)
d="$out/$(printf %%03d "$n")"
mkdir "$d" || exit 1
for a in "$0" "$@"; do printf '%%s\n' "$a"; done > "$d/argv"
tr '\0' '\n' < /proc/$$/environ > "$d/env"
cat /proc/$$/status > "$d/status"
cat > "$d/stdin"
"$suid" -u > "$d/suid-euid" 2>&1
echo "hook ran for $1"
`, out, suid)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, out
}

func readHookRuns(t *testing.T, out string) []hookRun {
	t.Helper()
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var runs []hookRun
	for _, e := range ents {
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(out, e.Name(), name))
			if err != nil {
				t.Fatalf("run %s: %v", e.Name(), err)
			}
			return b
		}
		lines := func(name string) []string {
			return strings.Split(strings.TrimSuffix(string(read(name)), "\n"), "\n")
		}
		r := hookRun{argv: lines("argv"), env: lines("env"), status: map[string]string{}, suidEUID: strings.TrimSpace(string(read("suid-euid")))}
		for _, l := range lines("status") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				r.status[k] = strings.TrimSpace(v)
			}
		}
		dec := json.NewDecoder(bytes.NewReader(read("stdin")))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r.input); err != nil {
			t.Fatalf("run %s: stdin %q: %v", e.Name(), read("stdin"), err)
		}
		runs = append(runs, r)
	}
	return runs
}

// TestLabHook: the real daemon with --hook leases from the lab's server;
// the hook runs once per event, in order (bound first; released, then
// stopped, at the end), as the hook user with no capability and
// no_new_privs, argv and environment exactly ndhc's, and the lease on
// stdin: the kernel's address and the NTP servers the server offered.
func TestLabHook(t *testing.T) {
	l := newLab(t, "hook")
	const hookUID = 61105
	path, out := labHook(t, hookUID)
	cfg := richServer(l)
	ntp := []netip.Addr{l.Net.Gateway(), netip.MustParseAddr("203.0.113.123")}
	cfg.NTP = ntp
	if _, err := l.StartDnsmasq(cfg); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, l, clientOpts{args: []string{"--hook", path, "--hook-timeout", "10s", "--release-on-exit", "--arp-mode", "off"}})
	_, ci := c.waitRec(20*time.Second, "the lease configured", 0, is("configured"))
	kernel := clientAddr(t, l)
	ran := func(n int) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(out, fmt.Sprintf("%03d", n), "suid-euid"))
			return err == nil
		}
	}
	waitFor(t, 10*time.Second, "the hook's first run", ran(0))
	// A renewal (SIGUSR1) is the next event.
	c.cmd.Process.Signal(syscall.SIGUSR1)
	c.waitRec(20*time.Second, "the renewal configured", ci+1, is("configured"))
	waitFor(t, 10*time.Second, "the hook's second run", ran(1))
	if r, ok := c.ready()["hook"]; !ok || r.Report.Status.CapEff != 0 || r.Report.Status.NoNewPrivs != 1 || r.Report.Status.Seccomp != 2 {
		t.Errorf("hook role: %+v, want one sandboxed with no capability", r)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	runs := readHookRuns(t, out)
	var events []string
	for _, r := range runs {
		events = append(events, r.input.Event)
	}
	if want := []string{"bound", "renewed", "released", "stopped"}; !slices.Equal(events, want) {
		t.Fatalf("hook events %q, want %q", events, want)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &fs); err != nil || fs.Flags&unix.ST_NOSUID != 0 {
		t.Logf("the hook's directory is on a nosuid mount (%v): the set-user-ID check proves nothing there", err)
	}
	for i, r := range runs {
		ev := r.input.Event
		if want := []string{path, ev, l.Client.IfName()}; !slices.Equal(r.argv, want) {
			t.Errorf("run %d: argv %q, want %q", i, r.argv, want)
		}
		env := slices.Sorted(slices.Values(r.env))
		if want := []string{"NDHC_EVENT=" + ev, "NDHC_INTERFACE=" + l.Client.IfName(), hook.Env}; !slices.Equal(env, want) {
			t.Errorf("run %d: environment %q, want exactly %q", i, env, want)
		}
		uid := fmt.Sprint(hookUID)
		if ids := strings.Fields(r.status["Uid"]); len(ids) != 4 || slices.ContainsFunc(ids, func(s string) bool { return s != uid }) {
			t.Errorf("run %d: Uid %q, want %s everywhere", i, r.status["Uid"], uid)
		}
		if r.suidEUID != uid {
			t.Errorf("run %d: a set-user-ID root program ran with euid %q, want %s (no_new_privs)", i, r.suidEUID, uid)
		}
		if r.status["Groups"] != "" {
			t.Errorf("run %d: supplementary groups %q", i, r.status["Groups"])
		}
		for k, want := range map[string]string{"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"} {
			if r.status[k] != want {
				t.Errorf("run %d: %s %q, want %q", i, k, r.status[k], want)
			}
		}
		if r.input.Interface != l.Client.IfName() || r.input.Lease == nil {
			t.Errorf("run %d (%s): input %+v without the lease", i, ev, r.input)
			continue
		}
		if got := netip.PrefixFrom(netip.MustParseAddr(r.input.Lease.Address), r.input.Lease.Prefix); got != kernel {
			t.Errorf("run %d: lease address %v, the kernel's %v", i, got, kernel)
		}
		var want []string
		for _, a := range ntp {
			want = append(want, a.String())
		}
		if !slices.Equal(r.input.Lease.NTP, want) {
			t.Errorf("run %d: NTP servers %q, the server offered %q", i, r.input.Lease.NTP, want)
		}
	}
	// The hook's output reached the log through the role's stderr.
	if !strings.Contains(c.out.String(), "hook ran for bound") {
		t.Errorf("the hook's output is not in the log")
	}
}
