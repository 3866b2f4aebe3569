//go:build linux

package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// soPeerGroups is SO_PEERGROUPS (Linux 4.13), which x/sys/unix lacks; 59
// on every architecture ndhc builds for (asm-generic).
const soPeerGroups = 59

// Bounds of the server.
const (
	// MaxConns is how many control connections may be open at once;
	// more are closed at accept.
	MaxConns = 8
	// readTimeout bounds the wait for a connection's request.
	readTimeout = 2 * time.Second
	// writeTimeout bounds each reply: a client that does not read is
	// dropped.
	writeTimeout = time.Second
	// commandTimeout bounds the hand-over of a command to the engine.
	commandTimeout = 2 * time.Second
	// refusedLog is the least time between two log lines about refused
	// peers.
	refusedLog = time.Second
	// maxGroups bounds the supplementary groups read from a peer
	// (NGROUPS_MAX).
	maxGroups = 65536
)

// Listen creates the control socket at path: SOCK_SEQPACKET, owned by
// root and group gid, mode 0660, in a directory it creates (0755) if
// missing. A socket left at path by an earlier run is replaced: the
// caller must hold the interface's lock, so that no running instance
// owns it. Any other file at path is an error.
func Listen(path string, gid int) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket: removing the stale one: %w", err)
		}
	}
	ln, err := listenAs(path, gid)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The sandboxed supervisor cannot unlink it: the next start does.
	ln.SetUnlinkOnClose(false)
	if fi, err := os.Lstat(path); err != nil || fi.Sys().(*syscall.Stat_t).Gid != uint32(gid) {
		// Only where the directory imposed its own group (a setgid
		// directory): this needs CAP_CHOWN.
		if err := os.Chown(path, 0, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket: owner: %w", err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: mode: %w", err)
	}
	return ln, nil
}

// listenAs binds the socket with the thread's filesystem gid set to gid,
// so that the file is created in the control group: giving it to the
// group afterwards would need CAP_CHOWN (root is not a member), which the
// systemd unit leaves out of the bounding set; setfsgid needs CAP_SETGID,
// which the supervisor keeps to start its roles. The umask lets nobody
// connect before the chmod.
func listenAs(path string, gid int) (*net.UnixListener, error) {
	runtime.LockOSThread()
	if gid != 0 {
		unix.Setfsgid(gid)
		if now, _ := unix.SetfsgidRetGid(-1); now != gid {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("setfsgid(%d) left %d", gid, now)
		}
	}
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	syscall.Umask(old)
	if gid != 0 {
		unix.Setfsgid(0)
		if now, _ := unix.SetfsgidRetGid(-1); now != 0 {
			// The thread stays locked, so no other goroutine runs with
			// that fsgid; the caller exits on this error.
			if ln != nil {
				ln.Close()
			}
			return nil, fmt.Errorf("setfsgid(0) left %d", now)
		}
	}
	runtime.UnlockOSThread()
	return ln, err
}

// Command is a command for the engine that a control client asked for.
// The supervisor sends it and answers on Done: nil once the engine has
// it.
type Command struct {
	Op   Op
	Done chan<- error
}

// Server serves the control socket of one client instance: it keeps the
// live state the supervisor feeds it and answers the peers it admits.
type Server struct {
	ln    *net.UnixListener
	group uint32
	log   *slog.Logger
	cmds  chan Command
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu      sync.Mutex
	st      State
	changed chan struct{} // closed and replaced at each change
	conns   int
	// refused counts the peers refused since refusedAt, the last log
	// line about them.
	refused   int
	refusedAt time.Time
}

// NewServer returns a server on ln admitting the members of group gid to
// queries; st is the initial state.
func NewServer(ln *net.UnixListener, gid uint32, log *slog.Logger, st State) *Server {
	return &Server{ln: ln, group: gid, log: log, cmds: make(chan Command), stop: make(chan struct{}), st: st, changed: make(chan struct{})}
}

// Commands delivers the commands peers ask for, one at a time; nil (a
// channel that never delivers) for a nil Server.
func (s *Server) Commands() <-chan Command {
	if s == nil {
		return nil
	}
	return s.cmds
}

// Update changes the live state and wakes the waiting peers.
func (s *Server) Update(f func(*State)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
	s.st.Seq++
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot returns a copy of the state and the channel closed at its
// next change.
func (s *Server) snapshot() (State, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Roles = append([]Role(nil), s.st.Roles...)
	if s.st.LastError != nil {
		f := *s.st.LastError
		st.LastError = &f
	}
	return st, s.changed
}

// Close stops accepting, ends every connection and waits for their
// goroutines.
func (s *Server) Close() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		close(s.stop)
		s.ln.Close()
	})
	s.wg.Wait()
}

// Serve accepts until Close.
func (s *Server) Serve() {
	backoff := 5 * time.Millisecond
	for {
		conn, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors or a transient failure: wait, bounded.
			s.log.Warn("control socket: accept", "err", err)
			select {
			case <-time.After(backoff):
			case <-s.stop:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.admit(conn)
	}
}

// PeerCreds reads the peer's credentials: SO_PEERCRED and SO_PEERGROUPS.
func PeerCreds(c syscall.Conn) (Creds, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Creds{}, err
	}
	var cr Creds
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		var u *unix.Ucred
		if u, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); gerr != nil {
			return
		}
		cr.Uid, cr.Gid = u.Uid, u.Gid
		cr.Groups, gerr = peerGroups(int(fd))
	}); err != nil {
		return Creds{}, err
	}
	return cr, gerr
}

