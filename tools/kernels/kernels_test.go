package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/policies"
)

// readNewc is a minimal newc reader for the test: it checks the framing
// the kernel relies on (magic, 4-byte alignment, the trailer) and returns
// the entries.
func readNewc(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatalf("field %d: %v", i, err)
			}
			return uint32(v)
		}
		mode, uid, gid, size := field(1), field(2), field(3), int(field(6))
		rmaj, rmin, namesize := field(9), field(10), int(field(11))
		off += 110
		name := string(b[off : off+namesize-1])
		if b[off+namesize-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		off += namesize
		align()
		data := b[off : off+size]
		off += size
		align()
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{Name: name, Mode: mode, UID: uid, GID: gid, RMaj: rmaj, RMin: rmin, Data: append([]byte(nil), data...)})
	}
}

func TestCPIORoundTrip(t *testing.T) {
	in := []cpioEntry{
		{Name: "bin", Mode: cpioDir | 0o755},
		{Name: "/bin/busybox", Mode: cpioFile | 0o755, Data: []byte("abcde")}, // leading slash dropped
		{Name: "bin/sh", Mode: cpioSymlink | 0o777, Data: []byte("busybox")},
		{Name: "dev/console", Mode: cpioChar | 0o600, RMaj: 5, RMin: 1},
		{Name: "etc/empty", Mode: cpioFile | 0o644},
		{Name: "etc/x", Mode: cpioFile | 0o600, UID: 101, GID: 102, Data: []byte("1234")},
	}
	var buf bytes.Buffer
	c := newCPIO(&buf)
	for _, e := range in {
		if err := c.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not 4-aligned", buf.Len())
	}
	got := readNewc(t, buf.Bytes())
	if len(got) != len(in) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(in))
	}
	for i := range in {
		want := in[i]
		want.Name = strings.TrimPrefix(want.Name, "/")
		g := got[i]
		if g.Name != want.Name || g.Mode != want.Mode || g.UID != want.UID || g.GID != want.GID ||
			g.RMaj != want.RMaj || g.RMin != want.RMin || !bytes.Equal(g.Data, want.Data) {
			t.Errorf("entry %d: got %+v, want %+v", i, g, want)
		}
	}
}

func TestCPIORejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "/", "a\x00b"} {
		c := newCPIO(&bytes.Buffer{})
		if err := c.Add(cpioEntry{Name: name, Mode: cpioFile}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func TestGuestReportParsing(t *testing.T) {
	var g guestReport
	for _, l := range []string{
		"[    1.234] some kernel line\r\n",
		"@@ndhc-kernels boot kernel=6.1.0-57-amd64 cpus=2 clocksource=hpet lsm=lockdown,capability,landlock\r\n",
		"[    2.0] printk in front @@ndhc-kernels audit name=strict rc=0 secs=8.9\r\n",
		"@@ndhc-kernels-data audit-strict-stdout {\r\n",
		"@@ndhc-kernels-data audit-strict-stdout   \"pass\": true\r\n",
		"@@ndhc-kernels-data audit-strict-stdout\r\n", // an empty line of the stream
		"@@ndhc-kernels-data audit-strict-stdout }\n",
		"@@ndhc-kernels garbage-without-fields",
		"@@ndhc-kernels done",
	} {
		g.feed(l)
	}
	boot, ok := g.first("boot")
	if !ok || boot.Fields["kernel"] != "6.1.0-57-amd64" || boot.Fields["lsm"] != "lockdown,capability,landlock" {
		t.Errorf("boot marker: %+v", boot)
	}
	if a, ok := g.find("audit", "name", "strict"); !ok || a.Fields["rc"] != "0" {
		t.Errorf("audit marker behind a kernel message: %+v %v", a, ok)
	}
	if _, ok := g.find("audit", "name", "degraded"); ok {
		t.Error("found an audit that never ran")
	}
	want := "{\n  \"pass\": true\n\n}\n"
	if got := g.stream("audit-strict-stdout"); got != want {
		t.Errorf("stream = %q, want %q", got, want)
	}
	if _, ok := g.first("done"); !ok {
		t.Error("done marker lost")
	}
}

func TestSummarizeSeccomp(t *testing.T) {
	rec := func(uid int, nr int) string {
		return "[   11.06] audit: type=1326 audit(1795982699.811:103): auid=4294967295 uid=" + strconv.Itoa(uid) +
			" gid=104 ses=4294967295 subj=unconfined pid=744 comm=\"exe\" exe=\"/bin/ndhc\" sig=31 arch=c000003e syscall=" +
			strconv.Itoa(nr) + " compat=0 ip=0x7fff46cdba29 code=0x80000000"
	}
	lines := []string{rec(104, 228), "unrelated", rec(102, 228), rec(104, 228), rec(999, 100000)}
	got := strings.Join(summarizeSeccomp(lines), "; ")
	want := "ndhc-ifch: clock_gettime x2; ndhc: clock_gettime x1; uid 999: syscall 100000 x1"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSelectRows(t *testing.T) {
	rows := matrix(kernelsFor(amd64))
	got, err := selectRows(rows, "6.1/no-landlock")
	if err != nil || len(got) != 1 || got[0].Name() != "amd64/6.1/no-landlock" {
		t.Fatalf("6.1/no-landlock: %v %v", names(got), err)
	}
	got, _ = selectRows(rows, "/6.1/")
	for _, r := range got {
		if r.Kernel.Name != "6.1" {
			t.Errorf("/6.1/ selected %s", r.Name())
		}
	}
	if all, _ := selectRows(rows, ""); len(all) != len(rows) {
		t.Errorf("empty -run kept %d of %d rows", len(all), len(rows))
	}
	if _, err := selectRows(rows, "("); err == nil {
		t.Error("bad regexp accepted")
	}
	if _, err := selectRows(rows, "no-such-row"); err == nil || !strings.Contains(err.Error(), "amd64/6.12/2cpu-hpet") {
		t.Errorf("no match: error should list the rows, got %v", err)
	}
}

func names(rows []*Row) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Name())
	}
	return s
}

