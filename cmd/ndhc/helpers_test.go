package main

import (
	"flag"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

func newRoleSettingsForTest(t *testing.T, args []string) *roleSettings {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	s := newRoleSettings(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := s.prepareDirs(); err != nil {
		t.Fatal(err)
	}
	return s
}

func probeRun(p sandbox.Policy, a probe.Action) (probe.Result, *sandbox.Report, error) {
	return probe.Run(p, a, sandbox.Options{})
}
