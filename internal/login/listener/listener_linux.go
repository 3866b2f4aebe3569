// Package listener is netlogind's listener: the root process that accepts
// connections and, for each one, spawns a [net] (sandboxed, a uid of its
// own, the only reader of the client's bytes) and a [session] (root, PAM
// and the commands). It interprets nothing a client sends: what it reads
// comes from its children, in two fixed forms (a signing request from
// [net], checked byte for byte; "authenticated" from [session]).
package listener

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"

	"github.com/ndhc-go/ndhc/internal/login/netrole"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Config is the listener's configuration.
type Config struct {
	// TCP is the TLS listening address (host:port); empty for none.
	TCP string
	// Unix is the path of the local socket (plain protocol); empty for
	// none. UnixMode is its file mode: who may connect.
	Unix     string
	UnixMode os.FileMode
	// Key and Chain are the host key and certificate chain (DER, leaf
	// first), required with TCP.
	Key   ed25519.PrivateKey
	Chain [][]byte
	// SessionProgram is the netlogind-session binary.
	SessionProgram string
	// Session returns [session]'s configuration for a client at rhost
	// (a TCP client's address, empty for a local one).
	Session func(rhost string) any
	// NetUIDs is the range of uids for [net] processes, one per
	// connection; it bounds the concurrent connections too.
	NetUIDFirst, NetUIDLast uint32
	// RunDir holds the lock file and the empty chroot directory.
	RunDir string
	// MaxConns bounds the connections at a time; MaxUnauth those not yet
	// authenticated; MaxPerSource those from one address.
	MaxConns, MaxUnauth, MaxPerSource int
	// Rate and Burst limit new connections per source address.
	Rate  rate.Limit
	Burst int
	// AuthTimeout bounds the time to authenticate; past it (and a grace
	// second) the listener kills both processes of the connection, whatever
	// they say.
	AuthTimeout time.Duration
	// IdleTimeout bounds an authenticated client's silence between
	// commands; 0 means none.
	IdleTimeout time.Duration
	// Degrade is the operator's list of sandbox layers [net] may miss.
	Degrade []string
	Log     *slog.Logger
	// Events, when set, receives a Record for each thing that happens to
	// a connection.
	Events io.Writer
}

