//go:build linux

package hook

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// CheckPath checks, as sshd's StrictModes does, that the hook at path can
// be changed by no one but root and the hook's user uid: an absolute path
// to a regular executable file; the file, and every directory from it up
// to /, owned by root or uid and not writable by group or others (a
// directory with the sticky bit, such as /tmp, may be: its entries can be
// renamed or removed by their owners only, and the next component is
// checked too). Symbolic links are followed and their targets checked.
// It returns the resolved path, which is what runs.
func CheckPath(path string, uid uint32) (string, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return "", fmt.Errorf("hook %q: want an absolute, clean path", path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("hook %q: %w", path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("hook %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("hook %q: %s is not a regular file", path, real)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("hook %q: %s is not executable", path, real)
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("hook %q: %w", path, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return "", fmt.Errorf("hook %q: no owner for %s", path, p)
		}
		if st.Uid != 0 && st.Uid != uid {
			return "", fmt.Errorf("hook %q: %s is owned by uid %d: want root or the hook user (uid %d)", path, p, st.Uid, uid)
		}
		sticky := fi.IsDir() && fi.Mode()&os.ModeSticky != 0
		if fi.Mode().Perm()&0o022 != 0 && !sticky {
			return "", fmt.Errorf("hook %q: %s is writable by group or others (mode %#o)", path, p, fi.Mode().Perm())
		}
		if p == "/" {
			return real, nil
		}
	}
}
