package logintest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/ndhc-go/ndhc/internal/login/loginlab"
)

// NamedNetNS creates a named network namespace (ip netns) with loopback
// up, removed when the test ends, so that programs the test starts (the
// daemon, the client) run in it with `ip netns exec`.
func NamedNetNS(t testing.TB) string {
	t.Helper()
	name, remove, err := loginlab.NamedNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove() })
	return name
}

// NSCommand is loginlab.NSCommand.
func NSCommand(ctx context.Context, ns string, argv ...string) *exec.Cmd {
	return loginlab.NSCommand(ctx, ns, argv...)
}