// TestMatrixCoverage pins what the matrix is for: on every full kernel,
// each condition at least once, and the no-Landlock row's expectations.
func TestMatrixCoverage(t *testing.T) {
	kernels := kernelsFor(amd64)
	rows := matrix(kernels)
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Name()] {
			t.Errorf("duplicate row %s", r.Name())
		}
		seen[r.Name()] = true
	}
	for _, k := range kernels {
		if k.Smoke {
			continue
		}
		cond := map[string]bool{}
		for _, r := range rows {
			if r.Kernel != k {
				continue
			}
			cond["vcpus="+strconv.Itoa(r.VCPUs)] = true
			cond["clocksource="+r.Clocksource] = true
			if r.NoLandlock {
				cond["no-landlock"] = true
				if len(r.Audits) != 2 || r.Audits[0].ExpectPass || r.Audits[0].MustName != "landlock" ||
					!r.Audits[1].Degrade || !r.Audits[1].ExpectPass || r.Daemon == nil || !r.Daemon.Degrade {
					t.Errorf("%s: wrong expectations %+v", r.Name(), r.Audits)
				}
			}
		}
		for _, c := range []string{"vcpus=1", "vcpus=2", "clocksource=", "clocksource=tsc", "clocksource=hpet", "clocksource=acpi_pm", "no-landlock"} {
			if !cond[c] {
				t.Errorf("kernel %s: no row with %s", k.Name, c)
			}
		}
	}
}

func TestMatrixARM64(t *testing.T) {
	var got []string
	for _, r := range matrix(kernelsFor(arm64)) {
		if r.Clocksource != "" {
			t.Errorf("%s asks for clocksource %s, arm64 has only arch_sys_counter", r.Name(), r.Clocksource)
		}
		if r.Kernel.Name == "6.1" {
			got = append(got, r.Variant)
		}
	}
	if strings.Join(got, " ") != "1cpu 2cpu no-landlock" {
		t.Errorf("arm64 6.1 rows: %v", got)
	}
}

func TestWithoutLandlock(t *testing.T) {
	got := withoutLandlock("landlock,lockdown,yama,loadpin,safesetid,integrity,apparmor,selinux,smack,tomoyo,bpf")
	if got != "lockdown,yama,loadpin,safesetid,integrity,apparmor,selinux,smack,tomoyo,bpf" {
		t.Errorf("got %q", got)
	}
}

