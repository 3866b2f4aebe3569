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
