package deptest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ndhc-go/ndhc/"

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Deps       []string
}

// goList runs `go list -deps -json` for the patterns, for Linux on the
// machine's architecture, and returns the named packages (not their
// dependencies) with their full dependency lists.
func goList(t *testing.T, patterns ...string) map[string]listed {
	t.Helper()
	return goListEnv(t, "CGO_ENABLED=0", patterns...)
}

// goListEnv is goList with cgo set by cgoEnv ("CGO_ENABLED=0" or "=1").
func goListEnv(t *testing.T, cgoEnv string, patterns ...string) map[string]listed {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to list the import graph")
	}
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Dir,GoFiles,Deps"}, patterns...)...)
	cmd.Env = append(os.Environ(), "GOOS=linux", cgoEnv)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// TestEngineGraph: the engine parses every untrusted byte, so nothing in
// its import graph may change the system on its behalf or spawn anything:
// no interface applier, no netlink library, no os/exec, no policies, no
// supervisor or role wiring.
func TestEngineGraph(t *testing.T) {
	forbidden := []string{
		"os/exec",
		module + "ifch/apply",
		"github.com/vishvananda/netlink",
		"github.com/vishvananda/netns",
		module + "policies",
		module + "internal/roles",
		module + "internal/supervisor",
		module + "internal/ifchrole",
		module + "internal/hostname",
	}
	pkgs := goList(t, "./internal/engine")
	p, ok := pkgs[module+"internal/engine"]
	if !ok {
		t.Fatal("internal/engine not listed")
	}
	for _, d := range p.Deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("internal/engine depends on %s", d)
			}
		}
	}
}

// TestNetloginGraphs: netlogind's [net] reads every byte a client sends,
// so its package reaches nothing that runs programs, PAM or the listener's
// powers; and the netlogind binary (listener and [net]) is never linked
// with libpam, even where cgo is on: only netlogind-session is.
func TestNetloginGraphs(t *testing.T) {
	check := func(pkgs map[string]listed, path string, forbidden ...string) {
		t.Helper()
		p, ok := pkgs[module+path]
		if !ok {
			t.Fatalf("%s not listed", path)
		}
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s", path, d)
				}
			}
		}
	}
	check(goList(t, "./internal/login/netrole"), "internal/login/netrole",
		"os/exec", "runtime/cgo", "github.com/msteinert/pam",
		module+"internal/login/pam", module+"internal/login/session",
		module+"internal/login/listener", module+"internal/login/hostkey", module+"policies")
	// With cgo on, package net links runtime/cgo for its resolver; the
	// Makefile builds both static. What must never come in is libpam.
	withCgo := goListEnv(t, "CGO_ENABLED=1", "./cmd/netlogind", "./cmd/netlogin")
	check(withCgo, "cmd/netlogind", "github.com/msteinert/pam", module+"internal/login/pam")
	check(withCgo, "cmd/netlogin", "os/exec", "github.com/msteinert/pam", module+"internal/login/pam", module+"sandbox")
}

// TestCodecPure: dhcp and dhcp/client make no system call outside their
// _linux.go files, so they build, test and fuzz on any system and their
// parsers cannot reach the kernel.
func TestCodecPure(t *testing.T) {
	syscalling := func(imp string) bool {
		switch imp {
		case "os", "os/exec", "os/signal", "syscall", "net", "unsafe":
			return true
		}
		return strings.HasPrefix(imp, "golang.org/x/sys/") || strings.HasPrefix(imp, "github.com/mdlayher/") ||
			strings.HasPrefix(imp, "github.com/vishvananda/") || strings.HasPrefix(imp, module+"sandbox")
	}
	pkgs := goList(t, "./dhcp", "./dhcp/client")
	if len(pkgs) != 2 {
		t.Fatalf("listed %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, name := range p.GoFiles {
			if strings.HasSuffix(name, "_linux.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range f.Imports {
				imp, _ := strconv.Unquote(is.Path.Value)
				if syscalling(imp) {
					t.Errorf("%s/%s imports %s", p.ImportPath, name, imp)
				}
			}
		}
	}
}

// TestSandboxRunsNothing: the framework starts children with
// os.StartProcess and never runs other programs, so the roles built on it
// (the engine above) carry no os/exec.
func TestSandboxRunsNothing(t *testing.T) {
	pkgs := goList(t, "./sandbox")
	for _, d := range pkgs[module+"sandbox"].Deps {
		if d == "os/exec" {
			t.Error("sandbox depends on os/exec")
		}
	}
}

// TestReleaseHasNoContainment: the containment test builds' attack
// batteries (internal/containment for ndhc, internal/login/logincontainment
// for netlogind's [net], build tag containment) never reach a release
// binary: without the tag, no daemon's graph holds either.
func TestReleaseHasNoContainment(t *testing.T) {
	batteries := []string{module + "internal/containment", module + "internal/containment/kit", module + "internal/login/logincontainment"}
	bins := []string{module + "cmd/ndhc", module + "cmd/ifchd", module + "cmd/netlogind"}
	pkgs := goList(t, "./cmd/ndhc", "./cmd/ifchd", "./cmd/netlogind")
	for _, name := range bins {
		p, ok := pkgs[name]
		if !ok {
			t.Fatalf("go list did not list %s", name)
		}
		if len(p.Deps) == 0 {
			t.Fatalf("%s: empty dependency list", name)
		}
		for _, d := range p.Deps {
			if slices.Contains(batteries, d) {
				t.Errorf("%s imports %s in a build without the containment tag", name, d)
			}
		}
	}
	// The control: with the tag, netlogind does hold its battery, so the
	// check above looks for the right path. (goListEnv's variable is
	// only appended to the environment; GOFLAGS serves as well as cgo's.)
	tagged := goListEnv(t, "GOFLAGS=-tags=containment", "./cmd/netlogind")
	if !slices.Contains(tagged[module+"cmd/netlogind"].Deps, module+"internal/login/logincontainment") {
		t.Errorf("the containment build of cmd/netlogind does not hold internal/login/logincontainment")
	}
}
