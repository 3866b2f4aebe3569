// Command ifchd runs the ifch role of ndhc-go as a standalone daemon for
// hosts with several DHCP clients: it listens on a UNIX SOCK_SEQPACKET
// socket, admits peers by uid (SO_PEERCRED) from an allowlist that gives each
// uid its interfaces and address ranges, and applies the ifch protocol.
//
// Everything it needs (the netlink socket, resolv.conf, the listening
// socket) is opened before it enters the ifch sandbox; afterwards it only
// accepts connections and talks netlink. Run ifchd -h for the flags.
//
// The flags that set the same knob as one of ndhc's have ndhc's name
// (-config/-c, -log-level, -resolv-conf, -route-metric, -min-prefix,
// -mtu-floor, -allow-link-local, -allow-offlink-router,
// -allow-degraded-sandbox, -empty-dir, -ifch-user), and the config file
// named by -c is read as ndhc's is (package internal/conf): key = value
// lines whose keys are the long flag names. The command line wins over the
// file, except for -allow, whose entries from both are kept.
//
// Exit status: 0 after SIGTERM or SIGINT, 1 on a runtime failure, 2 on a
// usage or configuration error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	c, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "ifchd: run ifchd -h for help")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.level})).With("role", "ifchd")
	if err := serve(c, log); err != nil {
		log.Error("exiting", "err", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("ifchd: configuration")

// serve opens everything, enters the sandbox and serves until a signal.
func serve(c *config, log *slog.Logger) error {
	allowed, err := resolveAllows(c)
	if err != nil {
		return errors.Join(errUsage, err)
	}
	sockUID, err := sandbox.ResolveUser(c.socketUser)
	if err != nil {
		return errors.Join(errUsage, fmt.Errorf("ifchd: -socket-owner: %w", err))
	}
	sockGID, err := sandbox.ResolveGroup(c.socketGroup)
	if err != nil {
		return errors.Join(errUsage, fmt.Errorf("ifchd: -socket-group: %w", err))
	}

	// Everything the role will use is opened now, before the sandbox.
	nl, err := apply.OpenNetlink()
	if err != nil {
		return err
	}
	var rc *apply.ResolvConf
	if c.resolvConf != "" {
		if rc, err = apply.OpenResolvConf(c.resolvConf); err != nil {
			return err
		}
	}
	ln, err := listen(c.socket, c.socketMode, int(sockUID), int(sockGID))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.emptyDir, 0o755); err != nil {
		return fmt.Errorf("ifchd: -empty-dir: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	p := policies.Ifchd()
	p.User, p.Group, p.Chroot = c.ifchUser, c.ifchUser, c.emptyDir
	rep, err := sandbox.Enter(p, sandbox.Options{Degrade: c.degradeLayers, Log: log})
	if err != nil {
		return err // the process is partly restricted: only exit is safe
	}
	log.Info("sandbox entered", "uid", rep.Status.Uid, "landlock_abi", rep.LandlockABI,
		"seccomp_instructions", rep.SeccompInstructions, "degraded", strings.Join(rep.Degraded, ","))

	s := &server{
		a:       apply.New(nl, apply.Config{Metric: c.routeMetric, Resolv: rc, Log: log}),
		allowed: allowed,
		log:     log,
		maxAll:  c.maxConns,
		maxUID:  c.maxPerUID,
		idle:    c.idleTimeout,
		perUID:  make(map[uint32]int),
	}
	done := make(chan error, 1)
	go func() { done <- s.acceptLoop(ln) }()
	log.Info("serving", "socket", c.socket, "uids", len(allowed))
	select {
	case sig := <-sigs:
		log.Info("stopping", "signal", sig.String())
		ln.Close()
		return nil
	case err := <-done:
		return err
	}
}

// listen creates the SOCK_SEQPACKET socket at path with the given mode and
// owner. A stale socket left by an earlier run is removed; any other file
// at path is an error. The file is not removed on exit: after the sandbox
// ifchd has no path access, and the next start removes it.
func listen(path string, mode uint, uid, gid int) (*net.UnixListener, error) {
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
	if err := os.Chmod(path, os.FileMode(mode)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ifchd: socket mode: %w", err)
	}
	return ln, nil
}

// server admits peers and runs one goroutine per connection. The Applier
// serialises the changes; a slow or silent peer holds only its own
// goroutine and connection slot.
type server struct {
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

// acceptLoop accepts until the listener is closed.
func (s *server) acceptLoop(ln *net.UnixListener) error {
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
func (s *server) admit(conn *net.UnixConn) {
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
func (s *server) refuse(conn *net.UnixConn, why string) {
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