func TestCmdline(t *testing.T) {
	tree := &kernelTree{LSM: "landlock,lockdown,yama,apparmor,bpf"}
	rows := matrix(kernelsFor(amd64))
	byName := map[string]*Row{}
	for _, r := range rows {
		byName[r.Name()] = r
	}
	nl := strings.Join(cmdline(byName["amd64/6.1/no-landlock"], tree), " ")
	for _, want := range []string{"console=ttyS0", "lsm=lockdown,yama,apparmor,bpf", "clocksource=tsc", "tsc=reliable",
		"ndhck_audits=strict,degraded", "ndhck_daemon=degraded"} {
		if !strings.Contains(nl, want) {
			t.Errorf("no-landlock command line %q lacks %q", nl, want)
		}
	}
	plain := strings.Join(cmdline(byName["amd64/6.1/1cpu"], tree), " ")
	for _, bad := range []string{"lsm=", "clocksource=", "degraded"} {
		if strings.Contains(plain, bad) {
			t.Errorf("1cpu command line %q has %q", plain, bad)
		}
	}
	args := strings.Join(qemuArgs(byName["amd64/6.1/2cpu"], &kernelTree{Vmlinuz: "/k"}, "/i"), " ")
	for _, want := range []string{"-accel tcg", "-smp 2", "-nic none", "-no-reboot", "-nodefaults"} {
		if !strings.Contains(args, want) {
			t.Errorf("qemu args %q lack %q", args, want)
		}
	}
}

// guestBoot is what a guest that passed everything says.
func guestBoot(lsm string) []string {
	return []string{
		"@@ndhc-kernels boot kernel=6.1.0-57-amd64 machine=x86_64 cpus=1 clocksource=tsc-early lsm=" + lsm,
	}
}

func feedAll(lines ...string) *guestReport {
	g := &guestReport{}
	for _, l := range lines {
		g.feed(l)
	}
	return g
}

func daemonOK() []string {
	return []string{
		"@@ndhc-kernels daemon mode=strict netns=1 bound=1 renewed=1 bind_secs=3.5 renew_secs=29.9 addr=10.77.0.143 exit=0 early=0",
		`@@ndhc-kernels-data lease-bound {"interface":"c0","running":true,"lease":{"address":"10.77.0.143/24","acquired":"2026-11-29T19:59:14.437Z","lease_seconds":60}}`,
		`@@ndhc-kernels-data lease-renewed {"interface":"c0","running":true,"lease":{"address":"10.77.0.143/24","acquired":"2026-11-29T19:59:44.450Z","lease_seconds":60}}`,
		"@@ndhc-kernels end clocksource=tsc",
		"@@ndhc-kernels done",
	}
}

func TestJudgePass(t *testing.T) {
	r := matrix(kernelsFor(amd64))[0] // 6.1/1cpu
	lines := guestBoot("lockdown,capability,landlock,yama")
	lines = append(lines,
		"@@ndhc-kernels audit name=strict rc=0 secs=8.9",
		`@@ndhc-kernels-data audit-strict-stdout {"kernel":"6.1.0-57-amd64","landlock_abi":2,"roles":[],"pass":true}`)
	lines = append(lines, daemonOK()...)
	o := &outcome{}
	judge(r, feedAll(lines...), o)
	if !o.Passed() {
		t.Fatalf("failures: %v", o.Failures)
	}
	if o.ABI != "2" || o.ClockUsed != "tsc" || o.Audit != "ok" || !strings.HasPrefix(o.Renew, "ok") {
		t.Errorf("cells: %+v", o)
	}
}

func TestJudgeNoLandlock(t *testing.T) {
	var r *Row
	for _, x := range matrix(kernelsFor(amd64)) {
		if x.Name() == "amd64/6.1/no-landlock" {
			r = x
		}
	}
	lines := guestBoot("lockdown,capability,yama")
	lines = append(lines,
		"@@ndhc-kernels audit name=strict rc=1 secs=1",
		"@@ndhc-kernels-data audit-strict-stderr ndhc audit: layer landlock: landlock unavailable: operation not supported",
		"@@ndhc-kernels audit name=degraded rc=0 secs=9",
		`@@ndhc-kernels-data audit-degraded-stdout {"landlock_abi":0,"roles":[],"pass":true}`)
	lines = append(lines, daemonOK()...)
	o := &outcome{}
	judge(r, feedAll(lines...), o)
	if !o.Passed() || o.Audit != "refused,ok" || o.ABI != "none" {
		t.Fatalf("failures %v, cells %+v", o.Failures, o)
	}

	// A refusal that does not name Landlock, a daemon that died of SIGSYS.
	lines = guestBoot("lockdown,capability,yama")
	lines = append(lines,
		"@@ndhc-kernels audit name=strict rc=1 secs=1",
		"@@ndhc-kernels-data audit-strict-stderr ndhc audit: something else",
		"@@ndhc-kernels audit name=degraded rc=0 secs=9",
		`@@ndhc-kernels-data audit-degraded-stdout {"landlock_abi":0,"roles":[],"pass":true}`,
		"@@ndhc-kernels daemon mode=degraded netns=1 bound=0 renewed=0 bind_secs=- renew_secs=- addr=- exit=3 early=1",
		"@@ndhc-kernels-data seccomp audit: type=1326 uid=104 gid=104 sig=31 arch=c000003e syscall=228 compat=0",
		"@@ndhc-kernels end clocksource=tsc",
		"@@ndhc-kernels done")
	o = &outcome{}
	judge(r, feedAll(lines...), o)
	all := strings.Join(o.Failures, "\n")
	for _, want := range []string{"without naming landlock", "no lease bound", "exited by itself with status 3"} {
		if !strings.Contains(all, want) {
			t.Errorf("failures %q lack %q", all, want)
		}
	}
	if !strings.Contains(strings.Join(o.Diag, "\n"), "ndhc-ifch: clock_gettime x1") {
		t.Errorf("diagnosis lacks the seccomp kill: %v", o.Diag)
	}
}

