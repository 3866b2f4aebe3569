//go:build linux

package hook

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileInput is an input whose strings try to smuggle NTP servers and
// shell code past the example hooks.
func hostileInput(event string) []byte {
	in := Input{Event: event, Interface: "eth0", Time: time.Now(), Address: "192.0.2.10", Lease: &LeaseInput{
		Address: "192.0.2.10", Prefix: 24, Server: "192.0.2.1", Routers: []string{}, Routes: []RouteInput{}, DNS: []string{},
		Search: []string{`a"],"ntp":["6.6.6.6"]`}, Domain: "$(touch /tmp/pwned)",
		NTP:      []string{"192.0.2.123", "1.2.3.4; touch /tmp/pwned", "*", "999.1.1.1", "01.2.3.4", "127.0.0.1", "10.0.0.1"},
		Hostname: `x","ntp":["6.6.6.7"],"y":"`,
	}}
	b, _ := json.Marshal(in)
	return append(b, '\n')
}

func runContrib(t *testing.T, name string, env []string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{filepath.Join("..", "..", "contrib", "hooks", name)}, args...)...)
	cmd.Env = append([]string{Env}, env...)
	cmd.Stdin = strings.NewReader(string(stdin))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestContribChrony: the chrony example writes the valid NTP servers of
// the lease and nothing a hostile string put in the JSON, and removes the
// file when the lease goes.
func TestContribChrony(t *testing.T) {
	dir := t.TempDir()
	env := []string{"NDHC_CHRONY_DIR=" + dir}
	runContrib(t, "chrony", env, hostileInput("bound"), "bound", "eth0")
	b, err := os.ReadFile(filepath.Join(dir, "eth0.sources"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "server 192.0.2.123 iburst\nserver 10.0.0.1 iburst\n"; string(b) != want {
		t.Errorf("sources %q, want %q", b, want)
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("a string from the lease ran as a command")
	}
	runContrib(t, "chrony", env, hostileInput("released"), "released", "eth0")
	if _, err := os.Stat(filepath.Join(dir, "eth0.sources")); !os.IsNotExist(err) {
		t.Errorf("sources file left after release: %v", err)
	}
	// An interface name that would leave the directory is refused.
	cmd := exec.Command("/bin/sh", filepath.Join("..", "..", "contrib", "hooks", "chrony"), "bound", "../x")
	cmd.Env = append([]string{Env}, env...)
	cmd.Stdin = strings.NewReader(string(hostileInput("bound")))
	if err := cmd.Run(); err == nil {
		t.Error("interface ../x accepted")
	}
}

func TestContribLogEvent(t *testing.T) {
	out := runContrib(t, "log-event", nil, hostileInput("bound"), "bound", "eth0")
	if want := "ndhc bound on eth0: address 192.0.2.10, ntp 192.0.2.123,127.0.0.1,10.0.0.1\n"; out != want {
		t.Errorf("line %q, want %q", out, want)
	}
}
