//go:build linux

package roles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	// StateDir is the state directory: one directory per interface in
	// it is the chroot of that interface's engine (see PrepareInstance).
	StateDir string
	// EmptyDir is the chroot of every other role: empty and root-owned.
	EmptyDir string
	// BusSocket is the system bus's socket (--dbus-socket): the dns
	// role's chroot is its directory.
	BusSocket string

	// engineRoot is the engine's chroot once PrepareInstance or
	// PrepareAudit chose it.
	engineRoot string
	// auditing: PrepareAudit ran (see busChroot).
	auditing bool
}

// DefaultSettings are the users of the policies and the default
// directories.
func DefaultSettings() *Settings {
	s := &Settings{Users: map[string]string{}, StateDir: policies.StateDir, EmptyDir: policies.EmptyDir, BusSocket: policies.BusSocket}
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
		p.Chroot = s.engineRoot
		if p.Chroot == "" {
			p.Chroot = filepath.Join(s.StateDir, "IFACE")
		}
	} else if p.Chroot == policies.BusDir {
		p.Chroot, p.Landlock.ConnectUnix = s.busChroot()
	} else if p.Chroot != policies.HookRoot {
		// The hook role keeps the real root: its programs are the
		// operator's and reach what their user may.
		p.Chroot = s.EmptyDir
	}
	return p, p.Validate()
}

// prepareEmpty creates the chroot of the roles other than the engine:
// root-owned, mode 0755, empty.
func (s *Settings) prepareEmpty() error {
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
	return nil
}

// engineIDs resolves the engine's user and group.
func (s *Settings) engineIDs() (uint32, uint32, error) {
	eng, err := s.Policy(Engine)
	if err != nil {
		return 0, 0, err
	}
	uid, gid, err := sandbox.ResolveIDs(eng.User, eng.Group)
	if err != nil {
		return 0, 0, fmt.Errorf("%w (create the users with `make install-users`, or name existing ones with --engine-user and friends)", err)
	}
	return uid, gid, nil
}

// PrepareAudit creates the directories the audit's probes enter: the
// empty directory, and for the engine a fresh directory laid out as its
// interface's directory is (the state directory is not touched). The returned function removes it.
func (s *Settings) PrepareAudit() (func(), error) {
	if err := s.prepareEmpty(); err != nil {
		return nil, err
	}
	uid, gid, err := s.engineIDs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(s.EmptyDir), "audit-engine-")
	if err != nil {
		return nil, err
	}
	if err := errors.Join(os.Chmod(dir, 0o755), engineFiles(dir, uid, gid)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.engineRoot, s.auditing = dir, true
	return func() { os.RemoveAll(dir) }, nil
}

// busChroot is the dns role's chroot, the bus socket's directory, and the
// socket's path inside it. The audit, which connects to no bus, uses the
// empty directory where the bus directory does not exist.
func (s *Settings) busChroot() (string, []string) {
	dir, base := filepath.Split(s.BusSocket)
	dir = filepath.Clean(dir)
	if s.auditing {
		if _, err := os.Stat(dir); err != nil {
			dir = s.EmptyDir
		}
	}
	return dir, []string{"/" + base}
}

// BusSocketInChroot is the path the dns role connects to once chrooted.
func (s *Settings) BusSocketInChroot() string { return "/" + filepath.Base(s.BusSocket) }
