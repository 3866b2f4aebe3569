package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/login/hostkey"
	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// netns is a network namespace of the test's own, held by one locked OS
// thread: sockets created by functions run through do live in it, so the
// test's TCP traffic never touches the host's network. The thread is
// thrown away at cleanup, and the namespace goes with the last socket.
type netns struct {
	req chan func()
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace for the TCP tests")
	}
	n := &netns{req: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends the thread with the goroutine,
		// so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		var before, after unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &before); err != nil {
			errc <- err
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		// Make sure the thread really is elsewhere before any socket.
		if err := unix.Stat("/proc/thread-self/ns/net", &after); err != nil || after.Ino == before.Ino {
			errc <- fmt.Errorf("still in the original namespace (%v)", err)
			return
		}
		errc <- loUp()
		for fn := range n.req {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		t.Fatalf("network namespace: %v", err)
	}
	t.Cleanup(func() { close(n.req) })
	return n
}

// loUp brings the namespace's loopback interface up.
func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// do runs fn on the namespace's thread.
func (n *netns) do(fn func()) {
	done := make(chan struct{})
	n.req <- func() { fn(); close(done) }
	<-done
}

// dial runs Dial inside the namespace.
func (n *netns) dial(o Options) (c net.Conn, err error) {
	n.do(func() { c, err = Dial(context.Background(), o) })
	return c, err
}

// identity is a generated host key and its files.
type identity struct {
	certPath string
	fp       string
	cert     tls.Certificate
}