// peerGroups reads SO_PEERGROUPS, growing the buffer once if the kernel
// says it is short (ERANGE, with the length it needs).
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 64)
	for range 2 {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, soPeerGroups,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch {
		case e == 0:
			if n%4 != 0 || int(n/4) > len(buf) {
				return nil, fmt.Errorf("SO_PEERGROUPS: length %d", n)
			}
			return buf[:n/4], nil
		case e == unix.ERANGE && n/4 > uint32(len(buf)) && n/4 <= maxGroups:
			buf = make([]uint32, n/4)
		default:
			return nil, fmt.Errorf("SO_PEERGROUPS: %w", e)
		}
	}
	return nil, errors.New("SO_PEERGROUPS: groups changed while read")
}

// admit checks the peer and starts its goroutine within the connection
// cap.
func (s *Server) admit(conn *net.UnixConn) {
	s.mu.Lock()
	full := s.conns >= MaxConns
	if !full {
		s.conns++
	}
	s.mu.Unlock()
	if full {
		s.refuse(conn, Creds{}, "too many control connections")
		conn.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer func() {
			conn.Close()
			s.mu.Lock()
			s.conns--
			s.mu.Unlock()
			s.wg.Done()
		}()
		cr, err := PeerCreds(conn)
		if err != nil {
			s.log.Warn("control socket: peer credentials", "err", err)
			return
		}
		s.serve(conn, cr, Authorize(cr, s.group))
	}()
}

// refuse counts a refused peer and logs it at most once a second.
func (s *Server) refuse(conn *net.UnixConn, cr Creds, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused++
	if now := time.Now(); now.Sub(s.refusedAt) >= refusedLog {
		s.log.Warn("control socket: refused peers", "uid", cr.Uid, "why", why, "count", s.refused)
		s.refused, s.refusedAt = 0, now
	}
}

// serve reads one request and answers it. A malformed request closes the
// connection: the peer is a client program, not a role, so nothing else
// happens to the daemon.
func (s *Server) serve(conn *net.UnixConn, cr Creds, a Access) {
	if a == None {
		// Closed at once, unread: the peer learns nothing.
		s.refuse(conn, cr, "not root and not in the control group")
		return
	}
	buf := make([]byte, MaxRequest+1)
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	n, err := conn.Read(buf)
	if err != nil || n > MaxRequest {
		return
	}
	req, err := ParseRequest(buf[:n])
	if err != nil {
		s.log.Debug("control socket: malformed request", "uid", cr.Uid, "err", err)
		return
	}
	if !a.Permits(req.Op) {
		s.refuse(conn, cr, "not root: "+string(req.Op)+" refused")
		s.reply(conn, Reply{Status: StatusRefused, Error: "permission denied: only root may " + string(req.Op)})
		return
	}
	s.log.Debug("control request", "op", req.Op, "uid", cr.Uid)
	switch req.Op {
	case Show:
		st, _ := s.snapshot()
		s.reply(conn, Reply{Status: StatusOK, State: &st})
	case Wait:
		s.wait(conn, req.Timeout())
	default:
		s.reply(conn, s.command(req.Op))
	}
}

// command hands op to the supervisor's loop and waits, bounded, for its
// answer.
func (s *Server) command(op Op) Reply {
	done := make(chan error, 1)
	t := time.NewTimer(commandTimeout)
	defer t.Stop()
	select {
	case s.cmds <- Command{Op: op, Done: done}:
	case <-t.C:
		return Reply{Status: StatusError, Error: "the supervisor is busy"}
	case <-s.stop:
		return Reply{Status: StatusError, Error: "the client is stopping"}
	}
	select {
	case err := <-done:
		if err != nil {
			return Reply{Status: StatusError, Error: "not handed to the engine: " + err.Error()}
		}
		return Reply{Status: StatusAccepted}
	case <-t.C:
		return Reply{Status: StatusError, Error: "the supervisor did not answer"}
	case <-s.stop:
		return Reply{Status: StatusError, Error: "the client is stopping"}
	}
}

// wait sends the state now and at each change until the timeout, the
// server's end or the peer's: anything the peer sends, or its close,
// ends the stream.
func (s *Server) wait(conn *net.UnixConn, timeout time.Duration) {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_ = conn.SetReadDeadline(time.Time{})
		var b [1]byte
		_, _ = conn.Read(b[:]) // returns when the peer closes or sends, or conn is closed
	}()
	t := time.NewTimer(timeout)
	defer func() {
		t.Stop()
		conn.Close()
		<-gone
	}()
	sent, last := false, uint64(0)
	for {
		st, changed := s.snapshot()
		if !sent || st.Seq != last {
			if !s.reply(conn, Reply{Status: StatusOK, State: &st}) {
				return
			}
			sent, last = true, st.Seq
		}
		select {
		case <-changed:
		case <-t.C:
			return
		case <-gone:
			return
		case <-s.stop:
			return
		}
	}
}

// reply sends r; false if it could not.
func (s *Server) reply(conn *net.UnixConn, r Reply) bool {
	r.V = Version
	b, err := MarshalReply(r)
	if err != nil {
		s.log.Warn("control socket: reply", "err", err)
		return false
	}
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = conn.Write(b)
	return err == nil
}
