//go:build linux

package roles

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdLock takes path's flock with how (LOCK_SH or LOCK_EX) on an open
// file description of its own, as another process would.
func holdLock(t *testing.T, path string, how int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// A client starting while `ndhc status` probes the lock (shared, for an
// instant) gets the lock once the probe is over; a client that finds
// another client (exclusive) is refused; a shared lock that is never
// released is refused once the wait is over.
func TestLockInstance(t *testing.T) {
	dir := t.TempDir()

	t.Run("free", func(t *testing.T) {
		f, err := lockInstance(filepath.Join(dir, "free.lock"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Held exclusive: nobody else gets even a shared lock.
		other, err := os.Open(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := unix.Flock(int(other.Fd()), unix.LOCK_SH|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
			t.Fatalf("a shared lock beside the instance's: %v, want EWOULDBLOCK", err)
		}
		f.Close()
	})

	t.Run("probe", func(t *testing.T) {
		path := filepath.Join(dir, "probe.lock")
		probe := holdLock(t, path, unix.LOCK_SH)
		go func() {
			time.Sleep(50 * time.Millisecond)
			unix.Flock(int(probe.Fd()), unix.LOCK_UN)
		}()
		f, err := lockInstance(path, 10*time.Second)
		if err != nil {
			t.Fatalf("with a status probe's shared lock released after 50 ms: %v", err)
		}
		f.Close()
	})

	t.Run("served", func(t *testing.T) {
		path := filepath.Join(dir, "served.lock")
		holdLock(t, path, unix.LOCK_EX)
		f, err := lockInstance(path, time.Hour)
		if !errors.Is(err, ErrServed) {
			f.Close()
			t.Fatalf("with another instance's exclusive lock: %v, want ErrServed", err)
		}
	})

	t.Run("shared-forever", func(t *testing.T) {
		path := filepath.Join(dir, "stuck.lock")
		stuck := holdLock(t, path, unix.LOCK_SH)
		f, err := lockInstance(path, 20*time.Millisecond)
		if !errors.Is(err, ErrServed) {
			f.Close()
			t.Fatalf("with a shared lock never released: %v, want ErrServed", err)
		}
		// The refused client left no lock of its own behind: once the
		// holder is gone, the lock is free.
		stuck.Close()
		holdLock(t, path, unix.LOCK_EX)
	})
}
