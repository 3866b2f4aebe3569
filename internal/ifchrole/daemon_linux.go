//go:build linux

package ifchrole

// The standalone ifchd: the same applier and protocol for several
// clients, each admitted by its uid (SO_PEERCRED) from an allow list that
// gives it interfaces and address ranges.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Allow is one entry of ifchd's allow list: a user (name or uid, resolved
// before the sandbox), the interfaces it may change and the ranges its
// addresses must fall in (none: any).
type Allow struct {
	Who        string
	Interfaces []string
	Ranges     []netip.Prefix
}

// ParseAllow parses UID:IFACE[,IFACE...][:RANGE[,RANGE...]] ("any" as the
// ranges: any range).
func ParseAllow(s string) (Allow, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Allow{}, fmt.Errorf("%q: want UID:IFACE[,IFACE...][:RANGE[,RANGE...]]", s)
	}
	e := Allow{Who: parts[0]}
	for _, n := range strings.Split(parts[1], ",") {
		if _, err := ifch.Unmarshal([]byte("carrier " + n + "\n")); err != nil {
			return Allow{}, fmt.Errorf("interface %q is not a valid name", n)
		}
		e.Interfaces = append(e.Interfaces, n)
	}
	if len(parts) == 3 && parts[2] != "any" {
		for _, r := range strings.Split(parts[2], ",") {
			p, err := netip.ParsePrefix(r)
			if err != nil || !p.Addr().Is4() {
				return Allow{}, fmt.Errorf("range %q is not an IPv4 prefix", r)
			}
			e.Ranges = append(e.Ranges, p.Masked())
		}
	}
	return e, nil
}

// Policies turns the allow list into one policy per uid, each base with
// the entries' interfaces and ranges. It reads the user database, so it
// runs before the sandbox.
func Policies(allows []Allow, base ifch.Policy) (map[uint32]*ifch.Policy, error) {
	out := make(map[uint32]*ifch.Policy)
	for _, e := range allows {
		uid, err := sandbox.ResolveUser(e.Who)
		if err != nil {
			return nil, fmt.Errorf("ifchd: -allow %s: %w", e.Who, err)
		}
		p := out[uid]
		if p == nil {
			cp := base
			cp.Interfaces, cp.AllowedRanges = nil, nil
			p = &cp
			out[uid] = p
		}
		p.Interfaces = append(p.Interfaces, e.Interfaces...)
		p.AllowedRanges = append(p.AllowedRanges, e.Ranges...)
	}
	return out, nil
}

// Listen creates the SOCK_SEQPACKET socket at path with the given mode and
// owner. A stale socket left by an earlier run is removed; any other file
// at path is an error. The file is not removed on exit: after the sandbox
// ifchd has no path access, and the next start removes it.
func Listen(path string, mode os.FileMode, uid, gid int) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("ifchd: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ifchd: remove stale socket: %w", err)
		}
	}
	old := syscall.Umask(0o177) // nobody else can connect before chmod
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("ifchd: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chown(path, uid, gid); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ifchd: socket owner: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ifchd: socket mode: %w", err)
	}
	return ln, nil
}

// Server admits the peers of a standalone ifchd and runs one goroutine per
// connection. The Applier serialises the changes; a slow or silent peer
// holds only its own goroutine and connection slot.
type Server struct {
	a       *apply.Applier
	allowed map[uint32]*ifch.Policy
	log     *slog.Logger
	maxAll  int
	maxUID  int
	idle    time.Duration

	mu     sync.Mutex
	total  int
	perUID map[uint32]int
}

// ServerOptions bound a Server.
type ServerOptions struct {
	// Allowed is the policy of each uid that may connect.
	Allowed map[uint32]*ifch.Policy
	// MaxConns and MaxPerUID bound the connections at once, in all and
	// from one uid.
	MaxConns, MaxPerUID int
	// Idle drops a peer silent for this long; zero: never.
	Idle time.Duration
	Log  *slog.Logger
}

// NewServer returns a server applying changes through a.
func NewServer(a *apply.Applier, o ServerOptions) *Server {
	return &Server{a: a, allowed: o.Allowed, log: o.Log, maxAll: o.MaxConns, maxUID: o.MaxPerUID, idle: o.Idle, perUID: make(map[uint32]int)}
}

// Serve accepts until the listener is closed.
func (s *Server) Serve(ln *net.UnixListener) error {
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// Out of descriptors or a transient failure: wait, bounded.
			s.log.Warn("accept", "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.admit(conn)
	}
}

// admit checks the peer and starts its goroutine, or refuses it with one
// reply and closes it.
func (s *Server) admit(conn *net.UnixConn) {
	cred, err := sandbox.PeerCred(conn)
	if err != nil {
		s.log.Warn("peer credentials", "err", err)
		conn.Close()
		return
	}
	pol := s.allowed[cred.Uid]
	if pol == nil {
		s.log.Warn("refused peer", "uid", cred.Uid, "pid", cred.Pid)
		s.refuse(conn, fmt.Sprintf("uid %d is not allowed", cred.Uid))
		return
	}
	s.mu.Lock()
	full := s.total >= s.maxAll || s.perUID[cred.Uid] >= s.maxUID
	if !full {
		s.total++
		s.perUID[cred.Uid]++
	}
	s.mu.Unlock()
	if full {
		s.log.Warn("too many connections", "uid", cred.Uid)
		s.refuse(conn, "too many connections")
		return
	}
	go func() {
		defer func() {
			conn.Close()
			s.mu.Lock()
			s.total--
			s.perUID[cred.Uid]--
			s.mu.Unlock()
		}()
		log := s.log.With("uid", cred.Uid, "pid", cred.Pid)
		log.Info("peer connected")
		err := apply.Serve(conn, s.a, apply.ServeOptions{Policy: pol, Log: log, IdleTimeout: s.idle})
		switch {
		case errors.Is(err, apply.ErrProtocol):
			log.Error("peer dropped", "err", err)
		case err != nil:
			log.Warn("peer gone", "err", err)
		default:
			log.Info("peer closed")
		}
	}()
}

// refuseTimeout bounds the whole exchange with a refused peer.
const refuseTimeout = 200 * time.Millisecond

// refuse sends one not-permitted reply and closes conn, in its own
// goroutine so that the accept loop never waits. Before closing it reads
// (and discards) what the peer already sent: closing a UNIX socket with
// unread data makes the peer's next read fail with ECONNRESET, and the peer
// would never see why it was refused.
func (s *Server) refuse(conn *net.UnixConn, why string) {
	go func() {
		defer conn.Close()
		r := ifch.Reply{Code: ifch.ErrNotPermitted, Reason: why}
		b, err := r.MarshalText()
		if err != nil {
			return
		}
		_ = conn.SetDeadline(time.Now().Add(refuseTimeout))
		if _, err := conn.Write(b); err != nil {
			return
		}
		buf := make([]byte, ifch.MaxMessageSize+1)
		for range 4 {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
}
