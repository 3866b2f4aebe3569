package lab

import (
	_ "embed"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

//go:embed packages.txt
var packagesTxt string

// Packages lists the Debian packages the lab uses (packages.txt).
func Packages() []string {
	var out []string
	for _, line := range strings.Split(packagesTxt, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// InstallHint is the command that installs what the lab needs; see the
// header of packages.txt for installing without starting host services.
func InstallHint() string {
	return "apt-get install -y --no-install-recommends " + strings.Join(Packages(), " ") +
		" (see internal/lab/packages.txt)"
}

// SkipEnv names an environment variable that, when non-empty, makes
// Require skip every lab test (for hosts where namespaces misbehave).
const SkipEnv = "NDHC_LAB_SKIP"

// Missing says why a lab cannot run here, or returns "" if it can: the
// OS, root, the capabilities to make namespaces, and the programs (names
// looked up like the lab does, e.g. "dhclient") beyond ip.
func Missing(progs ...string) string {
	if runtime.GOOS != "linux" {
		return "network-namespace lab needs Linux"
	}
	if os.Getenv(SkipEnv) != "" {
		return SkipEnv + " is set"
	}
	if os.Geteuid() != 0 {
		return "network-namespace lab needs root"
	}
	if !hasCaps(12, 21) { // CAP_NET_ADMIN, CAP_SYS_ADMIN
		return "network-namespace lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN"
	}
	var miss []string
	for _, p := range append([]string{"ip"}, progs...) {
		if _, err := findBinary(p); err != nil {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		return fmt.Sprintf("missing %s; install with: %s", strings.Join(miss, ", "), InstallHint())
	}
	return ""
}

// hasCaps reports whether the process has every given capability in its
// effective set.
func hasCaps(caps ...int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false
		}
		for _, c := range caps {
			if eff&(1<<c) == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// Require skips the test, with the reason, unless a lab can run here and
// the named programs exist.
func Require(t testing.TB, progs ...string) {
	t.Helper()
	if why := Missing(progs...); why != "" {
		t.Skip("lab: " + why)
	}
}

// RequireServer is Require for the programs of the given server kinds.
func RequireServer(t testing.TB, kinds ...Kind) {
	t.Helper()
	var progs []string
	for _, k := range kinds {
		p, _ := k.binary()
		if p == "" {
			t.Fatalf("lab: unknown server kind %q", k)
		}
		progs = append(progs, p)
	}
	Require(t, progs...)
}

// NewT is New for tests: it skips unless a lab can run here (see
// Require), removes stale namespaces of crashed runs (CleanupStale),
// fails the test if New fails, and on cleanup prints the servers' logs
// if the test failed and closes the lab.
func NewT(t testing.TB, cfg Config) *Lab {
	t.Helper()
	Require(t)
	if gone, err := CleanupStale(); err != nil {
		t.Logf("lab: cleaning up stale namespaces: %v", err)
	} else if len(gone) > 0 {
		t.Logf("lab: removed stale namespaces %v", gone)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lab %s logs:\n%s", l.ID(), l.Logs())
		}
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}
