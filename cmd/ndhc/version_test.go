package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/version"
)

// TestVersionCmd: the line and the JSON object, and refused arguments.
func TestVersionCmd(t *testing.T) {
	var out bytes.Buffer
	if rc := versionCmd(nil, &out, io.Discard); rc != exitcode.OK {
		t.Fatalf("ndhc version exits %d", rc)
	}
	if f := strings.Fields(out.String()); len(f) < 2 || f[0] != "ndhc" || !version.Valid(f[1]) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("ndhc version printed %q", out.String())
	}
	out.Reset()
	if rc := versionCmd([]string{"--json"}, &out, io.Discard); rc != exitcode.OK {
		t.Fatalf("ndhc version --json exits %d", rc)
	}
	var in version.Info
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("ndhc version --json: %v", err)
	}
	if in != version.Get("ndhc") {
		t.Errorf("ndhc version --json gave %+v, want %+v", in, version.Get("ndhc"))
	}
	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"--json", "extra"}} {
		if rc := versionCmd(args, io.Discard, io.Discard); rc != exitcode.Usage {
			t.Errorf("ndhc version %q exits %d, want %d", args, rc, exitcode.Usage)
		}
	}
	if rc := versionCmd([]string{"-h"}, io.Discard, io.Discard); rc != exitcode.OK {
		t.Errorf("ndhc version -h exits %d, want 0", rc)
	}
}
