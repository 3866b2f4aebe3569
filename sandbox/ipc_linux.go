//go:build linux

package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrPeerClosed is returned when the other end of an IPC channel has gone:
// the peer exited or closed its end. Roles treat it as a reason to exit.
var ErrPeerClosed = errors.New("sandbox: peer closed the channel")

// SeqpacketPair returns the two ends of a SOCK_SEQPACKET socketpair, both
// close-on-exec. Message boundaries are kept and the death of one side
// shows as end-of-file on the other.
func SeqpacketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "seqpacket"), os.NewFile(uintptr(fds[1]), "seqpacket"), nil
}

// SeqpacketConns returns the two ends of a SOCK_SEQPACKET socketpair as
// connections: for a channel both ends of which stay in this process (a
// role and a fake peer in tests, or two goroutines).
func SeqpacketConns() (*net.UnixConn, *net.UnixConn, error) {
	a, b, err := SeqpacketPair()
	if err != nil {
		return nil, nil, err
	}
	ca, err := UnixConn(a)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	cb, err := UnixConn(b)
	if err != nil {
		ca.Close()
		return nil, nil, err
	}
	return ca, cb, nil
}

// UnixConn wraps f (an AF_UNIX socket) into a *net.UnixConn that uses the
// runtime's poller. f is closed: the connection holds its own descriptor.
func UnixConn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("sandbox: %s is not a UNIX socket", f.Name())
	}
	return uc, nil
}

// Send writes one message with no descriptors. It uses write(2), which on
// a SOCK_SEQPACKET socket sends one message, so that a role that never
// hands a descriptor on needs neither sendmsg nor sendto: neither can then
// name a destination on any other socket the role holds.
func Send(c *net.UnixConn, msg []byte) error {
	n, err := c.Write(msg)
	if err != nil {
		return fmt.Errorf("sandbox: send: %w", err)
	}
	if n != len(msg) {
		return fmt.Errorf("sandbox: send: short write %d of %d", n, len(msg))
	}
	return nil
}

// SendFD writes one message carrying exactly one descriptor.
func SendFD(c *net.UnixConn, msg []byte, fd int) error {
	if len(msg) == 0 {
		return errors.New("sandbox: send: a descriptor needs a non-empty message")
	}
	n, oobn, err := c.WriteMsgUnix(msg, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("sandbox: send fd: %w", err)
	}
	if n != len(msg) || oobn != unix.CmsgSpace(4) {
		return fmt.Errorf("sandbox: send fd: short write %d/%d, control %d", n, len(msg), oobn)
	}
	return nil
}

// Recv reads one message of exactly size bytes that carries no descriptor.
// A message of any other size, truncated data, or any control data is an
// error (descriptors that arrived anyway are closed); end-of-file is
// ErrPeerClosed.
func Recv(c *net.UnixConn, size int) ([]byte, error) {
	b, fd, err := recv(c, size, fdNone)
	if fd >= 0 {
		unix.Close(fd)
	}
	return b, err
}

