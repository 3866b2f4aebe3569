// Package logging is how ndhc's processes log: log/slog lines on stderr in
// one of three formats, chosen with --log-format.
//
//	text     key=value lines (log/slog's text form), the default
//	json     one JSON object a line (log/slog's JSON form)
//	journal  text lines that start with a syslog priority, <3> for errors
//	         to <7> for debug, which systemd's journal (SyslogLevelPrefix=,
//	         on by default) and syslog daemons read as the line's level
//
// The roles log in text or JSON to a pipe their supervisor reads; the
// supervisor writes their lines, and its own, to its stderr, adding the
// journal's priorities itself.
package logging

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Format is a log format.
type Format string

// The formats.
const (
	Text    Format = "text"
	JSON    Format = "json"
	Journal Format = "journal"
)

// String returns f's name.
func (f Format) String() string { return string(f) }

// MarshalText returns f's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f), nil }

// UnmarshalText accepts text, json and journal.
func (f *Format) UnmarshalText(b []byte) error {
	switch v := Format(b); v {
	case Text, JSON, Journal:
		*f = v
		return nil
	}
	return fmt.Errorf("log format %q: want text, json or journal", b)
}

// New returns a logger writing to w in format f at level and above. For
// Journal, w should be a JournalWriter, or the lines go out with
// no priority (the roles write to their supervisor, which adds them).
func New(w io.Writer, f Format, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if f == JSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// Priority is the syslog priority of a text or JSON log line, from its
// level ("level=WARN", "level":"WARN"): 3 error, 4 warning, 6 info, 7
// debug; 6 for a line that names no level.
func Priority(line []byte) int {
	for _, p := range []struct {
		level string
		pri   int
	}{{"ERROR", 3}, {"WARN", 4}, {"INFO", 6}, {"DEBUG", 7}} {
		if bytes.Contains(line, []byte("level="+p.level)) || bytes.Contains(line, []byte(`"level":"`+p.level)) {
			return p.pri
		}
	}
	return 6
}

// JournalWriter writes whole lines to an underlying writer, each prefixed with
// its syslog priority. Writes that end mid-line are held until the line
// ends. It is safe for concurrent use.
type JournalWriter struct {
	mu   sync.Mutex
	w    io.Writer
	part []byte
}

// NewJournal returns a JournalWriter writing to w.
func NewJournal(w io.Writer) *JournalWriter { return &JournalWriter{w: w} }

// Write implements io.Writer.
func (j *JournalWriter) Write(b []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			j.part = append(j.part, b...)
			break
		}
		line := append(j.part, b[:i+1]...)
		j.part = nil
		if _, err := fmt.Fprintf(j.w, "<%d>%s", Priority(line), line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
	return n, nil
}
