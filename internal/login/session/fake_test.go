package session

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// fakePAM is an Authenticator with pam_unix's shape: it asks for a
// password whether or not the user exists.
type fakePAM struct {
	f    *fakeSystem
	user string
	conv ConvFunc
}

// fakeSystem is the fake's user database and its record of calls.
type fakeSystem struct {
	mu        sync.Mutex
	calls     []string
	passwords map[string]string
	expired   map[string]bool
	// mapUser is what PAM_USER becomes (a module mapping the name).
	mapUser map[string]string
	// checkDelay is how long checking a known user's password takes;
	// an unknown user is refused at once.
	checkDelay time.Duration
	// env is pam_getenvlist.
	env []string
	// sessionPrompt makes OpenSession prompt, which the conversation
	// must refuse.
	sessionPrompt bool
	// authTexts makes Authenticate send that many texts first.
	authTexts int
	// convErrs records the errors the conversation returned.
	convErrs []error
}

func (f *fakeSystem) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeSystem) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeSystem) start(user string, conv ConvFunc) (Authenticator, error) {
	f.record("start " + user)
	return &fakePAM{f: f, user: user, conv: func(s Style, m string) (string, error) {
		r, err := conv(s, m)
		if err != nil {
			f.mu.Lock()
			f.convErrs = append(f.convErrs, err)
			f.mu.Unlock()
		}
		return r, err
	}}, nil
}

var errFakeAuth = errors.New("fake: authentication failure")

func (p *fakePAM) Authenticate() error {
	p.f.record("authenticate")
	for i := 0; i < p.f.authTexts; i++ {
		if _, err := p.conv(TextInfo, fmt.Sprintf("text %d", i)); err != nil {
			return err
		}
	}
	pw, err := p.conv(PromptEchoOff, "Password: ")
	if err != nil {
		return err
	}
	want, ok := p.f.passwords[p.user]
	if !ok {
		return errFakeAuth
	}
	time.Sleep(p.f.checkDelay)
	if pw != want {
		return errFakeAuth
	}
	return nil
}

func (p *fakePAM) AcctMgmt() error {
	p.f.record("acct_mgmt")
	if p.f.expired[p.user] {
		return fmt.Errorf("fake: %w", ErrNewAuthtokReqd)
	}
	return nil
}

func (p *fakePAM) ChangeExpiredAuthTok() error {
	p.f.record("chauthtok")
	if _, err := p.conv(ErrorMsg, "You are required to change your password immediately"); err != nil {
		return err
	}
	a, err := p.conv(PromptEchoOff, "New password: ")
	if err != nil {
		return err
	}
	b, err := p.conv(PromptEchoOff, "Retype new password: ")
	if err != nil {
		return err
	}
	if a != b || a == p.f.passwords[p.user] {
		return errors.New("fake: passwords do not match")
	}
	p.f.mu.Lock()
	p.f.passwords[p.user] = a
	p.f.expired[p.user] = false
	p.f.mu.Unlock()
	return nil
}

func (p *fakePAM) User() (string, error) {
	if u, ok := p.f.mapUser[p.user]; ok {
		return u, nil
	}
	return p.user, nil
}

func (p *fakePAM) OpenSession() error {
	p.f.record("open_session")
	if p.f.sessionPrompt {
		if _, err := p.conv(PromptEchoOn, "Favourite colour: "); err != nil {
			return err
		}
	}
	_, err := p.conv(TextInfo, "Welcome \x1b[31mhome")
	return err
}

func (p *fakePAM) CloseSession() error { p.f.record("close_session"); return nil }
func (p *fakePAM) Env() ([]string, error) {
	return p.f.env, nil
}
func (p *fakePAM) End() error { p.f.record("end"); return nil }

// fakeHost records Prepare and hands the account's groups back.
type fakeHost struct{ f *fakeSystem }

func (h fakeHost) Prepare(a *Account) error            { h.f.record("prepare " + a.Name); return nil }
func (h fakeHost) Groups(a *Account) ([]uint32, error) { return a.Groups, nil }

// selfAccount resolves every name to the user running the test, with a
// known shell and home, so that commands can run.
func selfAccount(home string) func(string) (*Account, error) {
	return func(name string) (*Account, error) {
		gs, err := syscall.Getgroups()
		if err != nil {
			return nil, err
		}
		a := &Account{Name: name, Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), Home: home, Shell: "/bin/sh"}
		for _, g := range gs {
			a.Groups = append(a.Groups, uint32(g))
		}
		return a, nil
	}
}