// Defaults fills what c leaves zero.
func (c *Config) Defaults() {
	if c.NetUIDFirst == 0 && c.NetUIDLast == 0 {
		c.NetUIDFirst, c.NetUIDLast = policies.NetloginNetUIDFirst, policies.NetloginNetUIDLast
	}
	if c.RunDir == "" {
		c.RunDir = filepath.Dir(policies.NetloginEmptyDir)
	}
	if c.MaxConns == 0 {
		c.MaxConns = 256
	}
	if c.MaxUnauth == 0 {
		c.MaxUnauth = 64
	}
	if c.MaxPerSource == 0 {
		c.MaxPerSource = 32
	}
	if c.Rate == 0 {
		c.Rate, c.Burst = 10, 40
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = 60 * time.Second
	}
	if c.UnixMode == 0 {
		c.UnixMode = 0o666
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

func (c *Config) validate() error {
	if c.TCP == "" && c.Unix == "" {
		return errors.New("listener: neither a TCP address nor a UNIX socket")
	}
	if c.TCP != "" && (len(c.Key) != ed25519.PrivateKeySize || len(c.Chain) == 0) {
		return errors.New("listener: TLS needs an Ed25519 host key and its certificate")
	}
	if !filepath.IsAbs(c.SessionProgram) {
		return fmt.Errorf("listener: session program %q is not an absolute path", c.SessionProgram)
	}
	if c.NetUIDFirst == 0 || c.NetUIDLast < c.NetUIDFirst {
		return fmt.Errorf("listener: [net] uid range %d-%d", c.NetUIDFirst, c.NetUIDLast)
	}
	if n := int(c.NetUIDLast-c.NetUIDFirst) + 1; c.MaxConns > n {
		c.MaxConns = n
	}
	return nil
}

// Server is a running listener.
type Server struct {
	cfg   Config
	group *sandbox.Group
	empty string
	lock  *os.File

	// starting is held (shared) by every connection being spawned until
	// its members are registered: an event from a member not yet known
	// waits for it (exclusive) instead of being lost.
	starting sync.RWMutex
	mu       sync.Mutex
	conns    map[*sandbox.Member]*conn
	uids     map[uint32]bool
	unauth   int
	total    int
	sources  map[string]*source
	nextID   uint64
	stopping bool

	listeners []net.Listener
	wg        sync.WaitGroup
	events    *recorder
}

// source is what the listener keeps about one client address.
type source struct {
	limit *rate.Limiter
	open  int
}

// conn is one connection's pair of processes.
type conn struct {
	id       uint64
	src      string
	uid      uint32
	net      *sandbox.Member
	session  *sandbox.Member
	authed   bool
	tls      bool // a TCP client: [net] may ask for its one signature
	signed   bool
	exited   int
	deadline *time.Timer
	user     string
}

// New checks the configuration, takes the single-instance lock, prepares
// the run directory and opens the sockets.
func New(cfg Config) (*Server, error) {
	cfg.Defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, conns: map[*sandbox.Member]*conn{}, uids: map[uint32]bool{}, sources: map[string]*source{}, events: &recorder{w: cfg.Events}}
	if err := s.prepare(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) prepare() error {
	if err := os.MkdirAll(s.cfg.RunDir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(s.cfg.RunDir, "netlogind.lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	s.lock = lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("listener: another netlogind runs with %s: %w", s.cfg.RunDir, err)
	}
	s.empty = filepath.Join(s.cfg.RunDir, "empty")
	if err := os.Mkdir(s.empty, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := checkEmptyDir(s.empty); err != nil {
		return err
	}
	if s.cfg.Unix != "" {
		l, err := listenUnix(s.cfg.Unix, s.cfg.UnixMode)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	if s.cfg.TCP != "" {
		l, err := net.Listen("tcp", s.cfg.TCP)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	s.group = sandbox.NewGroup(sandbox.GroupOptions{
		Degrade:      s.cfg.Degrade,
		Log:          s.cfg.Log,
		MaxMessage:   wire.MaxSignRequest,
		Signals:      []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP},
		ReadyTimeout: 10 * time.Second,
		Output:       s.output,
	})
	return nil
}

// checkEmptyDir refuses a chroot directory that is not root's, is
// writable by others, or holds anything.
func checkEmptyDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 {
		return fmt.Errorf("listener: %s must be a directory owned by root, not writable by others", dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("listener: %s is not empty", dir)
	}
	return nil
}

// listenUnix binds the local socket. A socket that answers belongs to a
// running daemon: refuse. A stale one is removed.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("listener: %s answers: another netlogind runs", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listener: %s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []net.Addr {
	var a []net.Addr
	for _, l := range s.listeners {
		a = append(a, l.Addr())
	}
	return a
}

// Serve accepts connections until ctx ends or a stop signal arrives, then
// stops: no new connection, and the running ones are ended.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.accept(l)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-s.group.Events():
			if ev.Signal != nil {
				s.cfg.Log.Info("stopping", "signal", ev.Signal)
				return nil
			}
			s.event(ev)
		}
	}
}

func (s *Server) close() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
	s.wg.Wait()
	if s.group != nil {
		s.group.Close()
		s.group.Wait(5 * time.Second)
	}
	if s.cfg.Unix != "" && len(s.listeners) > 0 {
		os.Remove(s.cfg.Unix)
	}
	if s.lock != nil {
		s.lock.Close()
	}
}

func (s *Server) accept(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off instead of spinning.
			s.cfg.Log.Warn("accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		src := sourceOf(c)
		uid, id, why := s.admit(src)
		if why != "" {
			// Recorded before the close, so that a reader of the
			// event stream knows of it by the time the client sees it.
			s.cfg.Log.Debug("refused", "source", src, "limit", why)
			s.events.emit(Record{Event: EventRefused, Source: src, Limit: why})
			c.Close()
			continue
		}
		go s.start(c, src, uid, id)
	}
}

// sourceOf names the client's address for the per-source limits: the IP
// of a TCP peer (IPv4-mapped IPv6 folded to IPv4), the peer's uid on the
// UNIX socket.
func sourceOf(c net.Conn) string {
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().String()
	}
	if uc, ok := c.(*net.UnixConn); ok {
		if cred, err := sandbox.PeerCred(uc); err == nil {
			return fmt.Sprintf("uid %d", cred.Uid)
		}
	}
	return "local"
}

// rhost is what [session] gives PAM as PAM_RHOST: a TCP client's
// address, nothing for a local client.
func rhost(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().String()
	}
	return ""
}

// admit applies the limits to a new connection from src and, when it
// passes, reserves a [net] uid for it; otherwise it names the limit.
func (s *Server) admit(src string) (uid uint32, id uint64, refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return 0, 0, "stopping"
	}
	so := s.sources[src]
	if so == nil {
		if len(s.sources) >= 4096 {
			s.pruneSources()
		}
		so = &source{limit: rate.NewLimiter(s.cfg.Rate, s.cfg.Burst)}
		s.sources[src] = so
	}
	why := ""
	switch {
	case !so.limit.Allow():
		why = "rate"
	case so.open >= s.cfg.MaxPerSource:
		why = "per-source"
	case s.total >= s.cfg.MaxConns:
		why = "connections"
	case s.unauth >= s.cfg.MaxUnauth:
		why = "unauthenticated"
	}
	uid, ok := s.freeUID()
	if why == "" && !ok {
		why = "uids"
	}
	if why != "" {
		return 0, 0, why
	}
	s.uids[uid] = true
	so.open++
	s.total++
	s.unauth++
	s.nextID++
	return uid, s.nextID, ""
}

