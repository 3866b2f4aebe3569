package listener_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/listener"
	"github.com/ndhc-go/ndhc/internal/login/logintest"
	"github.com/ndhc-go/ndhc/internal/login/netrole"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

func TestMain(m *testing.M) {
	if role, ok := sandbox.IsChild(); ok {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		switch role {
		case probe.Role:
			probe.Child(listener.AuditActions())
		case "net":
			netrole.Main(log)
		case "session":
			fakeSession(log)
		}
		os.Exit(99)
	}
	// These tests enter real sandboxes, which a cgo build cannot.
	if err := sandbox.CheckBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "these tests enter real sandboxes:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

type fakeConfig struct {
	Peer string `json:"peer"`
}

// fakeSession plays [session] without PAM: user alice, password "pw";
// each command's line comes back as its output, "exit N" exits N.
func fakeSession(log *slog.Logger) {
	in, err := sandbox.Inherit()
	if err != nil {
		log.Error("inherit", "err", err)
		os.Exit(10)
	}
	var cfg fakeConfig
	if err := in.Config(&cfg); err != nil {
		os.Exit(11)
	}
	f, err := in.File("net")
	if err != nil {
		os.Exit(12)
	}
	if _, err := in.Ready(sandbox.Options{}); err != nil {
		os.Exit(13)
	}
	r, w := wire.NewReader(f), wire.NewWriter(f)
	var conv wire.Conversation
	send := func(m wire.Msg) {
		if err := conv.Check(wire.Server, &m); err != nil {
			os.Exit(20)
		}
		if err := w.Write(&m); err != nil {
			os.Exit(21)
		}
	}
	recv := func() wire.Msg {
		m, err := r.Read()
		if err != nil {
			log.Info("session: read", "err", err)
			os.Exit(22)
		}
		if err := conv.Check(wire.Client, &m); err != nil {
			os.Exit(23)
		}
		if m.Type == wire.TypeFinish {
			send(wire.Msg{Type: wire.TypeFinish})
			os.Exit(0)
		}
		return m
	}
	send(wire.Msg{Type: wire.TypeText, Text: "fake session for " + cfg.Peer + "\n"})
	send(wire.Msg{Type: wire.TypePrompt, Echo: true, Text: "Username: "})
	user := string(recv().Data)
	send(wire.Msg{Type: wire.TypePrompt, Text: "Password: "})
	pw := string(recv().Data)
	if user != "alice" || pw != "pw" {
		send(wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthFailed)})
		send(wire.Msg{Type: wire.TypeFinish, Status: 1})
		os.Exit(0)
	}
	send(wire.Msg{Type: wire.TypeAuth, Text: user})
	sandbox.Send(in.Ctl, []byte("A"+user))
	for {
		m := recv()
		var code uint16
		if n, ok := strings.CutPrefix(m.Text, "exit "); ok {
			c, _ := big.NewInt(0).SetString(n, 10)
			code = uint16(c.Int64())
		} else {
			send(wire.Msg{Type: wire.TypeOutput, Stream: wire.Stdout, Data: []byte(m.Text)})
		}
		send(wire.Msg{Type: wire.TypeExit, Status: code})
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: spawns [net] under its own uid in a chroot, and a network namespace")
	}
}

type testServer struct {
	*listener.Server
	events *syncBuffer
	ns     *logintest.NetNS
	cert   *x509.Certificate
	tcp    string
	unix   string
	cancel context.CancelFunc
	done   chan error
}