// RecvUpTo reads one message of 1 to max bytes that carries no descriptor,
// for protocols whose messages vary in size. The same rules as Recv apply.
func RecvUpTo(c *net.UnixConn, max int) ([]byte, error) {
	buf := make([]byte, max+1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, err := readMsg(c, buf, oob)
	if err != nil {
		return nil, err
	}
	Busy()
	if n == 0 && oobn == 0 {
		return nil, ErrPeerClosed
	}
	if fds := parseRights(oob[:oobn]); len(fds) > 0 || oobn != 0 {
		closeAll(fds)
		return nil, errors.New("sandbox: recv: unexpected control data")
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > max {
		return nil, fmt.Errorf("sandbox: recv: message longer than %d bytes", max)
	}
	if n == 0 {
		return nil, errors.New("sandbox: recv: empty message")
	}
	return buf[:n], nil
}

// RecvFD reads one message of exactly size bytes carrying exactly one
// descriptor, and returns both. Any deviation (no descriptor, two, other
// control messages, truncation, another size) is an error, and every
// descriptor received is closed.
func RecvFD(c *net.UnixConn, size int) ([]byte, *os.File, error) {
	b, fd, err := recv(c, size, fdOne)
	if err != nil {
		return nil, nil, err
	}
	return b, os.NewFile(uintptr(fd), "received"), nil
}

// RecvMaybeFD reads one message of exactly size bytes carrying at most one
// descriptor, for replies that carry one only on success. The same rules as
// RecvFD apply otherwise; the returned file is nil when none came.
func RecvMaybeFD(c *net.UnixConn, size int) ([]byte, *os.File, error) {
	b, fd, err := recv(c, size, fdMaybe)
	if err != nil || fd < 0 {
		return b, nil, err
	}
	return b, os.NewFile(uintptr(fd), "received"), nil
}

type fdRule int

const (
	fdNone fdRule = iota
	fdOne
	fdMaybe
)

func recv(c *net.UnixConn, size int, rule fdRule) ([]byte, int, error) {
	buf := make([]byte, size+1)
	// Room for more than one descriptor, so that extra ones are seen
	// (and closed) rather than silently truncated away.
	oob := make([]byte, unix.CmsgSpace(4*8)+unix.CmsgSpace(64))
	n, oobn, flags, err := readMsg(c, buf, oob)
	if err != nil {
		return nil, -1, err
	}
	Busy()
	fds := parseRights(oob[:oobn])
	fail := func(format string, args ...any) ([]byte, int, error) {
		closeAll(fds)
		return nil, -1, fmt.Errorf("sandbox: recv: "+format, args...)
	}
	if n == 0 && oobn == 0 {
		return nil, -1, ErrPeerClosed
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return fail("control data truncated")
	}
	if flags&unix.MSG_TRUNC != 0 || n != size {
		return fail("message of %d bytes, want exactly %d", n, size)
	}
	one := len(fds) == 1 && fds[0] >= 0 && oobn == unix.CmsgSpace(4)
	switch {
	case oobn == 0 && rule != fdOne:
		return buf[:n], -1, nil
	case oobn == 0:
		return fail("want exactly one descriptor, got none")
	case rule == fdNone:
		return fail("unexpected control data (%d bytes, %d descriptors)", oobn, len(fds))
	case !one:
		return fail("want exactly one descriptor, got %d (%d bytes of control data)", len(fds), oobn)
	}
	return buf[:n], fds[0], nil
}

// readMsg reads one message. The runtime reports a message of no bytes as
// end-of-file even when it carried control data; a peer that closes sends
// none, so such a message is an error, and any descriptors it carried are
// closed rather than left open in this process.
func readMsg(c *net.UnixConn, buf, oob []byte) (n, oobn, flags int, err error) {
	n, oobn, flags, _, err = c.ReadMsgUnix(buf, oob)
	if err == nil {
		return n, oobn, flags, nil
	}
	if oobn > 0 {
		closeAll(parseRights(oob[:oobn]))
		if errors.Is(err, io.EOF) {
			return 0, 0, 0, fmt.Errorf("sandbox: recv: empty message with %d bytes of control data", oobn)
		}
	}
	return 0, 0, 0, recvError(err)
}

func recvError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
		return ErrPeerClosed
	}
	return fmt.Errorf("sandbox: recv: %w", err)
}

// parseRights returns every descriptor in oob, whatever the shape of the
// control messages; malformed control data yields what could be parsed.
func parseRights(oob []byte) []int {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			// Unknown control message: make it count as extra data.
			fds = append(fds, -1)
			continue
		}
		// The descriptors, one native int32 each. unix.ParseUnixRights
		// indexes past its slice when the length is not a multiple of
		// four; a partial word counts as extra data.
		d := msgs[i].Data
		for ; len(d) >= 4; d = d[4:] {
			fds = append(fds, int(int32(binary.NativeEndian.Uint32(d))))
		}
		if len(d) != 0 {
			fds = append(fds, -1)
		}
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// PeerCred returns the credentials of the process at the other end of a
// UNIX socket, as the kernel recorded them at connect or socketpair time.
func PeerCred(c syscall.Conn) (unix.Ucred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return unix.Ucred{}, fmt.Errorf("sandbox: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return unix.Ucred{}, fmt.Errorf("sandbox: peer credentials: %w", err)
	}
	if gerr != nil {
		return unix.Ucred{}, fmt.Errorf("sandbox: peer credentials: %w", gerr)
	}
	return *cred, nil
}

// CheckPeer fails unless the peer of c runs as uid (and, when pid is not
// zero, is process pid).
func CheckPeer(c syscall.Conn, uid uint32, pid int) error {
	cred, err := PeerCred(c)
	if err != nil {
		return err
	}
	if cred.Uid != uid {
		return fmt.Errorf("sandbox: peer uid %d, want %d", cred.Uid, uid)
	}
	if pid != 0 && int(cred.Pid) != pid {
		return fmt.Errorf("sandbox: peer pid %d, want %d", cred.Pid, pid)
	}
	return nil
}

// CloseInherited closes every descriptor above stderr that this process
// did not open itself, except those in keep: a descriptor without
// close-on-exec can only have come from whoever started the program (Go
// opens all of its own with close-on-exec). A daemon calls it first thing,
// so that what a shell or service manager left open (a root-only file on
// fd 9) reaches neither the daemon's own code nor its children. Kept
// descriptors are made close-on-exec.
func CloseInherited(keep ...int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	names, err := d.Readdirnames(-1)
	own := int(d.Fd())
	if err != nil {
		d.Close()
		return fmt.Errorf("sandbox: %w", err)
	}
	var errs []error
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == own {
			continue
		}
		if slices.Contains(keep, fd) {
			unix.CloseOnExec(fd)
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: closing inherited fd %d: %w", fd, err))
		}
	}
	d.Close()
	return errors.Join(errs...)
}
