//go:build linux

package roles

import (
	"fmt"
	"os"

	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Settings are the parts of the role policies an operator may change: who
// each role runs as and where the chroots are. The zero value is not
// usable: start from DefaultSettings.
type Settings struct {
	// Users maps a role to the user (name or number) it runs as; its
	// group has the same name.
	Users map[string]string
	// StateDir is the engine's chroot, owned by the engine's user.
	StateDir string
	// EmptyDir is the chroot of every other role: empty and root-owned.
	EmptyDir string
}

// DefaultSettings are the users of the policies and the default
// directories.
func DefaultSettings() *Settings {
	s := &Settings{Users: map[string]string{}, StateDir: policies.StateDir, EmptyDir: policies.EmptyDir}
	for _, r := range All {
		s.Users[r.Name] = r.Policy().User
	}
	return s
}

// DefaultUsers lists the default user of every role, in table order: the
// system users `make install-users` creates.
func DefaultUsers() []string {
	var out []string
	for _, r := range All {
		out = append(out, r.Policy().User)
	}
	return out
}

// Policy returns the named role's policy with the settings applied.
func (s *Settings) Policy(name string) (sandbox.Policy, error) {
	r, ok := ByName(name)
	if !ok {
		return sandbox.Policy{}, fmt.Errorf("unknown role %q", name)
	}
	p := r.Policy()
	if u := s.Users[name]; u != "" {
		p.User, p.Group = u, u
	}
	if p.Chroot == policies.StateDir {
		p.Chroot = s.StateDir
	} else {
		p.Chroot = s.EmptyDir
	}
	return p, p.Validate()
}

// PrepareDirs creates the chroot directories as the supervisor needs
// them: the empty directory root-owned and empty, the state directory
// owned by the engine's user with mode 0700.
func (s *Settings) PrepareDirs() error {
	if err := os.MkdirAll(s.EmptyDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(s.EmptyDir, 0o755); err != nil {
		return err
	}
	if ents, err := os.ReadDir(s.EmptyDir); err != nil {
		return err
	} else if len(ents) > 0 {
		return fmt.Errorf("%s must be empty: it is the root of sandboxed roles", s.EmptyDir)
	}
	eng, err := s.Policy(Engine)
	if err != nil {
		return err
	}
	uid, gid, err := sandbox.ResolveIDs(eng.User, eng.Group)
	if err != nil {
		return fmt.Errorf("%w (create the users with `make install-users`, or name existing ones with --engine-user and friends)", err)
	}
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(s.StateDir, int(uid), int(gid)); err != nil {
		return err
	}
	return os.Chmod(s.StateDir, 0o700)
}
