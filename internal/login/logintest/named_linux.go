package logintest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// NamedNetNS creates a named network namespace (ip netns) with loopback
// up, removed when the test ends, so that programs the test starts (the
// daemon, the client) run in it with `ip netns exec`.
func NamedNetNS(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("nlt-%d-%d", os.Getpid(), userSeq.Add(1))
	for _, argv := range [][]string{{"ip", "netns", "add", name}, {"ip", "-n", name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", argv, err, out)
		}
		if argv[2] == "add" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		}
	}
	return name
}

// NSCommand runs argv inside the named namespace, in its own process
// group, killed with the group when ctx ends or this process dies.
func NSCommand(ctx context.Context, ns string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}
