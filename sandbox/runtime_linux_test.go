package sandbox_test

import (
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// TestRuntimeBaseStress runs the stress under a policy whose allowlist is
// sandbox.RuntimeBase alone: every path above must be on it.
func TestRuntimeBaseStress(t *testing.T) {
	requireRoot(t)
	p := rootPolicy(t)
	p.Seccomp = sandbox.RuntimeBase()
	res, rep, err := probe.Run(p, probe.RuntimeStress(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep == nil || rep.Status.Seccomp != 2 {
		t.Fatalf("report %+v", rep)
	}
	if !res.Pass {
		t.Fatalf("the runtime under stress: %+v", res)
	}
}
