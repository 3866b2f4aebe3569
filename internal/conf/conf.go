// Package conf reads configuration files of `key = value` lines, whose keys
// are the long names of a program's command-line flags, and applies them to
// a flag.FlagSet so that a file and a command line say the same things the
// same way.
//
// Grammar, one line at a time (lines end with LF or CR LF; a file is at most
// MaxSize bytes of UTF-8 without control characters other than tab):
//
//	line    = blank / comment / setting
//	blank   = *WSP
//	comment = *WSP "#" *any
//	setting = *WSP key *WSP "=" *WSP value *WSP [ "#" *any ]
//	key     = 1*( %x61-7A / DIGIT / "-" )        ; lower case, as flag names
//	value   = quoted / bare
//	quoted  = DQUOTE *( any except DQUOTE and "\" / "\" ( DQUOTE / "\" ) ) DQUOTE
//	bare    = *( any except "#" and DQUOTE ), trailing WSP removed
//
// A key may appear once. Errors name the line.
package conf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSize bounds a configuration file.
const MaxSize = 64 << 10

// Entry is one setting and the line it came from.
type Entry struct {
	Line  int
	Key   string
	Value string
}

// Error is a problem at a line of a configuration file.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse returns the settings of a configuration file in order.
func Parse(b []byte) ([]Entry, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("conf: file is %d bytes, more than %d", len(b), MaxSize)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("conf: file is not valid UTF-8")
	}
	var out []Entry
	seen := map[string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		// A file written on another system ends its lines with CR LF.
		line = strings.TrimSuffix(line, "\r")
		bad := func(format string, args ...any) error { return &Error{Line: n, Msg: fmt.Sprintf(format, args...)} }
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return nil, bad("control character %q", r)
			}
		}
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		key, rest, ok := strings.Cut(t, "=")
		if !ok {
			return nil, bad("want key = value")
		}
		key = strings.TrimRight(key, " \t")
		if key == "" {
			return nil, bad("empty key")
		}
		for _, r := range key {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return nil, bad("key %q: only lower-case letters, digits and '-'", key)
			}
		}
		if prev, dup := seen[key]; dup {
			return nil, bad("%s already set on line %d", key, prev)
		}
		seen[key] = n
		val, err := parseValue(strings.TrimLeft(rest, " \t"))
		if err != nil {
			return nil, bad("%s: %v", key, err)
		}
		out = append(out, Entry{Line: n, Key: key, Value: val})
	}
	return out, nil
}

func parseValue(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		v, _, _ := strings.Cut(s, "#")
		v = strings.TrimRight(v, " \t")
		if strings.Contains(v, `"`) {
			return "", errors.New("a quote inside an unquoted value")
		}
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || s[i+1] != '"' && s[i+1] != '\\' {
				return "", errors.New(`"\" must be followed by '"' or '\'`)
			}
			i++
			b.WriteByte(s[i])
		case '"':
			tail := strings.TrimLeft(s[i+1:], " \t")
			if tail != "" && tail[0] != '#' {
				return "", fmt.Errorf("text after the closing quote: %q", tail)
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quote")
}

// Format renders entries as a file that Parse reads back to the same
// entries (line numbers aside).
func Format(entries []Entry) string {
	var b strings.Builder
	for _, e := range entries {
		v := e.Value
		if v != strings.TrimSpace(v) || strings.ContainsAny(v, "#\"\\") {
			v = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
		fmt.Fprintf(&b, "%s = %s\n", e.Key, v)
	}
	return b.String()
}

// Apply sets each entry's flag in fs. Flags already set on the command line
// (listed in explicit) win over the file. Unknown keys and values the flag
// rejects are errors naming the line.
func Apply(fs *flag.FlagSet, entries []Entry, explicit map[string]bool) error {
	for _, e := range entries {
		f := fs.Lookup(e.Key)
		if f == nil {
			return &Error{Line: e.Line, Msg: fmt.Sprintf("unknown key %q", e.Key)}
		}
		if explicit[e.Key] {
			continue
		}
		if err := fs.Set(e.Key, e.Value); err != nil {
			return &Error{Line: e.Line, Msg: setError(f, e.Value, err)}
		}
	}
	return nil
}

// Load applies the configuration file at path to fs after the command
// line was parsed: a key set on the command line (under its long name or
// under a short alias) keeps the command line's value, except the
// additive keys (repeatable flags whose values accumulate), which get the
// file's values too. Keys of one letter and "config" are not keys of a
// file. Errors name the file and the line.
func Load(fs *flag.FlagSet, path string, aliases map[string]string, additive ...string) error {
	b, err := readBounded(path)
	if err != nil {
		return err
	}
	entries, err := Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range entries {
		if len(e.Key) == 1 || e.Key == "config" {
			return fmt.Errorf("%s: %w", path, &Error{Line: e.Line, Msg: fmt.Sprintf("unknown key %q", e.Key)})
		}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for short, long := range aliases {
		if explicit[short] {
			explicit[long] = true
		}
	}
	for _, k := range additive {
		delete(explicit, k)
	}
	if err := Apply(fs, entries, explicit); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Mode is a file mode given in octal, up to 0777, for flag.TextVar.
type Mode uint32

// MarshalText writes m in octal with a leading 0.
func (m Mode) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%#o", uint32(m))), nil }

// UnmarshalText reads an octal mode up to 0777.
func (m *Mode) UnmarshalText(b []byte) error {
	n, err := strconv.ParseUint(string(b), 8, 32)
	if err != nil || n > 0o777 {
		return errors.New("want an octal mode up to 0777")
	}
	*m = Mode(n)
	return nil
}

// ParseInterspersed parses flags that may come before or after positional
// arguments (ndhc policy sockd --json), and returns the positional ones.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// readBounded reads at most MaxSize bytes of path, and fails on a longer
// file (or an endless one such as /dev/zero) before reading it all.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s: more than %d bytes: not a configuration file", path, MaxSize)
	}
	return b, nil
}

// setError explains a value a flag refused. The flag package's own
// errors for its basic types say only "parse error" or "invalid syntax":
// those get the value and what the key takes. A flag of the program's own
// type explains itself; it gets what the key takes unless it said it.
func setError(f *flag.Flag, value string, err error) string {
	if basic := basicWant(f); basic != "" {
		return fmt.Sprintf("%s: %q: %v; want %s", f.Name, value, err, basic)
	}
	msg := fmt.Sprintf("%s: %v", f.Name, err)
	if name, _ := flag.UnquoteUsage(f); name != "" && name != "value" && !strings.Contains(err.Error(), "want ") {
		msg += "; want " + name
	}
	return msg
}

// basicWant says what a flag of one of the flag package's basic types
// takes; empty for any other.
func basicWant(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "an integer"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration such as 30s or 2m"
	}
	return ""
}
