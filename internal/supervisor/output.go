//go:build linux

package supervisor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
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
	w       io.Writer
	json    bool
	debug   bool
	crashes map[*sandbox.Member][]string
}

func newOutput(w io.Writer, json, debug bool) *output {
	return &output{w: w, json: json, debug: debug, crashes: map[*sandbox.Member][]string{}}
}

// jsonLine is a role's line in the JSON format: the role's own record
// when it is a JSON object (it cannot break out of this one: it is
// checked to be valid JSON, and plain), else the line as a string.
type jsonLine struct {
	Time    time.Time       `json:"time"`
	From    string          `json:"from"`
	Pid     int             `json:"pid"`
	Record  json.RawMessage `json:"record,omitempty"`
	Line    string          `json:"line,omitempty"`
	Cut     bool            `json:"cut,omitempty"`
	Dropped int             `json:"dropped,omitempty"`
}

// write writes one role line in the output's format.
func (o *output) write(m *sandbox.Member, text []byte, cut bool, dropped int) {
	if o.json {
		o.w.Write(formatJSON(time.Now(), m.Role, m.Pid(), text, cut, dropped))
		return
	}
	if b := formatText(m.Role, m.Pid(), text, cut, dropped); len(b) > 0 {
		o.w.Write(b)
	}
}

// formatJSON is a role's line (or its count of dropped lines) as one line
// of JSON.
func formatJSON(now time.Time, role string, pid int, text []byte, cut bool, dropped int) []byte {
	l := jsonLine{Time: now, From: role, Pid: pid, Cut: cut, Dropped: dropped}
	if t := bytes.TrimSpace(text); len(t) > 0 && t[0] == '{' && json.Valid(t) && plain(t) && !cut {
		l.Record = t
	} else if len(text) > 0 {
		l.Line = escape(text)
	}
	b, _ := json.Marshal(l)
	return append(b, '\n')
}

// formatText is a role's line as text lines, each with the role's prefix:
// the count of dropped lines, then the line.
func formatText(role string, pid int, text []byte, cut bool, dropped int) []byte {
	var b bytes.Buffer
	prefix := role + "[" + strconv.Itoa(pid) + "]: "
	if dropped > 0 {
		fmt.Fprintf(&b, "%slevel=WARN (%d lines dropped: the log could not keep up)\n", prefix, dropped)
	}
	if len(text) == 0 {
		return b.Bytes()
	}
	cont := ""
	if cut {
		cont = " (cut)"
	}
	fmt.Fprintf(&b, "%s%s%s\n", prefix, escape(text), cont)
	return b.Bytes()
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
	if c, crashing := o.crashes[m]; crashing || crashStart(l.Text) {
		if len(c) < maxCrashLines {
			o.crashes[m] = append(c, escape(l.Text))
		}
		if l.Dropped > 0 {
			o.write(m, nil, false, l.Dropped)
		}
		return
	}
	o.write(m, l.Text, l.Cut, l.Dropped)
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
			o.write(m, []byte("level=DEBUG crash: "+l), false, 0)
		}
	}
	return c
}

// plain reports whether b is UTF-8 with no DEL and no C1 control: JSON
// lets them through raw in strings, and a terminal may act on them (U+009B
// is CSI). A record that is not plain goes out escaped, as a line.
func plain(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
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
