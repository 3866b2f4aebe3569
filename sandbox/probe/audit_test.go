//go:build linux

package probe_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// The test binary is also the probe child: RunAudit re-executes it as role
// probe.Role, and the child looks the action up by name in testActions.
func TestMain(m *testing.M) {
	if role, ok := sandbox.IsChild(); ok {
		if role == probe.Role {
			probe.Child(testActions())
		}
		fmt.Fprintf(os.Stderr, "probe test: unexpected role %q\n", role)
		os.Exit(3)
	}
	// These tests enter real sandboxes, which a cgo build cannot.
	if err := sandbox.CheckBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "these tests enter real sandboxes:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const (
	testUID = 61235

	actReadPasswd  = "read /etc/passwd by path"
	actInetSocket  = "socket(AF_INET, SOCK_STREAM)"
	actBrokenCtl   = "control: open /missing in the chroot (cannot work)"
	actUnrefused   = "forbidden, but nothing refuses it: getpid"
	actUnknownName = "no probe child knows this action"
)

// testActions is everything a probe child of this test binary may be asked
// to run: the battery, the shared IPC control, and two actions that must
// come out wrong so that an audit can fail.
func testActions() []probe.Action {
	return append(probe.Battery(),
		probe.IPCRoundTrip(),
		probe.Action{Name: actBrokenCtl, Allowed: true, Do: func(any) error {
			f, err := os.Open("/missing")
			if err == nil {
				f.Close()
			}
			return err
		}},
		probe.Action{Name: actUnrefused, Do: func(any) error {
			_ = os.Getpid() // on every allowlist built on RuntimeBase
			return nil
		}},
	)
}

// action returns the test action with the given name; actions that only a
// child would know are made up on the spot.
func action(t *testing.T, name string) probe.Action {
	t.Helper()
	for _, a := range testActions() {
		if a.Name == name {
			return a
		}
	}
	if name == actUnknownName {
		return probe.Action{Name: name, Do: func(any) error { return nil }}
	}
	t.Fatalf("no test action %q", name)
	return probe.Action{}
}

// toyPolicy is a role with no capabilities, an empty chroot, no Landlock
// rule, and the runtime's syscalls plus openat, so that the chroot (not
// seccomp) is what refuses a path.
func toyPolicy(t *testing.T) sandbox.Policy {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprint(testUID)
	return sandbox.Policy{
		Role: "toy", User: uid, Group: uid, Chroot: dir,
		Rlimits: sandbox.BaseRlimits(64, 32, 0),
		Umask:   0o077,
		Seccomp: sandbox.With(sandbox.RuntimeBase(), sandbox.Allow("openat", "test: opening files by path")),
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: each probe changes uid, chroots and drops capabilities before it acts")
	}
}

// TestRunAudit audits one role with one control and two battery actions
// and checks the verdict, the layer that refused each forbidden action, the
// kernel's read-back and both renderings.
func TestRunAudit(t *testing.T) {
	requireRoot(t)
	p := toyPolicy(t)
	subj := probe.Subject{Policy: p, Actions: []probe.Action{
		probe.IPCRoundTrip(), action(t, actReadPasswd), action(t, actInetSocket),
	}}
	a, err := probe.RunAudit([]probe.Subject{subj}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Pass {
		var buf bytes.Buffer
		a.WriteText(&buf)
		t.Fatalf("audit failed:\n%s", buf.String())
	}
	if a.Kernel == "" || a.Kernel == "unknown" {
		t.Errorf("kernel %q", a.Kernel)
	}
	if abi, _ := sandbox.LandlockABI(); a.LandlockABI != abi {
		t.Errorf("Landlock ABI %d, kernel says %d", a.LandlockABI, abi)
	}
	if len(a.Roles) != 1 || a.Roles[0].Role != "toy" {
		t.Fatalf("roles %+v", a.Roles)
	}
	ra := a.Roles[0]
	want := []struct{ action, expected, observed, layer string }{
		{probe.IPCRoundTripName, "allowed", "ok", ""},
		{actReadPasswd, "denied", "ENOENT", "chroot"},
		{actInetSocket, "denied", "killed by SIGSYS", "seccomp"},
	}
	if len(ra.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(ra.Results), len(want), ra.Results)
	}
	for i, w := range want {
		r := ra.Results[i]
		if r.Role != "toy" || r.Action != w.action || r.Expected != w.expected || r.Observed != w.observed || r.Layer != w.layer || !r.Pass {
			t.Errorf("result %d: %+v, want %+v passing", i, r, w)
		}
	}
	rep := ra.Report
	if rep == nil {
		t.Fatal("no sandbox report kept")
	}
	if rep.Status.Uid != [4]uint32{testUID, testUID, testUID, testUID} || rep.Status.CapEff != 0 || rep.Status.CapBnd != 0 ||
		rep.Status.NoNewPrivs != 1 || rep.Status.Seccomp != 2 {
		t.Errorf("kernel read-back %s", rep.Status)
	}
	if !reflect.DeepEqual(ra.Gaps, sandbox.Gaps(&p, rep.LandlockMissing)) {
		t.Errorf("gaps %v for missing rights %v", ra.Gaps, rep.LandlockMissing)
	}

	a.Program = "toyd"
	var buf bytes.Buffer
	a.WriteText(&buf)
	text := buf.String()
	t.Logf("audit text:\n%s", text)
	for _, s := range []string{
		fmt.Sprintf("toyd audit: kernel %s, Landlock ABI %d\n", a.Kernel, a.LandlockABI),
		"ROLE  ACTION",
		"What the kernel reports for each role after entering its sandbox",
		"killed by SIGSYS",
		"\nPASS: every forbidden action was refused and every control action worked.\n",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "FAIL") {
		t.Errorf("a passing audit mentions FAIL:\n%s", text)
	}

	buf.Reset()
	if err := sandbox.WriteJSON(&buf, a); err != nil {
		t.Fatal(err)
	}
	var back probe.Audit
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, a) {
		t.Errorf("JSON round trip changed the audit:\n%s", buf.String())
	}
}

