package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// The test binary stands in for ndhc when the audit re-executes itself.
// With NDHC_TEST_MAIN=1 it is ndhc itself, for the lab tests that run
// the supervisor in a namespace.
func TestMain(m *testing.M) {
	if role, ok := sandbox.IsChild(); ok {
		roles.RunChild(role)
	}
	if os.Getenv("NDHC_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	if n, err := strconv.Atoi(os.Getenv("NDHC_TEST_THREADS")); err == nil {
		holdThreads(n)
	}
	// These tests enter real sandboxes, which a cgo build cannot.
	if err := sandbox.CheckBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "these tests enter real sandboxes:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// holdThreads is another process of a role's user for the thread budget
// tests: it holds n OS threads until its stdin closes, then exits.
func holdThreads(n int) {
	for range n {
		go func() {
			runtime.LockOSThread()
			select {}
		}()
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// testUsers are numeric users: CI machines have no ndhc accounts.
func testUsers(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"--supervisor-user", "61100", "--engine-user", "61101", "--sockd-user", "61102", "--ifch-user", "61103", "--hostname-user", "61104", "--hook-user", "61105", "--dns-user", "61106",
		"--state-dir", filepath.Join(dir, "state"), "--empty-dir", filepath.Join(dir, "empty")}
}

func TestPolicyJSON(t *testing.T) {
	var out bytes.Buffer
	if code := policyCmd([]string{"--json"}, &out); code != exitcode.OK {
		t.Fatalf("exit %d", code)
	}
	var views []sandbox.PolicyReport
	if err := json.Unmarshal(out.Bytes(), &views); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	var names []string
	for _, v := range views {
		names = append(names, v.Role)
		if len(v.Seccomp) == 0 || v.SeccompInstructions == 0 {
			t.Errorf("%s: empty allowlist", v.Role)
		}
	}
	if got, want := strings.Join(names, ","), strings.Join(roles.Names(), ","); got != want {
		t.Fatalf("roles %s, want the table's %s", got, want)
	}
}

func TestPolicyOneRoleText(t *testing.T) {
	var out bytes.Buffer
	if code := policyCmd([]string{"sockd"}, &out); code != exitcode.OK {
		t.Fatalf("exit %d", code)
	}
	s := out.String()
	for _, want := range []string{"role sockd", "CAP_NET_RAW, CAP_NET_BIND_SERVICE", "arg0 == AF_PACKET(17)", "everything else kills the process"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "role engine") {
		t.Error("printed a role that was not asked for")
	}
	if code := policyCmd([]string{"nosuchrole"}, &out); code != exitcode.Usage {
		t.Errorf("unknown role: exit %d", code)
	}
}

// TestAudit runs the real audit: every role, every action, each in its own
// sandboxed child.
func TestAudit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the audit's probes enter each role's sandbox from root")
	}
	var out bytes.Buffer
	code := auditCmd(append(testUsers(t), "--json"), &out)
	var res probe.Audit
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("exit %d, not JSON: %v\n%s", code, err, out.String())
	}
	if code != exitcode.OK || !res.Pass {
		t.Fatalf("audit failed (exit %d):\n%s", code, out.String())
	}
	if len(res.Roles) != len(roles.All) {
		t.Fatalf("%d roles audited", len(res.Roles))
	}
	wantCaps := map[string]uint64{"supervisor": 0, "engine": 0, "sockd": 1<<13 | 1<<10, "ifch": 1 << 12, "hostname": 1 << 21, "hook": 0}
	for _, r := range res.Roles {
		if r.Report == nil {
			t.Fatalf("%s: no report", r.Role)
		}
		s := r.Report.Status
		if s.Uid[0] == 0 || s.NoNewPrivs != 1 || s.Seccomp != 2 || s.CapEff != wantCaps[r.Role] || s.CapBnd != wantCaps[r.Role] || s.CapAmb != 0 {
			t.Errorf("%s: status %s", r.Role, s)
		}
		var denied, allowed int
		for _, x := range r.Results {
			if x.Expected == "allowed" {
				allowed++
			} else {
				denied++
			}
		}
		// The hook role's audit is its own (roles.Role.OwnBattery): fewer
		// refusals, and controls that prove it can run programs.
		if min := 15; r.Role == roles.Hook && (denied < 10 || allowed < 4) || r.Role != roles.Hook && (denied < min || allowed < 1) {
			t.Errorf("%s: %d forbidden and %d control actions", r.Role, denied, allowed)
		}
	}
}

// TestAuditDetectsFailure runs a control action in a role that must not be
// able to do it, and checks that the probe reports a failure: the audit's
// verdict has to be able to go red.
func TestAuditDetectsFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the audit's probes enter each role's sandbox from root")
	}
	var out bytes.Buffer
	settings := testUsers(t)
	if code := auditCmd(append(settings, "sockd"), &out); code != exitcode.OK {
		t.Fatalf("baseline sockd audit failed:\n%s", out.String())
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	rf := addRoleFlags(fs)
	if err := fs.Parse(settings); err != nil || rf.parse() != nil {
		t.Fatal(err)
	}
	cleanup, err := rf.settings.PrepareAudit()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	p, err := rf.settings.Policy(roles.Sockd)
	if err != nil {
		t.Fatal(err)
	}
	engine, _ := roles.ByName(roles.Engine)
	for _, a := range engine.Controls() {
		if !strings.Contains(a.Name, "state directory") {
			continue
		}
		r, _, err := probe.Run(p, a, sandbox.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Pass {
			t.Fatalf("sockd could write a file: %+v", r)
		}
	}
}

// TestHelpExitsZero: -h asks for help, which is not a usage error, in
// ndhc and in each of its subcommands.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"status", "-h"}, {"policy", "-h"}, {"audit", "-h"}, {"policy", "--bogus"}} {
		want := exitcode.OK
		if args[len(args)-1] == "--bogus" {
			want = exitcode.Usage // the control: a real usage error
		}
		stdout, stderr := os.Stdout, os.Stderr
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout, os.Stderr = devnull, devnull
		got := run(args)
		os.Stdout, os.Stderr = stdout, stderr
		devnull.Close()
		if got != want {
			t.Errorf("ndhc %v exits %d, want %d", args, got, want)
		}
	}
}
