// Package logintest holds what netlogind's tests share: a network
// namespace of their own with loopback up, so that TCP between the test
// client and the daemon never leaves it.
package logintest

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetNS is a network namespace the test created, held open by a
// descriptor; it goes away when Close drops the last reference.
type NetNS struct{ f *os.File }

// NewNetNS creates a network namespace with loopback up.
func NewNetNS() (*NetNS, error) {
	type result struct {
		f   *os.File
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// This thread is never unlocked: it ends with its goroutine and
		// takes the namespace change with it.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			rc <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			rc <- result{err: err}
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			f.Close()
			rc <- result{err: fmt.Errorf("loopback up: %w", err)}
			return
		}
		rc <- result{f: f}
	}()
	r := <-rc
	if r.err != nil {
		return nil, r.err
	}
	return &NetNS{f: r.f}, nil
}

// Do runs fn on a thread inside the namespace. Sockets fn opens stay in
// it. fn must not start goroutines that expect to be in the namespace.
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Left locked: the thread is thrown away with its namespace.
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Close releases the namespace.
func (n *NetNS) Close() error { return n.f.Close() }
