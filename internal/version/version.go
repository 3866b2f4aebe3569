// Package version tells which build of the project a binary is: its
// release version, the commit and commit time it was built from, whether
// the tree had changes, and the Go toolchain, platform and cgo setting.
// Every command (ndhc, ifchd, netlogind, netlogind-session, netlogin)
// prints it for "version" and "--version".
//
// Where each value comes from, first found wins:
//
//   - version: the -X value the Makefile sets (git describe --tags
//     --match 'v*', or the VERSION file of a release tarball); the main
//     module's version when built with "go install ...@vX.Y.Z"; else
//     "devel".
//   - commit, commit time, dirty: the vcs.* settings the go command
//     stamps when it builds inside a git checkout; else the -X values
//     (a tarball has no .git: the Makefile reads its VERSION file).
//   - Go version, GOOS/GOARCH: the runtime; cgo: the CGO_ENABLED build
//     setting.
//
// The Makefile sets, with -ldflags:
//
//	-X github.com/ndhc-go/ndhc/internal/version.version=v0.1.0
//	-X github.com/ndhc-go/ndhc/internal/version.commit=<40 hex digits>
//	-X github.com/ndhc-go/ndhc/internal/version.commitTime=<RFC 3339, UTC>
//	-X github.com/ndhc-go/ndhc/internal/version.dirty=true|false
package version

import (
	"encoding/json"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Set by the linker (-ldflags -X); empty when not set.
var (
	version    string
	commit     string
	commitTime string
	dirty      string
)

// Devel is the version of a build that names none.
const Devel = "devel"

// Info is what a binary knows of its own build. Its JSON form is what
// "ndhc version --json" prints.
type Info struct {
	Program    string `json:"program"`
	Version    string `json:"version"`
	Commit     string `json:"commit"`      // full hash, "" when unknown
	CommitTime string `json:"commit_time"` // RFC 3339 in UTC, "" when unknown
	Dirty      bool   `json:"dirty"`       // built from a tree with uncommitted changes
	Go         string `json:"go"`          // runtime.Version()
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CGO        bool   `json:"cgo"`
}

// stamped are the linker-set values, as one value for resolve.
type stamped struct {
	version, commit, commitTime, dirty string
}

// Get returns the build information of the running binary, for program.
func Get(program string) Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(program, stamped{version, commit, commitTime, dirty}, bi)
}

// semver is the shape of a version: "devel", or v MAJOR.MINOR.PATCH with
// an optional pre-release and build part (git describe's
// v0.1.0-3-g0123abc and v0.1.0-dirty are pre-releases in this sense).
// The patterns are compiled on first use, not at package initialisation:
// every process of every command links this package, and compiling them
// cost each one about half a millisecond and 60 kB of heap at start.
var semver = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
})

// Valid reports whether v is "devel" or a semantic version with a v.
func Valid(v string) bool {
	return v == Devel || semver().MatchString(v)
}

func resolve(program string, s stamped, bi *debug.BuildInfo) Info {
	in := Info{
		Program: program,
		Version: Devel,
		Go:      runtime.Version(),
		GOOS:    runtime.GOOS,
		GOARCH:  runtime.GOARCH,
	}
	settings := map[string]string{}
	if bi != nil {
		for _, kv := range bi.Settings {
			settings[kv.Key] = kv.Value
		}
		if bi.GoVersion != "" {
			in.Go = bi.GoVersion
		}
	}
	switch {
	case s.version != "" && Valid(s.version):
		in.Version = s.version
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" && Valid(bi.Main.Version):
		in.Version = bi.Main.Version
	}
	if rev := settings["vcs.revision"]; rev != "" {
		in.Commit = rev
		in.CommitTime = settings["vcs.time"]
		in.Dirty = settings["vcs.modified"] == "true"
	} else {
		in.Commit = s.commit
		in.CommitTime = s.commitTime
		in.Dirty = s.dirty == "true"
	}
	if in.CommitTime != "" {
		if t, err := time.Parse(time.RFC3339, in.CommitTime); err == nil {
			in.CommitTime = t.UTC().Format(time.RFC3339)
		} else {
			in.CommitTime = ""
		}
	}
	if !hexCommit().MatchString(in.Commit) {
		in.Commit = ""
	}
	if v, ok := settings["CGO_ENABLED"]; ok {
		in.CGO = v == "1"
	}
	return in
}

var hexCommit = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{7,64}$`) })

// String is the one line "PROGRAM --version" prints:
//
//	ndhc v0.1.0 commit 0c00054abcde 2026-11-29T12:00:00Z go1.26.8 linux/amd64 cgo=0
//
// with " dirty" after the commit time when the tree had changes, and
// "commit unknown" when the build carries none.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", in.Program, in.Version)
	if in.Commit == "" {
		b.WriteString(" commit unknown")
	} else {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		fmt.Fprintf(&b, " commit %s", c)
		if in.CommitTime != "" {
			fmt.Fprintf(&b, " %s", in.CommitTime)
		}
	}
	if in.Dirty {
		b.WriteString(" dirty")
	}
	cgo := 0
	if in.CGO {
		cgo = 1
	}
	fmt.Fprintf(&b, " %s %s/%s cgo=%d", in.Go, in.GOOS, in.GOARCH, cgo)
	return b.String()
}

// JSON is Info as one line of JSON with a newline.
func (in Info) JSON() []byte {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err) // Info has only strings and bools
	}
	return append(b, '\n')
}

// IsFlag reports whether arg asks for the version: "version",
// "-version" or "--version".
func IsFlag(arg string) bool {
	return arg == "version" || arg == "-version" || arg == "--version"
}
