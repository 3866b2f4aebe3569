package manuals

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// complete sources a bash completion file, calls fn as bash would for the
// command line words (the last one is the word being completed) and
// returns COMPREPLY, sorted.
func complete(t *testing.T, file, fn string, words ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	const script = `source "$1" || exit 1; fn=$2; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
"$fn" || exit 1
printf '%s\n' "${COMPREPLY[@]}"`
	args := append([]string{"--norc", "--noprofile", "-c", script, "bash", filepath.Join(root, "contrib/completion", file), fn}, words...)
	out, err := exec.Command(bash, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", fn, words, err)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	return got
}

// TestBashCompletesEveryFlag: for each binary and subcommand, completing
// "-" offers every flag -h lists (with one dash or two).
func TestBashCompletesEveryFlag(t *testing.T) {
	files := map[string]string{"ndhc": "ndhc.bash", "ifchd": "ndhc.bash", "netlogind": "netlogin.bash", "netlogin": "netlogin.bash"}
	for _, c := range commands(t) {
		for _, args := range c.helps {
			words := append([]string{c.name}, args[:len(args)-1]...)
			if c.name == "ndhc" && words[1] == "-i" {
				words = words[:1] // the client's flags: "ndhc -"
			}
			got := complete(t, files[c.name], "_"+c.name, append(words, "-")...)
			for _, f := range flags(t, help(t, c.name, args...)) {
				if !slices.Contains(got, "-"+f) && !slices.Contains(got, "--"+f) {
					t.Errorf("bash: %s offers no -%s (offered %v)", strings.Join(append(words, "-"), " "), f, got)
				}
			}
		}
	}
}

func TestBashCompletesWords(t *testing.T) {
	roleLine := regexp.MustCompile(`ROLE is one of ([a-z, ]+)\.`).FindStringSubmatch(help(t, "ndhc", "policy", "-h"))
	if roleLine == nil {
		t.Fatal("ndhc policy -h names no roles")
	}
	roles := strings.Split(roleLine[1], ", ")
	sort.Strings(roles)
	subs := subcommands(help(t, "ndhc", "-h"), "ndhc")
	sort.Strings(subs)

	for _, tc := range []struct {
		file, fn string
		words    []string
		want     []string
	}{
		{"ndhc.bash", "_ndhc", []string{"ndhc", ""}, subs},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "policy", ""}, roles},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "audit", "sockd", ""}, roles},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "--arp-mode", ""}, []string{"fast", "off", "rfc5227"}},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "-classless-routes", "no"}, []string{"no-default"}},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "--log-format", "=", "j"}, []string{"journal", "json"}},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "-i", "eth0", "--timeout", ""}, nil},
		{"ndhc.bash", "_ndhc", []string{"ndhc", "version", ""}, nil},
		{"ndhc.bash", "_ifchd", []string{"ifchd", "--log-level", "w"}, []string{"warn"}},
		{"netlogin.bash", "_netlogind", []string{"netlogind", ""}, []string{"audit", "policy", "version"}},
		{"netlogin.bash", "_netlogind", []string{"netlogind", "-degrade", "l"}, []string{"landlock", "landlock,seccomp"}},
		{"netlogin.bash", "_netlogin", []string{"netlogin", ""}, []string{"keygen"}},
		{"netlogin.bash", "_netlogin", []string{"netlogin", "-connect", ""}, nil},
	} {
		got := complete(t, tc.file, tc.fn, tc.words...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: got %q, want %q", tc.fn, tc.words, got, tc.want)
		}
	}

	// -i offers the interfaces of /sys/class/net.
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil || len(ents) == 0 {
		t.Skipf("no /sys/class/net to complete from: %v", err)
	}
	var ifaces []string
	for _, e := range ents {
		ifaces = append(ifaces, e.Name())
	}
	sort.Strings(ifaces)
	for _, words := range [][]string{{"ndhc", "-i", ""}, {"ndhc", "--interface", ""}, {"ndhc", "status", "-i", ""}} {
		if got := complete(t, "ndhc.bash", "_ndhc", words...); !slices.Equal(got, ifaces) {
			t.Errorf("_ndhc %q: got %q, want the interfaces %q", words, got, ifaces)
		}
	}
}