// socketpair returns the two ends of a SOCK_STREAM pair, as [session] and
// [net] hold them.
func socketpair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1]
}

// peer plays [net]: it checks every message of the server with its own
// Conversation, as [net] does.
type peer struct {
	t    *testing.T
	c    *net.UnixConn
	r    *wire.Reader
	w    *wire.Writer
	conv wire.Conversation
}

func newPeer(t *testing.T, c *net.UnixConn) *peer {
	return &peer{t: t, c: c, r: wire.NewReader(c), w: wire.NewWriter(c)}
}

// read returns the server's next message, failing the test on anything
// malformed or out of turn.
func (p *peer) read() wire.Msg {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	m, err := p.r.Read()
	if err != nil {
		p.t.Fatalf("reading from the session: %v", err)
	}
	if err := p.conv.Check(wire.Server, &m); err != nil {
		p.t.Fatalf("the session sent %+v: %v", m, err)
	}
	if m.Data != nil {
		m.Data = slices.Clone(m.Data)
	}
	return m
}

// send writes m, which must be in turn for a client.
func (p *peer) send(m wire.Msg) {
	p.t.Helper()
	if err := p.conv.Check(wire.Client, &m); err != nil {
		p.t.Fatalf("test bug: %v", err)
	}
	if err := p.w.Write(&m); err != nil {
		p.t.Fatalf("writing to the session: %v", err)
	}
}

// sendRaw writes bytes as they are, for hostile input.
func (p *peer) sendRaw(b []byte) {
	p.t.Helper()
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatalf("writing to the session: %v", err)
	}
}

// expectEOF checks that the server sends nothing more.
func (p *peer) expectEOF() {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	m, err := p.r.Read()
	if err == nil {
		p.t.Fatalf("the session sent %s %q after it should have stopped", m.Type, m.Text)
	}
}

// transcript is what the client saw of a login.
type transcript struct {
	msgs []wire.Msg // Text and Prompt messages, and the Auth
	auth wire.Msg
	// answered is when the last answer was sent, authAt when Auth came.
	answered, authAt time.Time
}

// login answers each prompt with the next of answers (failing the test
// when they run out) until Auth.
func (p *peer) login(answers ...string) transcript {
	p.t.Helper()
	return p.loginFunc(func(m wire.Msg) string {
		p.t.Helper()
		if len(answers) == 0 {
			p.t.Fatalf("unexpected prompt %q", m.Text)
		}
		a := answers[0]
		answers = answers[1:]
		return a
	})
}

// loginFunc answers each prompt with answer's result until Auth.
func (p *peer) loginFunc(answer func(prompt wire.Msg) string) transcript {
	p.t.Helper()
	var tr transcript
	for {
		m := p.read()
		tr.msgs = append(tr.msgs, m)
		switch m.Type {
		case wire.TypePrompt:
			a := answer(m)
			// Taken before the write: the server counts from when it
			// read the answer, which cannot be earlier.
			tr.answered = time.Now()
			p.send(wire.Msg{Type: wire.TypeReply, Data: []byte(a)})
		case wire.TypeAuth:
			tr.auth, tr.authAt = m, time.Now()
			return tr
		}
	}
}

// result is what a command gave.
type result struct {
	stdout, stderr []byte
	chunks         int
	firstAt, endAt time.Time
	status         uint16
}

// command runs line and collects its output up to Exit.
func (p *peer) command(line string) result {
	p.t.Helper()
	p.send(wire.Msg{Type: wire.TypeCommand, Text: line})
	var r result
	for {
		m := p.read()
		switch m.Type {
		case wire.TypeOutput:
			if r.chunks == 0 {
				r.firstAt = time.Now()
			}
			r.chunks++
			if m.Stream == wire.Stdout {
				r.stdout = append(r.stdout, m.Data...)
			} else {
				r.stderr = append(r.stderr, m.Data...)
			}
		case wire.TypeExit:
			r.status, r.endAt = m.Status, time.Now()
			return r
		default:
			p.t.Fatalf("unexpected %s while a command runs", m.Type)
		}
	}
}

// start runs Run on one end of a socketpair and returns the peer on the
// other, and Run's result.
func start(t *testing.T, o Options) (*peer, <-chan error) {
	t.Helper()
	srv, cli := socketpair(t)
	t.Cleanup(func() { cli.Close() })
	errc := make(chan error, 1)
	go func() {
		err := Run(srv, o)
		srv.Close()
		errc <- err
	}()
	return newPeer(t, cli), errc
}

// wait returns Run's result.
func wait(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
