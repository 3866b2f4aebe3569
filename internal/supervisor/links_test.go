//go:build linux

package supervisor

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// dumpLinks sends an RTM_GETLINK dump request on fd and returns how many
// bytes come back within a short while.
func dumpLinks(t *testing.T, fd int) int {
	t.Helper()
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000}); err != nil {
		t.Fatal(err)
	}
	total := 0
	buf := make([]byte, 1<<16)
	for range 100 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// TestLinkEventSocket: the engine's link-event socket answers a dump
// request with nothing (without the filter, the same request lists every
// interface), and its filter cannot be removed.
func TestLinkEventSocket(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no loopback interface")
	}
	f, err := linkEventSocket(lo.Index)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if n := dumpLinks(t, fd); n != 0 {
		t.Errorf("a dump on the engine's socket returned %d bytes", n)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err == nil {
		t.Error("the filter could be detached")
	}
	plain, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(plain)
	if n := dumpLinks(t, plain); n == 0 {
		t.Error("the control socket got no dump either: the test proves nothing")
	}
}
