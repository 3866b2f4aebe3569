package sandbox_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
)

// reportPolicy is a small policy in the shape of a packet-socket role. It
// spells out its own constants so that the test builds on every system.
func reportPolicy() sandbox.Policy {
	const afPacket = 17
	return sandbox.Policy{
		Role: "sockd", User: "61235", Group: "61235", Chroot: "/var/empty/sockd",
		Caps:     []string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"},
		Rlimits:  []sandbox.Rlimit{{Resource: "CORE", Max: 0}, {Resource: "NOFILE", Max: 16}},
		Umask:    0o077,
		Landlock: sandbox.Landlock{RODirs: []string{"/etc"}, BindUDP: []uint16{68}},
		Seccomp: []sandbox.Syscall{
			sandbox.Allow("read", "reads"),
			sandbox.Allow("exit_group", "exit"),
			sandbox.AllowIf("socket", "packet sockets", sandbox.Arg(0, sandbox.Eq, afPacket, "AF_PACKET")),
		},
	}
}

func TestDescribePolicy(t *testing.T) {
	p := reportPolicy()
	r, err := sandbox.DescribePolicy(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.SeccompInstructions <= 0 {
		t.Errorf("%d seccomp instructions", r.SeccompInstructions)
	}
	if r.KernelLandlockABI != 2 || r.Role != "sockd" {
		t.Errorf("report for ABI %d, role %q", r.KernelLandlockABI, r.Role)
	}
	if got := strings.Join(r.LandlockEnforced, " "); got != "fs fs.refer" {
		t.Errorf("enforced %q, want \"fs fs.refer\"", got)
	}
	_, missing := sandbox.LandlockRights(2, p.Landlock)
	if len(r.LandlockMissing) != len(missing) {
		t.Fatalf("%d gaps, want %d: %v", len(r.LandlockMissing), len(missing), r.LandlockMissing)
	}
	byRight := map[string]string{}
	for i, g := range r.LandlockMissing {
		if g.Right != missing[i] {
			t.Errorf("gap %d is %q, want %q", i, g.Right, missing[i])
		}
		byRight[g.Right] = g.CoveredBy
	}
	want := map[string]string{
		"net.tcp (ABI 4)":     "seccomp: the role cannot create TCP sockets",
		"net.udp (ABI 10)":    "seccomp: the role cannot create UDP sockets",
		"fs.truncate (ABI 3)": "chroot to /var/empty/sockd: nothing else is reachable by path",
	}
	for right, cover := range want {
		if byRight[right] != cover {
			t.Errorf("%s covered by %q, want %q", right, byRight[right], cover)
		}
	}

	// A kernel with every right leaves no gap.
	r, err = sandbox.DescribePolicy(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LandlockMissing) != 0 {
		t.Errorf("gaps at ABI 100: %v", r.LandlockMissing)
	}
}

func TestDescribePolicyInvalid(t *testing.T) {
	p := reportPolicy()
	p.Seccomp = append(p.Seccomp, sandbox.Allow("no_such_syscall", "test"))
	if _, err := sandbox.DescribePolicy(p, 2); err == nil || !strings.Contains(err.Error(), "no_such_syscall") {
		t.Fatalf("error %v, want the unknown syscall named", err)
	}
}

func TestPolicyReportText(t *testing.T) {
	r, err := sandbox.DescribePolicy(reportPolicy(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	text := buf.String()
	for _, want := range []string{
		"role sockd\n",
		"  user 61235, group 61235, no supplementary groups, chroot /var/empty/sockd, umask 077\n",
		"capabilities (permitted = effective = bounding): CAP_NET_RAW, CAP_NET_BIND_SERVICE; inheritable and ambient empty",
		"  rlimits: CORE=0 NOFILE=16\n",
		"    ro dirs      /etc\n",
		"    rw dirs      none\n",
		"    udp bind     68\n",
		"    scoped       signals abstract-unix-sockets\n",
		"    kernel ABI 2 enforces: fs fs.refer\n",
		"    kernel lacks net.tcp (ABI 4) -> seccomp: the role cannot create TCP sockets\n",
		"  seccomp: 3 syscalls allowed, everything else kills the process; architecture checked first;",
		"arg0 == AF_PACKET(17)",
		"any arguments",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestPolicyReportJSON(t *testing.T) {
	r, err := sandbox.DescribePolicy(reportPolicy(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sandbox.WriteJSON(&buf, []sandbox.PolicyReport{r}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "}\n]\n") || !strings.Contains(buf.String(), "\n  {\n    \"role\": \"sockd\",") {
		t.Errorf("not indented with the policy inline:\n%s", buf.String())
	}
	for _, key := range []string{`"seccomp_instructions"`, `"kernel_landlock_abi": 2`, `"landlock_enforced"`, `"landlock_missing"`, `"right"`, `"covered_by"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	var back []sandbox.PolicyReport
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || !reflect.DeepEqual(back[0], r) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, r)
	}
}

func TestKernelRelease(t *testing.T) {
	if got := sandbox.KernelRelease(); got == "" || strings.ContainsAny(got, "\n ") {
		t.Errorf("kernel release %q", got)
	}
}
