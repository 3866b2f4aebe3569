//go:build linux

package roles

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/engine"
)

// The state directory (StateDir) belongs to ndhc and root:
//
//	StateDir/            root, 0755
//	  duid               root, 0644: the host's DUID-UUID, shared by every
//	                     interface (RFC 4361 section 6.1), read by the
//	                     supervisor and handed to the engine
//	  IFACE.lock         root: held (flock) by the instance serving IFACE
//	  IFACE/             the engine's user, 0700: that engine's chroot,
//	                     holding its lease and IAID and nothing else
//
// So an engine reaches only its own interface's files: not another's
// lease or IAID, not the DUID, and it cannot fill the directory of
// another instance. A directory that holds anything else is not ndhc's
// and is refused, never taken over.

// DUIDFile is the name of the DUID in the state directory.
const DUIDFile = "duid"

// Instance is what one client instance holds in the state directory.
type Instance struct {
	// Dir is the engine's directory.
	Dir string
	// DUID is the host's DUID.
	DUID []byte
	lock *os.File
}

// Close releases the instance's lock.
func (i *Instance) Close() error { return i.lock.Close() }

// errForeign reports a state directory that is not ndhc's.
func errForeign(dir, why string) error {
	return fmt.Errorf("%s is not a dedicated ndhc state directory (%s); name an empty or new directory with --state-dir", dir, why)
}

// PrepareInstance makes the state directory ready for a client on iface:
// it checks that the directory is ndhc's, takes the interface's lock (a
// second instance on the same interface is refused), creates the
// engine's directory, and loads or creates the DUID. The caller keeps the
// Instance, and with it the lock, for its whole life.
func (s *Settings) PrepareInstance(iface string) (*Instance, error) {
	if err := s.prepareEmpty(); err != nil {
		return nil, err
	}
	uid, gid, err := s.engineIDs()
	if err != nil {
		return nil, err
	}
	top := s.StateDir
	if err := os.MkdirAll(top, 0o755); err != nil {
		return nil, err
	}
	if err := checkTop(top, uid); err != nil {
		return nil, err
	}
	lock, err := lockInstance(filepath.Join(top, iface+".lock"), lockWait)
	if errors.Is(err, ErrServed) {
		return nil, fmt.Errorf("another ndhc serves %s: %w", iface, err)
	}
	if err != nil {
		return nil, err
	}
	in := &Instance{Dir: filepath.Join(top, iface), lock: lock}
	s.engineRoot = in.Dir
	if err := s.engineDir(in.Dir, iface, uid, gid); err != nil {
		lock.Close()
		return nil, err
	}
	if in.DUID, err = loadDUID(filepath.Join(top, DUIDFile)); err != nil {
		lock.Close()
		return nil, err
	}
	return in, nil
}

// ErrServed is the error of PrepareInstance when another instance holds
// the interface's lock.
var ErrServed = errors.New("held by another process")

// lockWait bounds the wait for a lock that is held only shared. A client
// holds its interface's lock exclusive for its whole life; `ndhc status`
// takes it shared for an instant to learn whether a client runs. A
// client that starts in that instant waits for the probe to end instead
// of taking it for a running client: the kernel matrix caught a daemon
// refused that way, its start racing the status polls of the test.
const lockWait = time.Second

// lockInstance opens the lock file at path and takes it exclusive. Held
// exclusive by another (a running client), it fails at once; held only
// shared (status probes), it tries again until wait has passed. Either
// way the error is ErrServed.
func lockInstance(path string, wait time.Duration) (*os.File, error) {
	lock, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(lock.Fd())
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return lock, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			lock.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		// Who holds it: a shared lock is granted beside shared holders
		// only. Released at once, so that it never stands in the way of
		// another client's exclusive lock for longer than this.
		shared := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == nil
		if shared {
			unix.Flock(fd, unix.LOCK_UN)
		}
		if !shared || time.Now().After(deadline) {
			lock.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrServed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkTop refuses a state directory that is not ndhc's: a link, one
// owned by another user or writable by others, or one holding anything
// but ndhc's files. A directory of the layout before per-interface
// directories (owned by the engine's user, with IFACE.lease, IFACE.iaid
// and duid) is taken back by root; its files move when their interface
// starts.
func checkTop(top string, engineUID uint32) error {
	st, err := os.Lstat(top)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return errForeign(top, "not a directory")
	case sys.Uid != 0 && sys.Uid != engineUID:
		return errForeign(top, fmt.Sprintf("owned by uid %d", sys.Uid))
	case sys.Uid == 0 && st.Mode().Perm()&0o022 != 0:
		return errForeign(top, fmt.Sprintf("mode %04o lets others write", st.Mode().Perm()))
	}
	ents, err := os.ReadDir(top)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !ownEntry(e) {
			return errForeign(top, fmt.Sprintf("it holds %q", e.Name()))
		}
	}
	if sys.Uid != 0 {
		if err := os.Chown(top, 0, 0); err != nil {
			return err
		}
	}
	return os.Chmod(top, 0o755)
}

