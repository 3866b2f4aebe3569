package memaccount

import (
	"os"
	"testing"
)

// TestLineParse reads this process's own account back: every class is
// there, and the heap holds the objects allocated before it.
func TestLineParse(t *testing.T) {
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 4096)
	}
	line := "engine[42]: " + Line()
	pid, v, ok, err := Parse(line)
	if !ok || err != nil {
		t.Fatalf("Parse(%q): ok %v, err %v", line, ok, err)
	}
	if pid != os.Getpid() {
		t.Errorf("pid %d, want %d", pid, os.Getpid())
	}
	for _, c := range Classes {
		if _, found := v[c.Name]; !found {
			t.Errorf("class %s missing from %q", c.Name, line)
		}
	}
	if v["heap-objects"] < 64*4096 {
		t.Errorf("heap-objects %d, below the %d bytes this test holds", v["heap-objects"], 64*4096)
	}
	if v["goroutines"] == 0 {
		t.Errorf("no goroutines in %q", line)
	}
	_ = keep[63][0]
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{
		"memaccount pid=x",
		"memaccount pid=7 heap-objects",
		"memaccount pid=7 heap-objects=-1",
		"memaccount pid=0 heap-objects=1",
	} {
		if _, _, ok, err := Parse(line); !ok || err == nil {
			t.Errorf("Parse(%q): ok %v, err %v; want an error", line, ok, err)
		}
	}
	if _, _, ok, err := Parse("engine[1]: state BOUND"); ok || err != nil {
		t.Errorf("a line without an account: ok %v, err %v", ok, err)
	}
}
