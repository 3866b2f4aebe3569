package main

import (
	"bytes"
	"testing"

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
