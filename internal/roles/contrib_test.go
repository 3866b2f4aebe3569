//go:build linux

package roles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/policies"
)

// confLines returns the fields of each directive of a sysusers.d or
// tmpfiles.d file in contrib/, without comments and blank lines. Quoted
// fields (sysusers' GECOS) count as one.
func confLines(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contrib", path))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var fields []string
		for line != "" {
			line = strings.TrimLeft(line, " \t")
			if strings.HasPrefix(line, `"`) {
				end := strings.Index(line[1:], `"`)
				if end < 0 {
					t.Fatalf("%s: unterminated quote in %q", path, line)
				}
				fields = append(fields, line[1:end+1])
				line = line[end+2:]
				continue
			}
			f, rest, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
			fields = append(fields, f)
			line = rest
		}
		out = append(out, fields)
	}
	return out
}

// The sysusers.d file that the package and `make install-users` apply
// creates exactly the role table's default users, as system users that
// cannot log in.
func TestSysusersMatchesRoles(t *testing.T) {
	var got []string
	for _, f := range confLines(t, "sysusers.d/ndhc.conf") {
		if len(f) != 6 || f[0] != "u" {
			t.Errorf("sysusers.d/ndhc.conf: %q: want u NAME - GECOS HOME SHELL", f)
			continue
		}
		if f[2] != "-" || f[4] != "/nonexistent" || f[5] != "/usr/sbin/nologin" {
			t.Errorf("sysusers.d/ndhc.conf: %q: want a dynamic id, home /nonexistent, shell /usr/sbin/nologin", f)
		}
		got = append(got, f[1])
	}
	want := DefaultUsers()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sysusers.d/ndhc.conf creates %q; the roles run as %q", got, want)
	}
	// Every role's group is its user's own group, which sysusers' "u"
	// creates with it.
	s := DefaultSettings()
	for _, r := range All {
		p, err := s.Policy(r.Name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Group != p.User {
			t.Errorf("role %s: group %q is not its user's (%q): sysusers.d/ndhc.conf creates no such group", r.Name, p.Group, p.User)
		}
	}
	if l := confLines(t, "sysusers.d/netlogind.conf"); len(l) != 0 {
		t.Errorf("sysusers.d/netlogind.conf: %q: netlogind's [net] uids must stay unallocated", l)
	}
}

// The tmpfiles.d files create the directories the daemons check at
// start-up, with the owner and mode they accept.
func TestTmpfilesMatchDirectories(t *testing.T) {
	for file, dirs := range map[string][]string{
		"tmpfiles.d/ndhc.conf":      {policies.StateDir, filepath.Dir(policies.EmptyDir), policies.EmptyDir},
		"tmpfiles.d/netlogind.conf": {filepath.Dir(policies.NetloginEmptyDir), policies.NetloginEmptyDir},
	} {
		got := map[string][]string{}
		for _, f := range confLines(t, file) {
			if len(f) < 2 {
				t.Errorf("%s: %q", file, f)
				continue
			}
			got[f[1]] = f
		}
		for _, d := range dirs {
			f, ok := got[d]
			if !ok {
				t.Errorf("%s: no line for %s", file, d)
				continue
			}
			if want := []string{"d", d, "0755", "root", "root", "-"}; !slices.Equal(f, want) {
				t.Errorf("%s: %q, want %q", file, f, want)
			}
			delete(got, d)
		}
		for _, f := range got {
			t.Errorf("%s: %q: a directory no daemon uses", file, f)
		}
	}
}