func hostKey(t *testing.T) (ed25519.PrivateKey, *x509.Certificate) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netlogind test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func startServer(t *testing.T, tune func(*listener.Config)) *testServer {
	t.Helper()
	requireRoot(t)
	ns, err := logintest.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	key, cert := hostKey(t)
	dir := t.TempDir()
	cfg := listener.Config{
		TCP: "127.0.0.1:0", Unix: filepath.Join(dir, "netlogind.sock"),
		Key: key, Chain: [][]byte{cert.Raw},
		SessionProgram: self,
		Session:        func(peer string) any { return fakeConfig{Peer: peer} },
		NetUIDFirst:    62900, NetUIDLast: 62999,
		RunDir:      filepath.Join(dir, "run"),
		AuthTimeout: 3 * time.Second,
		Log:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})),
	}
	events := &syncBuffer{}
	cfg.Events = events
	if tune != nil {
		tune(&cfg)
	}
	ts := &testServer{ns: ns, cert: cert, unix: cfg.Unix, done: make(chan error, 1), events: events}
	if err := ns.Do(func() error {
		var err error
		ts.Server, err = listener.New(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, a := range ts.Addrs() {
		if a.Network() == "tcp" {
			ts.tcp = a.String()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- ts.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(15 * time.Second):
			t.Error("the listener did not stop within 15 s")
		}
	})
	return ts
}

// dialTLS connects to the TCP listener from inside the namespace.
func (ts *testServer) dialTLS(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	if err := ts.ns.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", ts.tcp, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ts.cert)
	tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return tc
}

func (ts *testServer) dialUnix(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", ts.unix, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// client is the test's side of the protocol.
type client struct {
	t    *testing.T
	r    *wire.Reader
	w    *wire.Writer
	conv wire.Conversation
}

func newClient(t *testing.T, c net.Conn) *client {
	return &client{t: t, r: wire.NewReader(c), w: wire.NewWriter(c)}
}

func (c *client) send(m wire.Msg) {
	c.t.Helper()
	if err := c.conv.Check(wire.Client, &m); err != nil {
		c.t.Fatal(err)
	}
	if err := c.w.Write(&m); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv() wire.Msg {
	c.t.Helper()
	m, err := c.r.Read()
	if err != nil {
		c.t.Fatalf("reading from the server: %v", err)
	}
	if err := c.conv.Check(wire.Server, &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// login answers the prompts and returns the Auth message.
func (c *client) login(user, pw string) wire.Msg {
	c.t.Helper()
	answers := []string{user, pw}
	for {
		m := c.recv()
		switch m.Type {
		case wire.TypePrompt:
			if len(answers) == 0 {
				c.t.Fatalf("unexpected prompt %q", m.Text)
			}
			c.send(wire.Msg{Type: wire.TypeReply, Data: []byte(answers[0])})
			answers = answers[1:]
		case wire.TypeAuth:
			return m
		}
	}
}

// run sends a command and returns its output and status.
func (c *client) run(line string) (string, uint16) {
	c.t.Helper()
	c.send(wire.Msg{Type: wire.TypeCommand, Text: line})
	var out strings.Builder
	for {
		m := c.recv()
		switch m.Type {
		case wire.TypeOutput:
			out.Write(m.Data)
		case wire.TypeExit:
			return out.String(), m.Status
		default:
			c.t.Fatalf("unexpected %s while a command runs", m.Type)
		}
	}
}

func (c *client) finish() {
	c.t.Helper()
	c.send(wire.Msg{Type: wire.TypeFinish})
	for {
		if m := c.recv(); m.Type == wire.TypeFinish {
			return
		}
	}
}

// waitIdle waits until the server has no connection left.
func waitIdle(t *testing.T, ts *testServer) {
	t.Helper()
	for range 200 {
		if ts.Stats() == (listener.Stats{}) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("connections left after 10 s: %+v", ts.Stats())
}

func TestLoginTLS(t *testing.T) {
	ts := startServer(t, nil)
	c := newClient(t, ts.dialTLS(t))
	if a := c.login("alice", "pw"); a.Status != uint16(wire.AuthOK) || a.Text != "alice" {
		t.Fatalf("auth = %+v", a)
	}
	// [session]'s notice to the listener travels apart from the Auth
	// message: wait for it.
	var conns []listener.ConnInfo
	for range 100 {
		if conns = ts.Connections(); len(conns) == 1 && conns[0].Authenticated {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(conns) != 1 || !conns[0].Authenticated || conns[0].User != "alice" {
		t.Fatalf("connections = %+v", conns)
	}
	ci := conns[0]
	st := ci.NetReport.Status
	if st.Uid[0] != ci.NetUID || st.Uid[1] != ci.NetUID || ci.NetUID < 62900 || ci.NetUID > 62999 {
		t.Errorf("[net] uid %v, want %d from the range", st.Uid, ci.NetUID)
	}
	if st.CapEff != 0 || st.CapPrm != 0 || st.CapBnd != 0 || st.NoNewPrivs != 1 || st.Seccomp != 2 {
		t.Errorf("[net] status %s: want no capability, no_new_privs, a seccomp filter", st)
	}
	if root, err := os.Readlink("/proc/" + itoa(ci.NetPID) + "/root"); err != nil || !strings.HasSuffix(root, "/run/empty") {
		t.Errorf("[net] root %q (%v), want the empty directory", root, err)
	}
	recs := ts.events.records(t, listener.EventConnection)
	if len(recs) != 1 || recs[0].Net.Pid != ci.NetPID || recs[0].Net.Report.Status.Uid[0] != ci.NetUID || recs[0].Session.Pid != ci.SessionPID {
		t.Errorf("connection records %+v, want one naming [net] %d (uid %d) and [session] %d", recs, ci.NetPID, ci.NetUID, ci.SessionPID)
	}
	if recs := ts.events.records(t, listener.EventAuthenticated); len(recs) != 1 || recs[0].User != "alice" {
		t.Errorf("authenticated records %+v", recs)
	}
	if ci.SessionReport.Status.Uid[0] != 0 {
		t.Errorf("[session] uid %v, want root", ci.SessionReport.Status.Uid)
	}
	if out, code := c.run("hello there"); out != "hello there" || code != 0 {
		t.Errorf("command: %q %d", out, code)
	}
	if _, code := c.run("exit 7"); code != 7 {
		t.Errorf("exit status %d, want 7", code)
	}
	c.finish()
	waitIdle(t, ts)
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestLoginUnixAndFailure(t *testing.T) {
	ts := startServer(t, nil)
	c := newClient(t, ts.dialUnix(t))
	if a := c.login("alice", "wrong"); a.Status != uint16(wire.AuthFailed) {
		t.Fatalf("auth with a wrong password = %+v", a)
	}
	for m := c.recv(); m.Type != wire.TypeFinish; m = c.recv() {
	}
	// After its Finish, the failed connection's processes go away.
	waitIdle(t, ts)
	c2 := newClient(t, ts.dialUnix(t))
	if a := c2.login("alice", "pw"); a.Status != uint16(wire.AuthOK) {
		t.Fatalf("auth = %+v", a)
	}
	if ci := ts.Connections(); len(ci) != 1 || !strings.HasPrefix(ci[0].Source, "uid 0") {
		t.Errorf("connections = %+v, want one from uid 0", ci)
	}
	c2.finish()
	waitIdle(t, ts)
}

// TestSilentClientCut: a client that says nothing is cut at the
// authentication deadline, by [net] and by the listener.
func TestSilentClientCut(t *testing.T) {
	ts := startServer(t, nil)
	start := time.Now()
	c := ts.dialUnix(t)
	// Reads the greeting and the prompt, then stays silent.
	b, err := io.ReadAll(c)
	took := time.Since(start)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Logf("read: %v", err)
	}
	if len(b) == 0 {
		t.Error("no prompt before the cut")
	}
	if took < 2*time.Second || took > 8*time.Second {
		t.Errorf("cut after %v, want about the 3 s deadline", took)
	}
	waitIdle(t, ts)
}

// TestHostileClients: each hostile message ends its own connection and
// no other.
func TestHostileClients(t *testing.T) {
	ts := startServer(t, nil)
	good := newClient(t, ts.dialTLS(t))
	if a := good.login("alice", "pw"); a.Status != uint16(wire.AuthOK) {
		t.Fatalf("auth = %+v", a)
	}
	frame := func(typ byte, body ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
		return append(append(b, typ), body...)
	}
	for name, raw := range map[string][]byte{
		"huge length":         {0x7f, 0xff, 0xff, 0xff, 3},
		"zero length":         {0, 0, 0, 0},
		"server-only type":    frame(byte(wire.TypeAuth), 0, 0, 5, 'a', 'l', 'i', 'c', 'e'),
		"command before auth": frame(byte(wire.TypeCommand), 0, 2, 'i', 'd'),
		"unknown type":        frame(200),
		"NUL in reply":        frame(byte(wire.TypeReply), 0, 3, 'a', 0, 'b'),
	} {
		c := ts.dialTLS(t)
		r := wire.NewReader(c)
		// The greeting and the username prompt come first.
		for range 2 {
			if _, err := r.Read(); err != nil {
				t.Fatalf("%s: reading the prompt: %v", name, err)
			}
		}
		if _, err := c.Write(raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := r.Read(); err == nil {
			t.Errorf("%s: the server answered", name)
		}
		c.Close()
	}
	// The good connection is untouched.
	if out, code := good.run("still here"); out != "still here" || code != 0 {
		t.Errorf("after the hostile clients: %q %d", out, code)
	}
	good.finish()
	waitIdle(t, ts)
}

// TestUnauthenticatedCap: past MaxUnauth idle connections, new ones are
// closed at once, and an authenticated one frees its place.
func TestUnauthenticatedCap(t *testing.T) {
	ts := startServer(t, func(c *listener.Config) { c.MaxUnauth = 2; c.AuthTimeout = 20 * time.Second })
	a := newClient(t, ts.dialUnix(t))
	b := ts.dialUnix(t)
	for range 100 {
		if ts.Stats().Unauthenticated == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	refused := ts.dialUnix(t)
	if n, err := refused.Read(make([]byte, 1)); err == nil {
		t.Errorf("a third unauthenticated connection was served (%d bytes)", n)
	}
	if recs := ts.events.records(t, listener.EventRefused); len(recs) != 1 || recs[0].Limit != "unauthenticated" {
		t.Errorf("refused records %+v, want one for the unauthenticated limit", recs)
	}
	if au := a.login("alice", "pw"); au.Status != uint16(wire.AuthOK) {
		t.Fatal(au)
	}
	// The client reads AuthOK before the listener has counted the
	// authentication (its notice comes from [session] on another
	// channel): wait for the count, as a new client would have to.
	for i := 0; ts.Stats().Unauthenticated != 1; i++ {
		if i == 200 {
			t.Fatalf("unauthenticated connections %d after a login, want 1", ts.Stats().Unauthenticated)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := newClient(t, ts.dialUnix(t))
	if au := c.login("alice", "pw"); au.Status != uint16(wire.AuthOK) {
		t.Fatalf("after one authenticated: %+v", au)
	}
	a.finish()
	c.finish()
	b.Close()
	waitIdle(t, ts)
}

// TestSecondInstanceRefused: the lock and the answering socket.
func TestSecondInstanceRefused(t *testing.T) {
	ts := startServer(t, nil)
	_, err := listener.New(listener.Config{Unix: ts.unix, SessionProgram: "/bin/true", RunDir: filepath.Join(filepath.Dir(ts.unix), "run")})
	if err == nil {
		t.Fatal("a second listener on the same run directory started")
	}
}

// logLevel is the listener's log level in tests: NETLOGIND_TEST_LOG=debug
// shows everything, children's lines included.
var logLevel = func() slog.Level {
	if os.Getenv("NETLOGIND_TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}()

// TestAudit proves [net]'s policy with the framework's probes: the
// battery and the rows of one connection against another.
func TestAudit(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := probe.RunAudit([]probe.Subject{listener.AuditSubject(62950, dir)}, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Pass {
		var b strings.Builder
		a.WriteText(&b)
		t.Fatalf("audit failed:\n%s", b.String())
	}
	if n := len(a.Roles[0].Results); n != len(listener.AuditActions()) {
		t.Errorf("%d results, want %d", n, len(listener.AuditActions()))
	}
}

// syncBuffer collects the listener's event stream.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// records decodes the stream so far and returns the records of one kind.
func (b *syncBuffer) records(t *testing.T, kind string) []listener.Record {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []listener.Record
	dec := json.NewDecoder(bytes.NewReader(b.b.Bytes()))
	for dec.More() {
		var r listener.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if r.Event == kind {
			out = append(out, r)
		}
	}
	return out
}
