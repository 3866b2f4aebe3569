package manuals

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// root is the module's top directory, from this package's.
const root = "../.."

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// bin builds the four binaries once, into a directory removed by TestMain.
func bin(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "manuals-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/ndhc", "./cmd/ifchd", "./cmd/netlogind", "./cmd/netlogin")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// help runs a binary with args (which end in -h) and returns what it
// printed on both outputs. The exit status is not checked here: which one
// -h gives is each command's business.
func help(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin(t, name), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %v: %v", name, args, err)
		}
	}
	return out.String()
}

// flagLine matches a flag in Go's flag.PrintDefaults output: two spaces, a
// dash and the name, then a space, a tab or the end of the line.
var flagLine = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9-]*)(?:[ \t]|$)`)

// flags returns the flag names in a help text, sorted, without -h.
func flags(t *testing.T, text string) []string {
	t.Helper()
	var names []string
	for _, m := range flagLine.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatalf("no flags found in help text:\n%s", text)
	}
	sort.Strings(names)
	return names
}

// subcommands returns the words after "PROG " at the start of the usage
// lines of a help text ("  ndhc status -i IFACE" gives status).
func subcommands(text, prog string) []string {
	re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(prog) + ` ([a-z]+)\b`)
	var subs []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(subs, m[1]) {
			subs = append(subs, m[1])
		}
	}
	return subs
}

// command is one binary: its page, and the argument lists whose -h output
// lists its flags.
type command struct {
	name, page string
	// helps are the argument lists, each ending in -h, whose output
	// lists flags; subs are the subcommands.
	helps [][]string
	subs  []string
}

// commands reads each binary's flags and subcommands. ndhc and netlogin
// name their subcommands in their usage; netlogind's are fixed here (its
// -h prints the daemon's flags alone), and each subcommand's -h is read
// too.
func commands(t *testing.T) []command {
	ndhcSubs := subcommands(help(t, "ndhc", "-h"), "ndhc")
	netloginSubs := subcommands(help(t, "netlogin", "-h"), "netlogin")
	for _, want := range [][2]string{{"ndhc", "status"}, {"ndhc", "policy"}, {"ndhc", "audit"}, {"ndhc", "version"}, {"netlogin", "keygen"}} {
		subs := ndhcSubs
		if want[0] == "netlogin" {
			subs = netloginSubs
		}
		if !slices.Contains(subs, want[1]) {
			t.Fatalf("the usage of %s names no %q (parsed %v): has the usage changed form?", want[0], want[1], subs)
		}
	}
	cs := []command{
		{name: "ndhc", page: "ndhc.8", helps: [][]string{{"-i", "lo", "-h"}}, subs: ndhcSubs},
		{name: "ifchd", page: "ifchd.8", helps: [][]string{{"-h"}}},
		{name: "netlogind", page: "netlogind.8", helps: [][]string{{"-h"}}, subs: []string{"audit", "policy", "version"}},
		{name: "netlogin", page: "netlogin.1", helps: [][]string{{"-h"}}, subs: netloginSubs},
	}
	for i := range cs {
		for _, s := range cs[i].subs {
			if s != "version" {
				cs[i].helps = append(cs[i].helps, []string{s, "-h"})
			}
		}
	}
	return cs
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// itFlags returns the flag names on the page's .It lines: the words after
// each Fl macro, without their leading dash (mdoc's Fl adds one).
func itFlags(page string) map[string]bool {
	re := regexp.MustCompile(`\bFl (-?[A-Za-z0-9][A-Za-z0-9-]*)`)
	got := map[string]bool{}
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, ".It ") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			got[strings.TrimPrefix(m[1], "-")] = true
		}
	}
	return got
}

// TestPagesDocumentEveryFlag fails when a flag a binary prints for -h has
// no .It entry on its page, when a subcommand has no Cm on the page, or
// when a page's .It entry names a flag the binary does not have.
func TestPagesDocumentEveryFlag(t *testing.T) {
	for _, c := range commands(t) {
		t.Run(c.name, func(t *testing.T) {
			page := readFile(t, "man/"+c.page)
			documented := itFlags(page)
			real := map[string]bool{"h": true, "help": true}
			for _, args := range c.helps {
				for _, f := range flags(t, help(t, c.name, args...)) {
					real[f] = true
					if !documented[f] {
						t.Errorf("%s %s: flag -%s is not documented in man/%s (an .It line with Fl %s)", c.name, strings.Join(args[:len(args)-1], " "), f, c.page, f)
					}
				}
			}
			for f := range documented {
				if !real[f] {
					t.Errorf("man/%s documents -%s, which %s does not have", c.page, f, c.name)
				}
			}
			for _, s := range c.subs {
				if !regexp.MustCompile(`(?m)^\.It Cm ` + s + `\b`).MatchString(page) {
					t.Errorf("man/%s: subcommand %q has no .It Cm %s entry", c.page, s, s)
				}
			}
		})
	}
}

// keysSection returns the words of the KEYS section of ndhc.conf(5)'s
// literal block that follows the line naming prog.
func keysSection(t *testing.T, page, prog string) []string {
	t.Helper()
	_, keys, ok := strings.Cut(page, "\n.Sh KEYS\n")
	if !ok {
		t.Fatal("ndhc.conf.5 has no KEYS section")
	}
	keys, _, _ = strings.Cut(keys, "\n.Sh ")
	_, block, ok := strings.Cut(keys, ".Xr "+prog+" 8 ,")
	if !ok {
		t.Fatalf("ndhc.conf.5 KEYS: no paragraph for %s", prog)
	}
	_, block, _ = strings.Cut(block, ".Bd -literal")
	block, _, _ = strings.Cut(block, ".Ed")
	_, block, _ = strings.Cut(block, "\n")
	return strings.Fields(block)
}

// TestConfKeys checks that ndhc.conf(5) lists, for ndhc and ifchd, every
// long flag but config, and nothing else: the keys of a file.
func TestConfKeys(t *testing.T) {
	page := readFile(t, "man/ndhc.conf.5")
	for _, c := range []struct {
		prog string
		args []string
	}{{"ndhc", []string{"-i", "lo", "-h"}}, {"ifchd", []string{"-h"}}} {
		var want []string
		for _, f := range flags(t, help(t, c.prog, c.args...)) {
			if len(f) > 1 && f != "config" {
				want = append(want, f)
			}
		}
		got := keysSection(t, page, c.prog)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("ndhc.conf.5 keys of %s:\n got %v\nwant %v", c.prog, got, want)
		}
	}
}

// TestMandocLint runs mandoc -Tlint -Wwarning on every page (make man-lint
// does the same): a warning fails.
func TestMandocLint(t *testing.T) {
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		t.Skip("mandoc is not installed (apt-get install mandoc; make man-lint runs it too)")
	}
	pages, _ := filepath.Glob(filepath.Join(root, "man", "*.[1-8]"))
	if len(pages) != 5 {
		t.Fatalf("want 5 pages in man/, found %v", pages)
	}
	for _, p := range pages {
		out, err := exec.Command(mandoc, "-Tlint", "-Wwarning", p).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("mandoc -Tlint -Wwarning %s: %v\n%s", p, err, out)
		}
		// The page's .Dt names the file.
		base := filepath.Base(p)
		name, sec := strings.TrimSuffix(base, filepath.Ext(base)), strings.TrimPrefix(filepath.Ext(base), ".")
		dt := ".Dt " + strings.ToUpper(name) + " " + sec + "\n"
		if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte(dt)) {
			t.Errorf("%s: no %q", p, strings.TrimSpace(dt))
		}
	}
}

// TestSharedKnobs: ifchd runs the same ifch role as ndhc, so a knob of
// the role has one name in both: an operator moving a setting from an
// ndhc instance to ifchd (or back) renames nothing. The list is the ifch
// policy's knobs and the sandbox's; a flag renamed in one binary only
// fails here.
func TestSharedKnobs(t *testing.T) {
	ndhc := flags(t, help(t, "ndhc", "-i", "lo", "-h"))
	ifchd := flags(t, help(t, "ifchd", "-h"))
	for _, knob := range []string{
		"allow-degraded-sandbox", "allow-link-local", "allow-offlink-router", "classless-routes", "config",
		"empty-dir", "ifch-user", "log-format", "log-level", "min-prefix", "min-route-prefix",
		"mtu-floor", "resolv-conf", "route-metric",
	} {
		if !slices.Contains(ndhc, knob) || !slices.Contains(ifchd, knob) {
			t.Errorf("-%s: ndhc has it %v, ifchd %v", knob, slices.Contains(ndhc, knob), slices.Contains(ifchd, knob))
		}
	}
}