// ownEntry reports whether e is one of ndhc's files, or one of the
// layout before per-interface directories.
func ownEntry(e fs.DirEntry) bool {
	name := e.Name()
	base, ext, _ := strings.Cut(name, ".")
	switch {
	case e.IsDir():
		return ValidInterfaceName(name)
	case !e.Type().IsRegular():
		return false
	case name == DUIDFile, name == DUIDFile+".tmp":
		return true
	}
	switch ext {
	case "lock", "lease", "iaid", "lease.tmp", "iaid.tmp":
		return ValidInterfaceName(base)
	}
	return false
}

// ValidInterfaceName reports whether name can be a Linux interface name:
// 1 to 15 bytes, no slash, no white space, not "." or "..".
func ValidInterfaceName(name string) bool {
	return name != "" && len(name) < 16 && name != "." && name != ".." && !strings.ContainsAny(name, "/ \t\n\r\x00:")
}

// engineDir creates (or checks) the engine's directory, owned by root
// with mode 0755, creates the engine's files in it, owned by its user
// with mode 0600, and moves the interface's files of the old layouts in
// (a directory owned by the engine's user, files next to the directory).
func (s *Settings) engineDir(dir, iface string, uid, gid uint32) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || (sys.Uid != 0 && sys.Uid != uid) {
		return errForeign(dir, fmt.Sprintf("owned by uid %d", sys.Uid))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch name := e.Name(); {
		case slices.Contains(engine.StateFiles, name) && e.Type().IsRegular():
		case name == engine.LeaseFile+".tmp" || name == engine.IAIDFile+".tmp":
			// An atomic write of the old layout that never finished.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		default:
			return errForeign(dir, fmt.Sprintf("it holds %q", name))
		}
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	top := filepath.Dir(dir)
	for old, now := range map[string]string{iface + ".lease": engine.LeaseFile, iface + ".iaid": engine.IAIDFile} {
		err := os.Rename(filepath.Join(top, old), filepath.Join(dir, now))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return engineFiles(dir, uid, gid)
}

// engineFiles creates the engine's files in dir (engine.StateFiles), or
// checks them: regular files, owned by its user, mode 0600. Files that are
// already so are left alone: a supervisor without CAP_CHOWN, CAP_FOWNER
// and CAP_DAC_READ_SEARCH (the systemd unit's, once `ndhc prepare` has run
// with full privileges before it) can start on them.
func engineFiles(dir string, uid, gid uint32) error {
	for _, name := range engine.StateFiles {
		if engineFileRight(filepath.Join(dir, name), uid, gid) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = errForeign(dir, name+" is not a regular file")
		}
		err = errors.Join(err, f.Chown(int(uid), int(gid)), f.Chmod(0o600), f.Close())
		if err != nil {
			return err
		}
	}
	return nil
}

// engineFileRight reports whether path is a regular file (not a link)
// owned by uid and gid with mode 0600.
func engineFileRight(path string, uid, gid uint32) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		return false
	}
	sys := st.Sys().(*syscall.Stat_t)
	return sys.Uid == uid && sys.Gid == gid
}

// loadDUID reads the DUID, or creates a DUID-UUID (RFC 6355): stable for
// as long as the state directory is, and independent of any interface. A
// malformed file is an error, never silently replaced.
func loadDUID(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 3 || len(b) > 130 {
			return nil, fmt.Errorf("%s: malformed DUID (%d bytes); remove it to create a new one", path, len(b))
		}
		return b, os.Chown(path, 0, 0)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 18)
	binary.BigEndian.PutUint16(b, 4)
	if _, err := rand.Read(b[2:]); err != nil {
		return nil, err
	}
	b[2+6] = b[2+6]&0x0f | 0x40 // UUID version 4
	b[2+8] = b[2+8]&0x3f | 0x80 // RFC 4122 variant
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return nil, err
	}
	return b, os.Rename(tmp, path)
}
