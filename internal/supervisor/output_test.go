//go:build linux

package supervisor

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// unescape inverts escape.
func unescape(t *testing.T, s string) []byte {
	var b []byte
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], `\\`):
			b = append(b, '\\')
			i += 2
		case strings.HasPrefix(s[i:], `\x`) && i+4 <= len(s):
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			b = append(b, byte(v))
			i += 4
		case s[i] == '\\':
			t.Fatalf("lone backslash in %q", s)
		default:
			b = append(b, s[i])
			i++
		}
	}
	return b
}

// printable reports the first rune of s that is not valid, printable
// text on a terminal (tab aside), if any.
func printable(s string) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") || r != '\t' && unicode.IsControl(r) {
			return r, false
		}
	}
	return 0, true
}

// FuzzRoleOutput: the supervisor relays each line a role writes to its
// stderr, in text or JSON. A role cannot start a line of its own, send a
// control character, or pass as another role or process; and the
// escaping loses nothing: the line can be read back exactly.
func FuzzRoleOutput(f *testing.F) {
	f.Add([]byte(`time=2026-01-01T00:00:00Z level=INFO msg=bound`), false, uint16(0))
	f.Add([]byte(`{"level":"INFO","msg":"bound","from":"sockd","pid":1}`), false, uint16(3))
	f.Add([]byte("a\x1b[2Jb\rc\u0085d\\x41\xff\xfe"), true, uint16(1))
	f.Add([]byte(` {"a": "\u2028"} `), false, uint16(0))
	f.Add([]byte{}, false, uint16(7))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const role, pid = "engine", 4242
	prefix := role + "[" + strconv.Itoa(pid) + "]: "
	f.Fuzz(func(t *testing.T, text []byte, cut bool, dropped uint16) {
		out := string(formatText(role, pid, text, cut, int(dropped)))
		lines := strings.SplitAfter(out, "\n")
		if lines[len(lines)-1] != "" {
			t.Fatalf("%q: output does not end a line: %q", text, out)
		}
		lines = lines[:len(lines)-1]
		want := 0
		if dropped > 0 {
			want++
		}
		if len(text) > 0 {
			want++
		}
		if len(lines) != want {
			t.Fatalf("%q: %d lines, want %d: %q", text, len(lines), want, out)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, prefix) {
				t.Fatalf("%q: line %q without the prefix", text, l)
			}
			if r, ok := printable(strings.TrimSuffix(l, "\n")); !ok {
				t.Fatalf("%q: %U in %q", text, r, l)
			}
		}
		if len(text) > 0 {
			last := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], prefix), "\n")
			if cut {
				last = strings.TrimSuffix(last, " (cut)")
			}
			if got := unescape(t, last); !bytes.Equal(got, text) {
				t.Fatalf("%q escaped as %q, reads back as %q", text, last, got)
			}
		}

		js := formatJSON(now, role, pid, text, cut, int(dropped))
		if bytes.IndexByte(js, '\n') != len(js)-1 {
			t.Fatalf("%q: JSON output is not one line: %q", text, js)
		}
		if r, ok := printable(string(js[:len(js)-1])); !ok {
			t.Fatalf("%q: %U in %q", text, r, js)
		}
		var l jsonLine
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%q: %q: %v", text, js, err)
		}
		if l.From != role || l.Pid != pid || !l.Time.Equal(now) || l.Cut != cut || l.Dropped != int(dropped) {
			t.Fatalf("%q: envelope %+v", text, l)
		}
		switch {
		case l.Record != nil:
			var a, b bytes.Buffer
			if cut || json.Compact(&a, l.Record) != nil || json.Compact(&b, bytes.TrimSpace(text)) != nil {
				t.Fatalf("%q: record %q", text, l.Record)
			}
			var x, y any
			if json.Unmarshal(a.Bytes(), &x) != nil || json.Unmarshal(b.Bytes(), &y) != nil || !jsonEqual(x, y) {
				t.Fatalf("%q: record %q differs", text, l.Record)
			}
		case len(text) > 0:
			if got := unescape(t, l.Line); !bytes.Equal(got, text) {
				t.Fatalf("%q: line %q reads back as %q", text, l.Line, got)
			}
		}
	})
}

func jsonEqual(x, y any) bool {
	a, err1 := json.Marshal(x)
	b, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