// TestZshCompletion checks the zsh files' syntax (zsh -n) and that each
// names every flag of its binaries.
func TestZshCompletion(t *testing.T) {
	files := map[string]string{"ndhc": "_ndhc", "ifchd": "_ndhc", "netlogind": "_netlogin", "netlogin": "_netlogin"}
	for _, c := range commands(t) {
		text := readFile(t, "contrib/completion/"+files[c.name])
		for _, args := range c.helps {
			for _, f := range flags(t, help(t, c.name, args...)) {
				// '--name=[', '*-c=[', {-i,--interface}: a quote, brace, comma,
				// parenthesis or star, one or two dashes, the name, then [ = , or }.
				re := regexp.MustCompile(`['{,)*]--?` + regexp.QuoteMeta(f) + `[\[=,}]`)
				if !re.MatchString(text) {
					t.Errorf("zsh %s: %s %s: no -%s", files[c.name], c.name, strings.Join(args, " "), f)
				}
			}
		}
	}
	// The role names are ndhc policy -h's.
	roleLine := regexp.MustCompile(`ROLE is one of ([a-z, ]+)\.`).FindStringSubmatch(help(t, "ndhc", "policy", "-h"))
	zshRoles := regexp.MustCompile(`(?m)^roles=\(([a-z ]+)\)$`).FindStringSubmatch(readFile(t, "contrib/completion/_ndhc"))
	if roleLine == nil || zshRoles == nil {
		t.Fatalf("no role list: ndhc policy -h %q, _ndhc %q", roleLine, zshRoles)
	}
	want, got := strings.Split(roleLine[1], ", "), strings.Fields(zshRoles[1])
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("zsh _ndhc roles %q, ndhc policy -h says %q", got, want)
	}
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed: syntax not checked (apt-get install zsh)")
	}
	for _, f := range []string{"_ndhc", "_netlogin"} {
		if out, err := exec.Command(zsh, "-n", filepath.Join(root, "contrib/completion", f)).CombinedOutput(); err != nil {
			t.Errorf("zsh -n %s: %v\n%s", f, err, out)
		}
	}
}

// zshOffers runs a zsh completion function as compinit would (its file's
// body as a function, with service, words and CURRENT set), with
// _arguments and _describe replaced by stubs that print what they were
// given. It returns the stub called and its specs: for _arguments each
// option spec, for _describe each "name:description".
func zshOffers(t *testing.T, zsh, file, service string, words ...string) (string, []string) {
	t.Helper()
	const script = `file=$1 service=$2; shift 2
words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
_arguments() { print -rl -- _arguments "$@" }
_describe() { print -rl -- _describe "${(@P)4}" }
eval "_f() { $(<$file) }"
_f`
	args := append([]string{"-f", "-c", script, "zsh", filepath.Join(root, "contrib/completion", file), service}, words...)
	out, err := exec.Command(zsh, args...).Output()
	if err != nil {
		t.Fatalf("zsh %s %q: %v", file, words, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[0], lines[1:]
}

// zshSpec matches an _arguments spec for a flag: an optional exclusion
// list and star, one or two dashes, the name, then [ or =.
var zshSpec = regexp.MustCompile(`^(?:\([^)]*\))?\*?--?([A-Za-z0-9][A-Za-z0-9-]*)[\[=]`)

// TestZshCompletesEveryFlag runs each zsh completion in every command
// context and checks it offers the subcommands, and every flag -h lists
// in that context.
func TestZshCompletesEveryFlag(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed (apt-get install zsh)")
	}
	files := map[string]string{"ndhc": "_ndhc", "ifchd": "_ndhc", "netlogind": "_netlogin", "netlogin": "_netlogin"}
	for _, c := range commands(t) {
		if len(c.subs) > 0 {
			stub, specs := zshOffers(t, zsh, files[c.name], c.name, c.name, "")
			var names []string
			for _, s := range specs {
				name, _, _ := strings.Cut(s, ":")
				names = append(names, name)
			}
			if stub != "_describe" || !slices.Equal(names, c.subs) {
				t.Errorf("zsh %s: %s offers %s %q, want the subcommands %q", files[c.name], c.name, stub, names, c.subs)
			}
		}
		for _, args := range c.helps {
			words := append([]string{c.name}, args[:len(args)-1]...)
			if c.name == "ndhc" && words[1] == "-i" {
				words = words[:1]
			}
			stub, specs := zshOffers(t, zsh, files[c.name], c.name, append(words, "-")...)
			offered := map[string]bool{}
			for _, s := range specs {
				if m := zshSpec.FindStringSubmatch(s); m != nil {
					offered[m[1]] = true
				}
			}
			for _, f := range flags(t, help(t, c.name, args...)) {
				if stub != "_arguments" || !offered[f] {
					t.Errorf("zsh %s: %s offers no -%s (%s %q)", files[c.name], strings.Join(append(words, "-"), " "), f, stub, specs)
				}
			}
		}
	}
}
