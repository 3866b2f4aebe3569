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
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Allow is one entry of ifchd's allow list: a user (name or uid, resolved
// before the sandbox), the interfaces it may change, the ranges its
// addresses must fall in (none: any) and what else it may set.
type Allow struct {
	Who        string
	Interfaces []string
	Ranges     []netip.Prefix
	// NoDNS, NoRoutes and NoMTU withhold those permissions (see
	// ifch.Policy).
	NoDNS, NoRoutes, NoMTU bool
}

// allowSyntax is the form of an allow entry.
const allowSyntax = "UID:IFACE[,IFACE...][:RANGE[,RANGE...]|any[:PERM[,PERM...]|none]], PERM one of dns, routes, mtu"

// ParseAllow parses an allow entry: a uid or user, its interfaces, the
// ranges ("any" or nothing: any range) and the permissions beyond the
// address (dns, routes, mtu; "none"; nothing: all three).
func ParseAllow(s string) (Allow, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 4 || parts[0] == "" || parts[1] == "" {
		return Allow{}, fmt.Errorf("%q: want %s", s, allowSyntax)
	}
	e := Allow{Who: parts[0]}
	for _, n := range strings.Split(parts[1], ",") {
		if _, err := ifch.Unmarshal([]byte("carrier " + n + "\n")); err != nil {
			return Allow{}, fmt.Errorf("interface %q is not a valid name", n)
		}
		e.Interfaces = append(e.Interfaces, n)
	}
	if len(parts) >= 3 && parts[2] != "any" {
		for _, r := range strings.Split(parts[2], ",") {
			p, err := netip.ParsePrefix(r)
			if err != nil || !p.Addr().Is4() {
				return Allow{}, fmt.Errorf("range %q is not an IPv4 prefix", r)
			}
			e.Ranges = append(e.Ranges, p.Masked())
		}
	}
	if len(parts) == 4 {
		e.NoDNS, e.NoRoutes, e.NoMTU = true, true, true
		for _, perm := range strings.Split(parts[3], ",") {
			switch perm {
			case "dns":
				e.NoDNS = false
			case "routes":
				e.NoRoutes = false
			case "mtu":
				e.NoMTU = false
			case "none":
			default:
				return Allow{}, fmt.Errorf("permission %q: want dns, routes, mtu or none", perm)
			}
		}
	}
	return e, nil
}

// Policies turns the allow list into the policies of each uid, one per
// entry: the entry's interfaces, ranges and permissions on base. An
// interface in two entries is an error: two peers, or one peer under two
// sets of ranges, would overwrite each other's configuration. It reads the
// user database, so it runs before the sandbox.
func Policies(allows []Allow, base ifch.Policy) (map[uint32]ifch.Policies, error) {
	out := make(map[uint32]ifch.Policies)
	owner := map[string]string{}
	for _, e := range allows {
		uid, err := sandbox.ResolveUser(e.Who)
		if err != nil {
			return nil, fmt.Errorf("ifchd: -allow %s: %w", e.Who, err)
		}
		for _, n := range e.Interfaces {
			if prev, dup := owner[n]; dup {
				return nil, fmt.Errorf("ifchd: interface %s is in two allow entries (%s and %s): one peer per interface", n, prev, e.Who)
			}
			owner[n] = e.Who
		}
		p := base
		p.Interfaces = slices.Clone(e.Interfaces)
		p.AllowedRanges = slices.Clone(e.Ranges)
		p.NoDNS, p.NoRoutes, p.NoMTU = e.NoDNS, e.NoRoutes, e.NoMTU
		out[uid] = append(out[uid], &p)
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
	allowed map[uint32]ifch.Policies
	log     *slog.Logger
	maxAll  int
	maxUID  int
	idle    time.Duration

	mu     sync.Mutex
	total  int
	perUID map[uint32]int
	// refused counts the peers refused since refusedAt, the last log line
	// about them.
	refused   int
	refusedAt time.Time
	// lingering counts the refused connections still being drained.
	lingering int
}

// ServerOptions bound a Server.
type ServerOptions struct {
	// Allowed is the policies of each uid that may connect.
	Allowed map[uint32]ifch.Policies
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
	pols := s.allowed[cred.Uid]
	if len(pols) == 0 {
		s.refuse(conn, cred.Uid, fmt.Sprintf("uid %d is not allowed", cred.Uid))
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
		s.refuse(conn, cred.Uid, "too many connections")
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
		err := apply.Serve(busyConn{conn}, s.a, apply.ServeOptions{Policies: pols, Log: log, IdleTimeout: s.idle})
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

// refuse answers a refused peer with one not-permitted reply and closes
// the connection. To be read, the reply must outlive what the peer had
// already sent (closing a socket with unread data resets it), so up to
// maxLingering refusals at a time read and discard the peer's messages for
// refuseTimeout before closing; beyond that a refused peer is closed at
// once. The log says so at most once a second (refusedLog), with the
// count. So a flood of refused peers can neither fill the log, nor use up
// descriptors, nor slow the accept loop.
func (s *Server) refuse(conn *net.UnixConn, uid uint32, why string) {
	r := ifch.Reply{Code: ifch.ErrNotPermitted, Reason: why}
	if b, err := r.MarshalText(); err == nil {
		_ = conn.SetWriteDeadline(time.Now().Add(refuseTimeout))
		_, _ = conn.Write(b)
	}
	s.mu.Lock()
	s.refused++
	if now := time.Now(); now.Sub(s.refusedAt) >= refusedLog {
		s.log.Warn("refused peers", "uid", uid, "why", why, "count", s.refused)
		s.refused, s.refusedAt = 0, now
	}
	linger := s.lingering < maxLingering
	if linger {
		s.lingering++
	}
	s.mu.Unlock()
	if !linger {
		conn.Close()
		return
	}
	go func() {
		defer func() {
			conn.Close()
			s.mu.Lock()
			s.lingering--
			s.mu.Unlock()
		}()
		_ = conn.SetReadDeadline(time.Now().Add(refuseTimeout))
		buf := make([]byte, ifch.MaxMessageSize+1)
		for range 4 {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
}

// Bounds of the refusals.
const (
	refuseTimeout = 200 * time.Millisecond
	maxLingering  = 4
)

// refusedLog is the least time between two log lines about refused peers.
const refusedLog = time.Second
