package session

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Account is the user a session runs commands as.
type Account struct {
	Name string
	Uid  uint32
	Gid  uint32
	// Groups are the supplementary groups, the primary group included
	// (what initgroups would set).
	Groups []uint32
	Home   string
	// Shell is the login shell; /bin/sh when the entry has none.
	Shell string
}

// fallbackShell runs commands for accounts whose passwd entry names no
// shell, as login(1) does.
const fallbackShell = "/bin/sh"

// LookupAccount resolves name through the system's user database
// (os/user), and the login shell from /etc/passwd, which os/user does not
// report; an account found only through another NSS source gets /bin/sh.
func LookupAccount(name string) (*Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("session: account %s: %w", name, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("session: groups of %s: %w", name, err)
	}
	a := &Account{Name: u.Username, Uid: uint32(uid), Gid: uint32(gid), Home: u.HomeDir}
	for _, s := range ids {
		g, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("session: group %q of %s: %w", s, name, err)
		}
		a.Groups = append(a.Groups, uint32(g))
	}
	a.Shell = passwdShell("/etc/passwd", name)
	return a, nil
}

// passwdShell returns the seventh field of name's line in the passwd file
// at path, or fallbackShell when there is none or it is not absolute.
func passwdShell(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return fallbackShell
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name {
			if filepath.IsAbs(fields[6]) {
				return fields[6]
			}
			return fallbackShell
		}
	}
	return fallbackShell
}

// Host is what a login changes in the [session] process itself; the
// system's ([SystemHost]) needs root, tests use a fake.
type Host interface {
	// Prepare runs after authentication and before PAM's session phase,
	// on the PAM thread: the audit login uid and the supplementary
	// groups, so that what the session modules add to the groups stays.
	Prepare(a *Account) error
	// Groups returns the supplementary groups commands get, after PAM's
	// session phase.
	Groups(a *Account) ([]uint32, error)
}

// SystemHost is the real [Host].
type SystemHost struct{}

// Prepare writes a.Uid to the calling thread's loginuid (the audit login
// uid lives in the task, and commands are forked from this thread) and sets
// the process's supplementary groups to a's. A kernel without audit has no
// loginuid file; that is not an error.
func (SystemHost) Prepare(a *Account) error {
	err := os.WriteFile("/proc/thread-self/loginuid", []byte(strconv.FormatUint(uint64(a.Uid), 10)), 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("session: loginuid: %w", err)
	}
	gids := make([]int, len(a.Groups))
	for i, g := range a.Groups {
		gids[i] = int(g)
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("session: setgroups: %w", err)
	}
	return nil
}

// Groups reads the groups back: the user's, plus any a session module
// (pam_group) added.
func (SystemHost) Groups(a *Account) ([]uint32, error) {
	gs, err := syscall.Getgroups()
	if err != nil {
		return nil, fmt.Errorf("session: getgroups: %w", err)
	}
	out := make([]uint32, len(gs))
	for i, g := range gs {
		out[i] = uint32(g)
	}
	return out, nil
}
