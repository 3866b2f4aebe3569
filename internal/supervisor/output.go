//go:build linux

package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ndhc-go/ndhc/sandbox"
)

// The roles' standard error is a pipe to the supervisor (sandbox.Group's
// Output): no role holds the terminal or the log file, and no role's
// RLIMIT_FSIZE limits what it logs. The supervisor writes each line to its
// own stderr as `ROLE[PID]: LINE`: the prefix is the supervisor's, so a
// role cannot pass its lines off as another's, and the line is escaped so
// that it cannot start a line of its own or send the terminal control
// sequences.
//
// A Go runtime crash (a panic, a fatal error, a signal) starts with a
// recognisable line and goes on for a stack trace per goroutine. The
// supervisor keeps those lines for the role, prints one line that says
// what happened when the role exits, and the trace only at debug level.

// maxCrashLines bounds what is kept of a crash.
const maxCrashLines = 200

type output struct {
	mu      sync.Mutex
	w       *os.File
	debug   bool
	crashes map[*sandbox.Member][]string
}

func newOutput(w *os.File, debug bool) *output {
	return &output{w: w, debug: debug, crashes: map[*sandbox.Member][]string{}}
}

// crashStart reports whether line starts a Go runtime crash report.
func crashStart(line []byte) bool {
	for _, p := range []string{"panic: ", "fatal error: ", "runtime: ", "SIGSEGV", "SIGBUS", "SIGSYS", "SIGILL", "SIGFPE", "SIGABRT"} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// line handles one line of a role's stderr.
func (o *output) line(l sandbox.OutputLine) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := l.Member
	prefix := m.Role + "[" + strconv.Itoa(m.Pid()) + "]: "
	if l.Dropped > 0 {
		fmt.Fprintf(o.w, "%s(%d lines dropped: the log could not keep up)\n", prefix, l.Dropped)
	}
	if len(l.Text) == 0 && l.Dropped > 0 {
		return
	}
	if c, crashing := o.crashes[m]; crashing || crashStart(l.Text) {
		if len(c) < maxCrashLines {
			o.crashes[m] = append(c, escape(l.Text))
		}
		return
	}
	cont := ""
	if l.Cut {
		cont = " (cut)"
	}
	fmt.Fprintf(o.w, "%s%s%s\n", prefix, escape(l.Text), cont)
}

// Crash describes how a role crashed, from what it wrote.
type Crash struct {
	// First is the line that started the report ("fatal error: ...").
	First string
	// Threads is set when the runtime could not create a thread.
	Threads bool
	// Lines is the whole report, escaped.
	Lines []string
}

// crash returns (and forgets) what m wrote of a crash, if anything.
func (o *output) crash(m *sandbox.Member) *Crash {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines, ok := o.crashes[m]
	if !ok {
		return nil
	}
	delete(o.crashes, m)
	c := &Crash{First: lines[0], Lines: lines}
	for _, l := range lines {
		if strings.Contains(l, "newosproc") || strings.Contains(l, "failed to create new OS thread") {
			c.Threads = true
		}
		// The runtime's "runtime: ..." lines come before the line that
		// names the failure.
		if strings.HasPrefix(c.First, "runtime: ") && (strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "panic: ")) {
			c.First = l
		}
	}
	if o.debug {
		for _, l := range lines {
			fmt.Fprintf(o.w, "%s[%d] crash: %s\n", m.Role, m.Pid(), l)
		}
	}
	return c
}

// escape makes b one printable line: control characters, DEL and bytes
// that are not UTF-8 become \xNN; a backslash becomes \\.
func escape(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r < 0xa0:
			for _, c := range b[:max(n, 1)] {
				fmt.Fprintf(&s, "\\x%02x", c)
			}
		case r == '\\':
			s.WriteString(`\\`)
		default:
			s.Write(b[:n])
		}
		b = b[max(n, 1):]
	}
	return s.String()
}

// crashOf is crash for the role of that name: for a role that failed to
// start, whose member the group did not hand out.
func (o *output) crashOf(role string) *Crash {
	o.mu.Lock()
	var m *sandbox.Member
	for x := range o.crashes {
		if x.Role == role {
			m = x
		}
	}
	o.mu.Unlock()
	if m == nil {
		return nil
	}
	return o.crash(m)
}