// TestRunAuditFails checks that the audit goes red, without an error,
// when a control does not work or a forbidden action is not refused, and
// that only those rows fail.
func TestRunAuditFails(t *testing.T) {
	requireRoot(t)
	subj := probe.Subject{Policy: toyPolicy(t), Actions: []probe.Action{
		probe.IPCRoundTrip(), action(t, actBrokenCtl), action(t, actReadPasswd), action(t, actUnrefused),
	}}
	a, err := probe.RunAudit([]probe.Subject{subj}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Pass {
		t.Fatal("audit passed with a broken control and an unrefused action")
	}
	wantPass := map[string]bool{probe.IPCRoundTripName: true, actBrokenCtl: false, actReadPasswd: true, actUnrefused: false}
	for _, r := range a.Roles[0].Results {
		if r.Pass != wantPass[r.Action] {
			t.Errorf("%s: pass=%v, want %v (%+v)", r.Action, r.Pass, wantPass[r.Action], r)
		}
	}
	if r := a.Roles[0].Results[1]; r.Expected != "allowed" || r.Observed != "ENOENT" {
		t.Errorf("broken control: %+v", r)
	}
	if r := a.Roles[0].Results[3]; r.Expected != "denied" || r.Observed != "ok" {
		t.Errorf("unrefused action: %+v", r)
	}
	var buf bytes.Buffer
	a.WriteText(&buf)
	if text := buf.String(); !strings.HasPrefix(text, "audit: kernel ") || !strings.HasSuffix(text, "\nFAIL: see the rows marked FAIL.\n") ||
		strings.Count(text, "  FAIL\n") != 2 {
		t.Errorf("text of a failed audit:\n%s", text)
	}
}

// TestRunAuditErrors checks the cases where no verdict is possible.
func TestRunAuditErrors(t *testing.T) {
	if _, err := probe.RunAudit(nil, sandbox.Options{}); err == nil {
		t.Error("an audit of nothing did not fail")
	}
	p := sandbox.Policy{Role: "idle", User: "61235", Group: "61235", Chroot: "/nonexistent"}
	if _, err := probe.RunAudit([]probe.Subject{{Policy: p}}, sandbox.Options{}); err == nil || !strings.Contains(err.Error(), "idle") {
		t.Errorf("a role without actions: error %v", err)
	}

	t.Run("probe cannot run", func(t *testing.T) {
		requireRoot(t)
		cases := []struct {
			name   string
			mutate func(*probe.Subject)
			want   string
		}{
			{"missing chroot", func(s *probe.Subject) { s.Policy.Chroot = "/nonexistent-probe-chroot" }, "layer chroot"},
			{"action unknown to the child", func(s *probe.Subject) { s.Actions = []probe.Action{action(t, actUnknownName)} }, "unknown action"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := probe.Subject{Policy: toyPolicy(t), Actions: []probe.Action{probe.IPCRoundTrip()}}
				c.mutate(&s)
				a, err := probe.RunAudit([]probe.Subject{s}, sandbox.Options{})
				if err == nil || !strings.Contains(err.Error(), c.want) || a != nil {
					t.Fatalf("audit %v, error %v; want no audit and an error with %q", a, err, c.want)
				}
			})
		}
	})
}

// TestAuditText renders a hand-made audit, so it runs without root: the
// columns, a role whose probes never reported, a degraded layer, and gaps.
func TestAuditText(t *testing.T) {
	rep := &sandbox.Report{Role: "net", LandlockABI: 3, ThreadsChecked: 4, Degraded: []string{sandbox.LayerSeccomp}}
	rep.Status.Uid = [4]uint32{61235, 61235, 61235, 61235}
	rep.Status.Gid = rep.Status.Uid
	rep.Status.CapEff = 1 << 13 // CAP_NET_RAW
	rep.Status.NoNewPrivs = 1
	a := &probe.Audit{Program: "demo", Kernel: "6.1.0", LandlockABI: 3, Pass: true, Roles: []probe.RoleAudit{
		{Role: "net", Report: rep,
			Gaps: []sandbox.Gap{{Right: "net.tcp (ABI 4)", CoveredBy: "seccomp: the role cannot create TCP sockets"}},
			Results: []probe.Result{
				{Role: "net", Action: "setuid(0)", Expected: "denied", Observed: "EPERM", Layer: "capabilities", Pass: true},
				{Role: "net", Action: "control: ping", Expected: "allowed", Observed: "ok", Pass: true},
			}},
		{Role: "quiet"},
	}}
	var buf bytes.Buffer
	a.WriteText(&buf)
	want := `demo audit: kernel 6.1.0, Landlock ABI 3

ROLE  ACTION         EXPECTED  OBSERVED  LAYER         RESULT
net   setuid(0)      denied    EPERM     capabilities  ok
net   control: ping  allowed   ok        -             ok

What the kernel reports for each role after entering its sandbox (/proc/self/status, every thread):
ROLE   UID    GID    CAPS (eff=prm=bnd)  AMBIENT  NoNewPrivs  Seccomp  LANDLOCK                 THREADS
net    61235  61235  net_raw             none     1           0        ABI 3 DEGRADED: seccomp  4
quiet  -      -      -                   -        -           -        -                        -
net: kernel lacks Landlock net.tcp (ABI 4) -> seccomp: the role cannot create TCP sockets

PASS: every forbidden action was refused and every control action worked.
`
	if got := buf.String(); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}