func newIdentity(t *testing.T, hosts ...string) identity {
	t.Helper()
	keyPEM, certPEM, err := hostkey.Generate("netlogind test", hosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id := identity{certPath: filepath.Join(dir, "cert.pem")}
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(id.certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	key, chain, err := hostkey.Load(keyPath, id.certPath)
	if err != nil {
		t.Fatal(err)
	}
	id.fp = hostkey.Fingerprint(chain.DER[0])
	id.cert = chain.TLS(key)
	return id
}

// accepted is what the TLS server saw of one connection.
type accepted struct {
	handshake error
	// appBytes counts the application bytes the client sent; serveErr is
	// the protocol server's error when the handshake succeeded.
	appBytes int
	serveErr error
}

// tlsServer listens on 127.0.0.1 in the namespace and, per connection,
// completes the TLS handshake and runs serve (or, when serve is nil,
// counts what the client sends until it closes).
type tlsServer struct {
	addr string
	mu   sync.Mutex
	seen []accepted
	wg   sync.WaitGroup
}

func startTLS(t *testing.T, n *netns, cfg *tls.Config, serve func(net.Conn) error) *tlsServer {
	t.Helper()
	var ln net.Listener
	var err error
	n.do(func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer raw.Close()
				_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
				c := tls.Server(raw, cfg)
				var a accepted
				a.handshake = c.Handshake()
				if a.handshake == nil && serve != nil {
					a.serveErr = serve(c)
				} else {
					// Whatever the client still sends: with a refused
					// handshake, the protocol must not have begun.
					b, _ := io.ReadAll(c)
					a.appBytes = len(b)
				}
				s.mu.Lock()
				s.seen = append(s.seen, a)
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// connections waits for the server's handlers to finish and returns what
// they saw.
func (s *tlsServer) connections(t *testing.T, want int) []accepted {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		seen := append([]accepted(nil), s.seen...)
		s.mu.Unlock()
		if len(seen) >= want || time.Now().After(deadline) {
			return seen
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func serverConfig(id identity) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{id.cert}, MinVersion: tls.VersionTLS13}
}

// TestTLSSession: a whole session over TLS 1.3 with a pinned fingerprint.
func TestTLSSession(t *testing.T) {
	n := newNetns(t)
	id := newIdentity(t, "127.0.0.1")
	srv := &fakeServer{user: "alice", password: "pw", commands: map[string]result{
		"kill -9 $$": {chunks: []wire.Msg{out(wire.Stderr, "Killed\n")}, exit: 256 + 9},
	}}
	s := startTLS(t, n, serverConfig(id), func(c net.Conn) error { return srv.serve(c) })
	c, err := n.dial(Options{Network: "tcp", Address: s.addr, Fingerprint: id.fp})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if st := c.(*tls.Conn).ConnectionState(); st.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %#x", st.Version)
	}
	ui := &fakeUI{answers: [][]byte{[]byte("alice"), []byte("pw")}, commands: []string{"kill -9 $$"}}
	status, err := Run(context.Background(), c, ui)
	if err != nil || status != 137 {
		t.Fatalf("Run = %d, %v; want 137", status, err)
	}
	if ui.err.String() != "Killed\n" || ui.out.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", ui.out.String(), ui.err.String())
	}
	c.Close()
	if seen := s.connections(t, 1); len(seen) != 1 || seen[0].handshake != nil || seen[0].serveErr != nil {
		t.Errorf("server saw %+v", seen)
	}
}

// TestTLSVerification: who the client accepts as the server.
func TestTLSVerification(t *testing.T) {
	n := newNetns(t)
	id := newIdentity(t, "127.0.0.1", "login.test")
	other := newIdentity(t, "127.0.0.1", "login.test")
	s := startTLS(t, n, serverConfig(id), nil)

	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
		// check the error when not ok (nil: any)
		check func(error) bool
	}{
		{name: "pinned", o: Options{Fingerprint: id.fp}, ok: true},
		{name: "pinned, colon form", o: Options{Fingerprint: colonForm(id.fp)}, ok: true},
		{name: "pinned, ignores the name", o: Options{Fingerprint: id.fp, ServerName: "unrelated.test"}, ok: true},
		{name: "wrong pin", o: Options{Fingerprint: other.fp}, check: func(err error) bool { return errors.Is(err, ErrFingerprint) }},
		{name: "CA, address as name", o: Options{CAFile: id.certPath}, ok: true},
		{name: "CA, DNS name", o: Options{CAFile: id.certPath, ServerName: "login.test"}, ok: true},
		{name: "CA, wrong name", o: Options{CAFile: id.certPath, ServerName: "other.test"}, check: func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}},
		{name: "another CA", o: Options{CAFile: other.certPath}, check: func(err error) bool {
			var ve *tls.CertificateVerificationError
			return errors.As(err, &ve)
		}},
		{name: "CA and pin", o: Options{CAFile: id.certPath, Fingerprint: id.fp}, ok: true},
		{name: "CA right, pin wrong", o: Options{CAFile: id.certPath, Fingerprint: other.fp}, check: func(err error) bool { return errors.Is(err, ErrFingerprint) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.connections(t, 0))
			tc.o.Network, tc.o.Address, tc.o.Timeout = "tcp", s.addr, 10*time.Second
			c, err := n.dial(tc.o)
			if tc.ok {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c.Close()
			} else {
				if err == nil {
					c.Close()
					t.Fatal("Dial accepted the server")
				}
				if tc.check != nil && !tc.check(err) {
					t.Errorf("Dial's error is not the expected kind: %v", err)
				}
			}
			seen := s.connections(t, before+1)
			if len(seen) != before+1 {
				t.Fatalf("server saw %d connections, want %d", len(seen), before+1)
			}
			a := seen[before]
			if !tc.ok {
				// Refused during the handshake: the server's handshake
				// fails on the client's alert, and no protocol byte came.
				if a.handshake == nil || a.appBytes != 0 {
					t.Errorf("server: handshake %v, %d application bytes", a.handshake, a.appBytes)
				}
			}
		})
	}
}

func colonForm(fp string) string {
	h := fp[len(hostkey.FingerprintPrefix):]
	s := hostkey.FingerprintPrefix
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			s += ":"
		}
		s += h[i : i+2]
	}
	return s
}

