package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/control"
	"github.com/ndhc-go/ndhc/internal/exitcode"
)

// TestControlFlags: the control socket's flags and the wait mode are
// checked before anything starts.
func TestControlFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-i", "eth0", "--control-socket", "relative/path"},
		{"-i", "eth0", "--control-group", "no-such-group-ndhc"},
		{"-i", "eth0", "-w", "--ready-fd", "4"},
		{"-i", "eth0", "-w", "--event-fd", "3"},
		{"-i", "eth0", "--wait", "-q"},
	} {
		if err := newClientFlags().parse(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	c := newClientFlags()
	if err := c.parse([]string{"-i", "eth0", "-w", "--control-group", "0", "--control-socket", "none"}); err != nil || !c.detach || c.controlGID != 0 {
		t.Fatalf("-w: %v, detach %v gid %d", err, c.detach, c.controlGID)
	}
	if p := controlSocketPath(c.controlSocket, "eth0"); p != "" {
		t.Errorf("none: path %q", p)
	}
	if p := controlSocketPath("", "eth0"); p != "/run/ndhc/eth0/control" {
		t.Errorf("default path %q", p)
	}
	for _, args := range [][]string{
		{"show"},
		{"show", "-i", "eth0", "extra"},
		{"wait", "-i", "eth0", "--timeout", "-1s"},
		{"wait", "-i", "eth0", "--timeout", "0"},
		{"renew", "-i", "eth0", "--control-socket", "none"},
		{"show", "-i", "eth0", "--timeout", "1s"}, // show has no timeout
	} {
		var out bytes.Buffer
		if code := controlCmd(args[0], args[1:], &out); code != exitcode.Usage {
			t.Errorf("%q: exit %d, want %d", args, code, exitcode.Usage)
		}
	}
	// No client: a plain error, not a hang.
	var out bytes.Buffer
	if code := controlCmd("show", []string{"-i", "eth0", "--control-socket", t.TempDir() + "/none"}, &out); code != exitcode.Failure {
		t.Errorf("show without a client: exit %d", code)
	}
}

// TestPrintState: the human form names every part of the state; the JSON
// form is one line that decodes back.
func TestPrintState(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	st := &control.State{
		Interface: "eth0", State: "BOUND", Configured: true, Address: netip.MustParsePrefix("10.0.0.5/24"),
		Server: netip.MustParseAddr("10.0.0.1"), Router: netip.MustParseAddr("10.0.0.254"),
		Obtained: at, T1: at.Add(time.Minute), T2: at.Add(2 * time.Minute), Expiry: at.Add(3 * time.Minute),
		Roles:     []control.Role{{Name: "engine", Pid: 42, Uid: 101, Caps: "none", NoNewPrivs: 1, Seccomp: 2, SeccompInstructions: 80, LandlockABI: 6}},
		LastError: &control.Failure{Event: "refused", Cause: "out-of-range", Time: at},
		Renewals:  3, Started: at,
	}
	var out bytes.Buffer
	printState(&out, st, false)
	for _, want := range []string{"state:      BOUND", "10.0.0.5/24 (configured: true)", "server:     10.0.0.1", "router:     10.0.0.254",
		"renew (T1):", "expires:", "renewals:   3", "last error: refused out-of-range", "engine     pid 42", "landlock ABI 6"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	out.Reset()
	printState(&out, st, true)
	var back control.State
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || strings.Count(out.String(), "\n") != 1 || back.Address != st.Address || !back.T2.Equal(st.T2) {
		t.Errorf("json %q: %v", out.String(), err)
	}
}
