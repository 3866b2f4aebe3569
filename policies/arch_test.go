//go:build linux

package policies

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestArchitectures: every role's allowlist names only system calls the
// architecture has, for each architecture the project supports, as the
// policies are built there. A name of another architecture's table
// (newfstatat on arm64) would make the role fail to start.
func TestArchitectures(t *testing.T) {
	tables := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	defer func(g string) { goarch = g }(goarch)
	for _, ga := range Architectures {
		info, err := arch.GetInfo(tables[ga])
		if err != nil {
			t.Fatalf("%s: %v", ga, err)
		}
		goarch = ga
		for _, p := range append(All(), Ifchd()) {
			for _, s := range p.Seccomp {
				if _, ok := info.SyscallNames[s.Name]; !ok {
					t.Errorf("%s: role %s allows %s, which %s does not have", ga, p.Role, s.Name, ga)
				}
			}
		}
	}
}
