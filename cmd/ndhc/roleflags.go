package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
)

// roleFlags are the flags, shared by the client, policy and audit
// commands, that change the role policies: who each role runs as, where
// the chroots are, and which sandbox layers may be missing.
type roleFlags struct {
	settings *roles.Settings
	users    map[string]*string
	layers   string
	degrade  []string
}

func addRoleFlags(fs *flag.FlagSet) *roleFlags {
	r := &roleFlags{settings: roles.DefaultSettings(), users: map[string]*string{}}
	for _, role := range roles.All {
		r.users[role.Name] = fs.String(role.Name+"-user", r.settings.Users[role.Name], "user (name or uid) the "+role.Name+" role runs as; its group has the same name")
	}
	fs.StringVar(&r.settings.StateDir, "state-dir", r.settings.StateDir, "state directory: the engine's chroot, owned by the engine user")
	fs.StringVar(&r.settings.EmptyDir, "empty-dir", r.settings.EmptyDir, "empty root-owned directory: the chroot of the other roles")
	fs.StringVar(&r.settings.BusSocket, "dbus-socket", r.settings.BusSocket, "system bus socket the dns role connects to with --dns resolved; its directory is the role's chroot")
	fs.StringVar(&r.layers, "allow-degraded-sandbox", "", "comma-separated sandbox layers that may be missing (landlock, seccomp); logged loudly")
	return r
}

// parse applies the parsed flags to the settings.
func (r *roleFlags) parse() error {
	for name, u := range r.users {
		r.settings.Users[name] = *u
	}
	if !filepath.IsAbs(r.settings.BusSocket) || filepath.Dir(r.settings.BusSocket) == "/" {
		return fmt.Errorf("dbus-socket %q: want an absolute path in a directory other than /", r.settings.BusSocket)
	}
	var err error
	r.degrade, err = sandbox.ParseLayers(r.layers)
	return err
}
