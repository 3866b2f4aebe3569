package version

import (
	"encoding/json"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, v := range []string{"devel", "v0.1.0", "v1.22.333", "v0.1.0-dirty", "v0.1.0-3-g0c00054", "v0.1.0-3-g0c00054-dirty", "v1.0.0-rc.1", "v1.0.0+meta.1"} {
		if !Valid(v) {
			t.Errorf("Valid(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"", "0.1.0", "v0.1", "v01.0.0", "v0.1.0-", "v0.1.0 ", "0c00054", "(devel)", "v0.1.0-a_b", "vX.Y.Z"} {
		if Valid(v) {
			t.Errorf("Valid(%q) = true, want false", v)
		}
	}
}

const rev = "0c000549a1b2c3d4e5f60718293a4b5c6d7e8f90"

func settings(kv ...string) []debug.BuildSetting {
	var s []debug.BuildSetting
	for i := 0; i+1 < len(kv); i += 2 {
		s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return s
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		s    stamped
		bi   *debug.BuildInfo
		want Info
	}{
		{
			name: "no build info, nothing stamped",
			want: Info{Version: Devel},
		},
		{
			name: "make in a git checkout: -X version, vcs settings",
			s:    stamped{version: "v0.1.0", commit: "ffffffffffffffffffffffffffffffffffffffff", commitTime: "2000-01-01T00:00:00Z"},
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: settings("CGO_ENABLED", "0", "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-29T12:00:00Z", "vcs.modified", "true")},
			want: Info{Version: "v0.1.0", Commit: rev, CommitTime: "2026-11-29T12:00:00Z", Dirty: true, Go: "go1.26.8"},
		},
		{
			name: "tarball: no vcs settings, the VERSION file's values",
			s:    stamped{version: "v0.2.0", commit: rev, commitTime: "2026-11-29T13:00:00+01:00", dirty: "false"},
			bi:   &debug.BuildInfo{GoVersion: "go1.27.3", Settings: settings("CGO_ENABLED", "1", "-trimpath", "true")},
			want: Info{Version: "v0.2.0", Commit: rev, CommitTime: "2026-11-29T12:00:00Z", Go: "go1.27.3", CGO: true},
		},
		{
			name: "go install @v0.3.1",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/ndhc-go/ndhc", Version: "v0.3.1"}},
			want: Info{Version: "v0.3.1", Go: "go1.26.0"},
		},
		{
			name: "go install of a pseudo-version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261129120000-0c000549a1b2"}},
			want: Info{Version: "v0.1.1-0.20261129120000-0c000549a1b2"},
		},
		{
			name: "a stamped version that is not semver is not printed",
			s:    stamped{version: "0c00054", commit: "not hex", commitTime: "yesterday", dirty: "true"},
			want: Info{Version: Devel, Dirty: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve("ndhc", tt.s, tt.bi)
			want := tt.want
			want.Program = "ndhc"
			if want.Go == "" {
				want.Go = runtime.Version()
			}
			want.GOOS, want.GOARCH = runtime.GOOS, runtime.GOARCH
			if got != want {
				t.Errorf("resolve:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// The one-line form: program, version, commit (12 digits) and time, the
// toolchain, the platform and cgo, in that order.
var line = regexp.MustCompile(`^(\S+) (devel|v\S+) commit ([0-9a-f]{12}|unknown)( \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)?( dirty)? (go\S+) ([a-z0-9]+)/([a-z0-9]+) cgo=([01])$`)

func TestStringShape(t *testing.T) {
	in := Info{Program: "ifchd", Version: "v0.1.0-3-g0c00054-dirty", Commit: rev, CommitTime: "2026-11-29T12:00:00Z", Dirty: true, Go: "go1.26.8", GOOS: "linux", GOARCH: "arm64", CGO: true}
	m := line.FindStringSubmatch(in.String())
	if m == nil {
		t.Fatalf("String() = %q, not of the documented shape", in.String())
	}
	if m[1] != "ifchd" || m[2] != in.Version || m[3] != rev[:12] || m[5] != " dirty" || m[6] != "go1.26.8" || m[8] != "arm64" || m[9] != "1" {
		t.Errorf("String() = %q: fields %q", in.String(), m[1:])
	}
	bare := Info{Program: "ndhc", Version: Devel, Go: "go1.26.8", GOOS: "linux", GOARCH: "amd64"}
	if s := bare.String(); s != "ndhc devel commit unknown go1.26.8 linux/amd64 cgo=0" {
		t.Errorf("String() = %q", s)
	}
	// The running test binary: whatever it knows, the same shape.
	if s := Get("version.test").String(); !line.MatchString(s) {
		t.Errorf("Get().String() = %q, not of the documented shape", s)
	}
}

func TestJSONKeys(t *testing.T) {
	b := Get("ndhc").JSON()
	if !strings.HasSuffix(string(b), "}\n") || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("JSON() = %q, want one line", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"cgo", "commit", "commit_time", "dirty", "go", "goarch", "goos", "program", "version"}
	if !slices.Equal(keys, want) {
		t.Errorf("JSON keys %v, want %v", keys, want)
	}
	for _, k := range []string{"cgo", "dirty"} {
		if _, ok := m[k].(bool); !ok {
			t.Errorf("%s is %T, want a bool", k, m[k])
		}
	}
	if m["program"] != "ndhc" || m["goos"] != runtime.GOOS || m["goarch"] != runtime.GOARCH || m["go"] != runtime.Version() {
		t.Errorf("JSON() = %s", b)
	}
	if v, _ := m["version"].(string); !Valid(v) {
		t.Errorf("version %q is not valid", v)
	}
}

func TestIsFlag(t *testing.T) {
	for _, a := range []string{"version", "-version", "--version"} {
		if !IsFlag(a) {
			t.Errorf("IsFlag(%q) = false", a)
		}
	}
	for _, a := range []string{"", "-v", "--Version", "versions"} {
		if IsFlag(a) {
			t.Errorf("IsFlag(%q) = true", a)
		}
	}
}