func TestJudgeWrongConditions(t *testing.T) {
	var r *Row
	for _, x := range matrix(kernelsFor(amd64)) {
		if x.Name() == "amd64/6.12/2cpu-hpet" {
			r = x
		}
	}
	// Booted with one vCPU on the TSC and no Landlock: the row proves
	// nothing about its conditions and must say so.
	lines := guestBoot("lockdown,capability")
	lines = append(lines,
		"@@ndhc-kernels audit name=strict rc=0 secs=8.9",
		`@@ndhc-kernels-data audit-strict-stdout {"landlock_abi":2,"roles":[],"pass":true}`)
	lines = append(lines, daemonOK()...)
	o := &outcome{}
	judge(r, feedAll(lines...), o)
	all := strings.Join(o.Failures, "\n")
	for _, want := range []string{"asked clocksource hpet", "asked 2 vCPUs", "Landlock should be present", "Landlock ABI 2, expected 6"} {
		if !strings.Contains(all, want) {
			t.Errorf("failures %q lack %q", all, want)
		}
	}
}

func TestJudgeSilentGuest(t *testing.T) {
	o := &outcome{}
	judge(matrix(kernelsFor(amd64))[0], feedAll("[ 0.1] Kernel panic"), o)
	if o.Passed() || !strings.Contains(o.Failures[0], "never reported booting") {
		t.Errorf("failures: %v", o.Failures)
	}
}

// TestGuestInitSyntax parses the embedded init script with busybox's sh,
// the shell it runs under (or the host's /bin/sh).
func TestGuestInitSyntax(t *testing.T) {
	var cmd *exec.Cmd
	if bb, err := exec.LookPath("busybox"); err == nil {
		cmd = exec.Command(bb, "sh", "-n")
	} else if sh, err := exec.LookPath("sh"); err == nil {
		cmd = exec.Command(sh, "-n")
	} else {
		t.Skip("no busybox or sh to parse guest/init.sh")
	}
	cmd.Stdin = bytes.NewReader(guestInit)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("guest/init.sh: %v: %s", err, out)
	}
}

func TestModuleName(t *testing.T) {
	for file, want := range map[string]string{"veth.ko": "veth", "veth.ko.xz": "veth", "nf-nat.ko.zst": "nf_nat", "x.o": ""} {
		got, ok := moduleName(file)
		if got != want || ok != (want != "") {
			t.Errorf("moduleName(%q) = %q, %v", file, got, ok)
		}
	}
}

// TestGuestBoundsFitTimeout keeps every guest able to report before the
// host gives up on it.
func TestGuestBoundsFitTimeout(t *testing.T) {
	for _, r := range matrix(kernelsFor(amd64)) {
		if w := guestWorstCase(r); w >= defaultTimeout {
			t.Errorf("%s: the guest may take %s, the row timeout is %s", r.Name(), w, defaultTimeout)
		}
	}
}

// TestGuestUsers: the guest's passwd names every role's default user, so
// that the audit in the guest can enter each role.
func TestGuestUsers(t *testing.T) {
	pw := string(passwd())
	for _, p := range policies.All() {
		if !strings.Contains(pw, "\n"+p.User+":x:") {
			t.Errorf("the guest's passwd lacks %s (role %s):\n%s", p.User, p.Role, pw)
		}
	}
}
