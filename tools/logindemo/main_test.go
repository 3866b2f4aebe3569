package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/login/logintest"
)

// TestDemo runs make demo-login's program on freshly built binaries: the
// login works, pam_env's LD_PRELOAD is kept from the command, and the
// table shows [net] under a uid of its own with no capability, no_new_privs
// and a seccomp filter.
func TestDemo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the demo runs netlogind and creates a user and a network namespace")
	}
	dir := t.TempDir()
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogind", false)
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogind-session", true)
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogin", false)
	var out bytes.Buffer
	if err := run(dir, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	// Nothing of the demo's is left: its user and its namespace.
	if b, err := exec.Command("getent", "passwd").Output(); err == nil && regexp.MustCompile(`(?m)^nlt`+fmt.Sprint(os.Getpid())).Match(b) {
		t.Errorf("the demo's user is left in the passwd database")
	}
	if b, err := exec.Command("ip", "netns", "list").Output(); err == nil && strings.Contains(string(b), fmt.Sprintf("nlt-%d-", os.Getpid())) {
		t.Errorf("the demo's namespace is left: %s", b)
	}
	if !strings.Contains(s, "FOO=bar LD_PRELOAD=unset") {
		t.Errorf("the command's environment is not in the output:\n%s", s)
	}
	net := regexp.MustCompile(`(?m)^\[net\]\s+\d+\s+(\d+)\s+none\s+1\s+filter`).FindStringSubmatch(s)
	if net == nil || net[1] == "0" {
		t.Errorf("no [net] row with its own uid, no capability, no_new_privs and a filter:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^command \(the user's\)\s+\d+\s+[1-9]\d*\s+none`).MatchString(s) {
		t.Errorf("no row for the user's command without capabilities:\n%s", s)
	}
}