// pruneSources forgets sources with no connection whose limiter is full.
func (s *Server) pruneSources() {
	now := time.Now()
	for k, so := range s.sources {
		if so.open == 0 && so.limit.TokensAt(now) >= float64(s.cfg.Burst) {
			delete(s.sources, k)
		}
	}
}

func (s *Server) freeUID() (uint32, bool) {
	for u := s.cfg.NetUIDFirst; u <= s.cfg.NetUIDLast; u++ {
		if !s.uids[u] {
			return u, true
		}
	}
	return 0, false
}

// release undoes admit.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.uids, c.uid)
	if so := s.sources[c.src]; so != nil {
		so.open--
	}
	s.total--
	if !c.authed {
		s.unauth--
	}
}

// start spawns the connection's [net] and [session].
func (s *Server) start(nc net.Conn, src string, uid uint32, id uint64) {
	c := &conn{id: id, src: src, uid: uid}
	err := s.spawn(c, nc)
	nc.Close()
	if err != nil {
		s.cfg.Log.Error("connection not started", "conn", id, "source", src, "err", err)
		s.release(c)
		return
	}
	s.cfg.Log.Info("connection", "conn", id, "source", src, "net_uid", uid, "net_pid", c.net.Pid(), "session_pid", c.session.Pid())
	s.events.emit(Record{Event: EventConnection, Conn: id, Source: src,
		Net: &Proc{Pid: c.net.Pid(), Report: c.net.Report}, Session: &Proc{Pid: c.session.Pid(), Report: c.session.Report}})
}

func (s *Server) spawn(c *conn, nc net.Conn) error {
	cf, err := nc.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cf.Close()
		return err
	}
	netEnd, sessEnd := os.NewFile(uintptr(fds[0]), "session"), os.NewFile(uintptr(fds[1]), "net")
	_, isTCP := nc.RemoteAddr().(*net.TCPAddr)
	c.tls = isTCP
	ncfg := netrole.Config{TLS: isTCP, AuthSeconds: int(s.cfg.AuthTimeout / time.Second), IdleSeconds: int(s.cfg.IdleTimeout / time.Second)}
	if isTCP {
		ncfg.CertChain = s.cfg.Chain
	}
	netSpec := sandbox.Spec{
		Role:   "net",
		Policy: policies.NetloginNet(c.uid, s.empty),
		Files:  append([]sandbox.File{{Name: "client", File: cf}, {Name: "session", File: netEnd}}, containmentFiles()...),
		Config: ncfg,
	}
	sessSpec := sandbox.Spec{
		Role:       "session",
		Policy:     sandbox.Policy{Role: "session"},
		Program:    s.cfg.SessionProgram,
		Privileged: true,
		Files:      []sandbox.File{{Name: "net", File: sessEnd}},
		Config:     s.cfg.Session(rhost(nc)),
	}
	// An event of theirs may come before they are registered below:
	// event() then waits on starting.
	s.starting.RLock()
	defer s.starting.RUnlock()
	ms, err := s.group.Start(sandbox.ExitExpected, netSpec, sessSpec)
	if err != nil {
		return err
	}
	c.net, c.session = ms[0], ms[1]
	s.mu.Lock()
	s.conns[c.net], s.conns[c.session] = c, c
	c.deadline = time.AfterFunc(s.cfg.AuthTimeout+time.Second, func() { s.expire(c) })
	s.mu.Unlock()
	return nil
}

// expire kills a connection that has not authenticated in time.
func (s *Server) expire(c *conn) {
	s.mu.Lock()
	authed := c.authed
	s.mu.Unlock()
	if !authed {
		s.cfg.Log.Info("authentication deadline", "conn", c.id, "source", c.src)
		c.net.Kill()
		c.session.Kill()
	}
}

// event handles what a child sent or how it ended.
func (s *Server) event(ev sandbox.Event) {
	c := s.lookup(ev.Member)
	if c == nil {
		// Not registered yet: wait for the connections being started.
		s.starting.Lock()
		//lint:ignore SA2001 a barrier: it waits for the spawns in flight
		s.starting.Unlock()
		if c = s.lookup(ev.Member); c == nil {
			return
		}
	}
	switch {
	case ev.Exited:
		s.exited(c, ev)
	case ev.Member == c.net:
		s.sign(c, ev.Msg)
	case ev.Member == c.session:
		s.authenticated(c, ev.Msg)
	}
}

