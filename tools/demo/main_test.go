package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/event"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{`{"time":"2026-11-29T20:08:17.5Z","event":"ready","role":"engine","pid":7,"report":{"role":"engine","status":{},"threads_checked":1,"landlock_abi":7,"landlock_enforced":null,"seccomp_instructions":70}}`, true},
		{`{"time":"2026-11-29T20:08:17.5Z","event":"state","from":"ARP-CHECKING","to":"BOUND","address":"10.77.0.120/24"}`, true},
		{`{"time":"2026-11-29T20:08:17.5Z","event":"done","code":0}`, true},
		{`{"time":"2026-11-29T20:08:17.5Z","event":"done"}`, false},
		{`{"time":"2026-11-29T20:08:17.5Z","event":"state","extra":1}`, false},
		{`{"time":"2026-11-29T20:08:17.5Z","event":"state"} {}`, false},
		{`{"event":"state"}`, false},
		{`{"time":"2026-11-29T20:08:17.5Z"}`, false},
		{`role sandboxed`, false},
	} {
		if _, err := decode([]byte(tc.line)); (err == nil) != tc.ok {
			t.Errorf("decode(%s): err %v, want ok %v", tc.line, err, tc.ok)
		}
	}
}

func TestRecorder(t *testing.T) {
	r, w := io.Pipe()
	c := newRecorder()
	go c.read(r)
	go func() {
		io.WriteString(w, `{"time":"2026-11-29T20:08:17.5Z","event":"ready","role":"sockd","pid":9}`+"\n")
		io.WriteString(w, `{"time":"2026-11-29T20:08:17.6Z","event":"configured","address":"10.0.0.2/24"}`+"\n")
		w.Close()
	}()
	rec, err := c.wait(5*time.Second, func(r event.Record) bool { return r.Event == "configured" })
	if err != nil || rec.Address != "10.0.0.2/24" {
		t.Fatalf("wait: %+v, %v", rec, err)
	}
	if got := c.ready()[9].Role; got != "sockd" {
		t.Errorf("ready()[9].Role = %q", got)
	}
	if _, err := c.wait(5*time.Second, func(r event.Record) bool { return r.Event == "done" }); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("wait after EOF: %v", err)
	}
	if err := c.failed(); err != nil {
		t.Errorf("failed after EOF: %v", err)
	}

	r, w = io.Pipe()
	c = newRecorder()
	go c.read(r)
	go func() { io.WriteString(w, "msg=\"role sandboxed\"\n"); w.Close() }()
	if _, err := c.wait(5*time.Second, func(event.Record) bool { return false }); err == nil || c.failed() == nil {
		t.Errorf("a log line on the stream: wait %v, failed %v", err, c.failed())
	}
}
