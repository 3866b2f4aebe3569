package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// roleSettings are the parts of the role policies an operator may change:
// who each role runs as and where the chroots are.
type roleSettings struct {
	users    map[string]*string
	stateDir string
	emptyDir string
	degrade  string
}

func newRoleSettings(fs *flag.FlagSet) *roleSettings {
	s := &roleSettings{users: map[string]*string{}}
	for _, r := range []struct{ role, def string }{
		{"supervisor", policies.SupervisorUser},
		{"engine", policies.EngineUser},
		{"sockd", policies.SockdUser},
		{"ifch", policies.IfchUser},
		{"hostname", policies.HostnameUser},
	} {
		s.users[r.role] = fs.String(r.role+"-user", r.def, "user (name or uid) the "+r.role+" role runs as; its group has the same name")
	}
	fs.StringVar(&s.stateDir, "state-dir", policies.StateDir, "state directory: the engine's chroot, owned by the engine user")
	fs.StringVar(&s.emptyDir, "empty-dir", policies.EmptyDir, "empty root-owned directory: the chroot of the other roles")
	fs.StringVar(&s.degrade, "allow-degraded-sandbox", "", "comma-separated sandbox layers that may be missing (landlock, seccomp); logged loudly")
	return s
}

// policy returns the role's policy with the operator's settings applied.
func (s *roleSettings) policy(role string) (sandbox.Policy, error) {
	p, ok := policies.ByRole(role)
	if !ok {
		return p, fmt.Errorf("unknown role %q", role)
	}
	if u := s.users[role]; u != nil {
		p.User, p.Group = *u, *u
	}
	if p.Chroot == policies.StateDir {
		p.Chroot = s.stateDir
	} else {
		p.Chroot = s.emptyDir
	}
	return p, p.Validate()
}

// prepareDirs creates the chroot directories as the supervisor would: the
// empty directory root-owned and empty, the state directory owned by the
// engine user with mode 0700.
func (s *roleSettings) prepareDirs() error {
	if err := os.MkdirAll(s.emptyDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(s.emptyDir, 0o755); err != nil {
		return err
	}
	if ents, err := os.ReadDir(s.emptyDir); err != nil {
		return err
	} else if len(ents) > 0 {
		return fmt.Errorf("%s must be empty: it is the root of sandboxed roles", s.emptyDir)
	}
	eng, err := s.policy("engine")
	if err != nil {
		return err
	}
	uid, gid, err := sandbox.ResolveIDs(eng.User, eng.Group)
	if err != nil {
		return fmt.Errorf("%w (create the users with `make install-users`, or name existing ones with --engine-user and friends)", err)
	}
	if err := os.MkdirAll(s.stateDir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(s.stateDir, int(uid), int(gid)); err != nil {
		return err
	}
	return os.Chmod(s.stateDir, 0o700)
}

func (s *roleSettings) degradeList() ([]string, error) {
	if s.degrade == "" {
		return nil, nil
	}
	var out []string
	for _, d := range strings.FieldsFunc(s.degrade, func(r rune) bool { return r == ',' }) {
		if d != sandbox.LayerLandlock && d != sandbox.LayerSeccomp {
			return nil, errors.New("--allow-degraded-sandbox takes landlock and/or seccomp")
		}
		out = append(out, d)
	}
	return out, nil
}