// TestNoTrust: without a CA file or a pin the client does not even
// connect.
func TestNoTrust(t *testing.T) {
	n := newNetns(t)
	id := newIdentity(t, "127.0.0.1")
	s := startTLS(t, n, serverConfig(id), nil)
	if c, err := n.dial(Options{Network: "tcp", Address: s.addr}); !errors.Is(err, ErrNoTrust) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial = %v, want ErrNoTrust", err)
	}
	// A pinned connection after it is the first the server accepts.
	c, err := n.dial(Options{Network: "tcp", Address: s.addr, Fingerprint: id.fp})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if seen := s.connections(t, 1); len(seen) != 1 || seen[0].handshake != nil {
		t.Errorf("server saw %+v, want only the pinned connection", seen)
	}
}

// TestOldTLS: a server that cannot speak TLS 1.3 is refused.
func TestOldTLS(t *testing.T) {
	n := newNetns(t)
	id := newIdentity(t, "127.0.0.1")
	cfg := serverConfig(id)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	s := startTLS(t, n, cfg, nil)
	if c, err := n.dial(Options{Network: "tcp", Address: s.addr, Fingerprint: id.fp}); err == nil {
		c.Close()
		t.Fatal("Dial accepted TLS 1.2")
	}
	if seen := s.connections(t, 1); len(seen) != 1 || seen[0].handshake == nil {
		t.Errorf("server saw %+v", seen)
	}
}

// TestDialOptions: options that cannot work are refused before any
// socket is opened (prepare is all of Dial that runs before one).
func TestDialOptions(t *testing.T) {
	pin := hostkey.FingerprintPrefix + strings.Repeat("0", 64)
	for name, o := range map[string]Options{
		"unknown network":      {Network: "udp", Address: "127.0.0.1:1", Fingerprint: pin},
		"no network":           {Address: "127.0.0.1:1", Fingerprint: pin},
		"bad fingerprint":      {Network: "tcp", Address: "127.0.0.1:1", Fingerprint: "SHA256:00"},
		"missing CA file":      {Network: "tcp", Address: "127.0.0.1:1", CAFile: "/nonexistent/ca.pem"},
		"empty CA file":        {Network: "tcp", Address: "127.0.0.1:1", CAFile: os.DevNull},
		"address without port": {Network: "tcp", Address: "127.0.0.1", Fingerprint: pin},
		"unix with a CA":       {Network: "unix", Address: "/nonexistent.sock", CAFile: "/etc/hostname"},
		"unix with a pin":      {Network: "unix", Address: "/nonexistent.sock", Fingerprint: pin},
		"unix without a path":  {Network: "unix"},
	} {
		if _, err := prepare(o); err == nil {
			t.Errorf("%s: options accepted", name)
		}
	}
	if _, err := prepare(Options{Network: "tcp", Address: "127.0.0.1:1"}); !errors.Is(err, ErrNoTrust) {
		t.Errorf("no CA and no pin: %v, want ErrNoTrust", err)
	}
	for name, o := range map[string]Options{
		"pin":  {Network: "tcp", Address: "127.0.0.1:1", Fingerprint: pin},
		"unix": {Network: "unix", Address: "/run/netlogind.sock"},
	} {
		if _, err := prepare(o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestUnix: a plain session over a UNIX socket.
func TestUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "netlogind.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &fakeServer{user: "u", password: "p", commands: map[string]result{"true": {}, "false": {exit: 1}}}
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- srv.serve(c)
	}()
	c, err := Dial(context.Background(), Options{Network: "unix", Address: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ui := &fakeUI{answers: [][]byte{[]byte("u"), []byte("p")}, commands: []string{"false", "true"}}
	status, err := Run(context.Background(), c, ui)
	if err != nil || status != 0 {
		t.Errorf("Run = %d, %v; want the last command's 0", status, err)
	}
	if err := <-errc; err != nil {
		t.Errorf("server: %v", err)
	}
	if len(srv.got) != 2 {
		t.Errorf("server ran %q", srv.got)
	}
}
