package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestJournal(t *testing.T) {
	var out bytes.Buffer
	j := NewJournal(&out)
	log := New(j, Journal, slog.LevelDebug)
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	j.Write([]byte("engine[12]: time=x level=ERROR msg=half"))
	j.Write([]byte(" a line\nno level here\n"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"<7>", "<6>", "<4>", "<3>", "<3>engine[12]: ", "<6>no level"}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %q, want prefix %q", lines[i], w)
		}
	}
}

func TestJSONAndFormats(t *testing.T) {
	var out bytes.Buffer
	New(&out, JSON, slog.LevelInfo).Warn("w", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m["level"] != "WARN" || Priority(out.Bytes()) != 4 {
		t.Fatalf("%s: %v", out.String(), err)
	}
	var f Format
	for _, ok := range []string{"text", "json", "journal"} {
		if err := f.UnmarshalText([]byte(ok)); err != nil || string(f) != ok {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := f.UnmarshalText([]byte("syslog")); err == nil {
		t.Error("syslog accepted")
	}
}