func (s *Server) lookup(m *sandbox.Member) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[m]
}

// sign answers [net]'s one signing request, checked byte for byte, for a
// TLS connection only; any other message from [net] ends the connection.
func (s *Server) sign(c *conn, msg []byte) {
	if !c.tls || c.signed || len(msg) < 1 || msg[0] != wire.SignRequest || s.cfg.Key == nil {
		s.cfg.Log.Warn("unexpected message from [net]; ending the connection", "conn", c.id, "bytes", len(msg))
		c.net.Kill()
		c.session.Kill()
		return
	}
	c.signed = true
	in, err := wire.ParseSignRequest(msg)
	if err != nil {
		s.cfg.Log.Warn("refused to sign; ending the connection", "conn", c.id, "err", err)
		c.net.Send([]byte{wire.SignRefused})
		c.net.Kill()
		c.session.Kill()
		return
	}
	if err := c.net.Send(wire.AppendSignAnswer(nil, ed25519.Sign(s.cfg.Key, in))); err != nil {
		c.net.Kill()
	}
}

// authenticated takes [session]'s notice (wire.ParseAuthNotice).
func (s *Server) authenticated(c *conn, msg []byte) {
	user, err := wire.ParseAuthNotice(msg)
	if c.authed || err != nil {
		s.cfg.Log.Error("unexpected message from [session]; ending the connection", "conn", c.id, "bytes", len(msg))
		c.net.Kill()
		c.session.Kill()
		return
	}
	s.mu.Lock()
	c.authed = true
	c.user = user
	s.unauth--
	s.mu.Unlock()
	c.deadline.Stop()
	s.cfg.Log.Info("authenticated", "conn", c.id, "user", c.user, "source", c.src)
	s.events.emit(Record{Event: EventAuthenticated, Conn: c.id, Source: c.src, User: c.user})
}

// exited notes one process's end; the other follows within seconds (it
// reads end-of-file), or is killed. With both gone the uid is free again.
func (s *Server) exited(c *conn, ev sandbox.Event) {
	c.exited++
	other := c.session
	if ev.Member == c.session {
		other = c.net
	}
	if ev.Err != nil {
		s.cfg.Log.Info("exited", "conn", c.id, "role", ev.Member.Role, "status", sandbox.DescribeExit(ev.Err), "syscall", ev.Syscall)
	}
	if c.exited == 1 {
		go func() {
			select {
			case <-other.Done():
			case <-time.After(5 * time.Second):
				other.Kill()
			}
		}()
		return
	}
	c.deadline.Stop()
	s.mu.Lock()
	delete(s.conns, c.net)
	delete(s.conns, c.session)
	s.mu.Unlock()
	s.release(c)
	s.cfg.Log.Info("connection closed", "conn", c.id, "user", c.user)
	s.events.emit(Record{Event: EventClosed, Conn: c.id, Source: c.src, User: c.user,
		NetExit: sandbox.DescribeExit(c.net.Err()), SessionExit: sandbox.DescribeExit(c.session.Err())})
}

// output relays a child's log line into the listener's log.
func (s *Server) output(l sandbox.OutputLine) {
	s.mu.Lock()
	c := s.conns[l.Member]
	s.mu.Unlock()
	var id uint64
	if c != nil {
		id = c.id
	}
	s.cfg.Log.Info("child", "role", l.Member.Role, "pid", l.Member.Pid(), "conn", id, "line", string(l.Text))
}

// ConnInfo describes one connection and its two processes.
type ConnInfo struct {
	ID            uint64
	Source        string
	User          string
	Authenticated bool
	NetUID        uint32
	NetPID        int
	SessionPID    int
	// NetReport and SessionReport are what each process's kernel said
	// in its ready notice.
	NetReport, SessionReport *sandbox.Report
}

// Connections lists the running connections, oldest first.
func (s *Server) Connections() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ConnInfo
	for m, c := range s.conns {
		if m != c.net {
			continue
		}
		out = append(out, ConnInfo{ID: c.id, Source: c.src, User: c.user, Authenticated: c.authed, NetUID: c.uid,
			NetPID: c.net.Pid(), SessionPID: c.session.Pid(), NetReport: c.net.Report, SessionReport: c.session.Report})
	}
	slices.SortFunc(out, func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Stats is a snapshot of the listener's counts.
type Stats struct {
	Connections, Unauthenticated int
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Connections: s.total, Unauthenticated: s.unauth}
}
