package session

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running commands with SysProcAttr.Credential (setgroups) needs root")
	}
}

func newFake() *fakeSystem {
	return &fakeSystem{
		passwords: map[string]string{"alice": "wonderland", "bob": "builder"},
		expired:   map[string]bool{},
		mapUser:   map[string]string{},
	}
}

func options(f *fakeSystem, home string) Options {
	return Options{
		Start:     f.start,
		FailDelay: 300 * time.Millisecond,
		Host:      fakeHost{f},
		Lookup:    selfAccount(home),
		Log:       slog.New(slog.DiscardHandler),
	}
}

func TestLoginCommandsFinish(t *testing.T) {
	needRoot(t)
	f := newFake()
	f.mapUser["alice"] = "alice.m"
	f.env = []string{"FOO=bar", "LD_PRELOAD=/nonexistent.so", "PATH=/evil", "HOME=/evil", "BASH_ENV=/evil"}
	home := t.TempDir()
	o := options(f, home)
	told := make(chan string, 2)
	o.OnAuth = func(u string) error { told <- u; return nil }
	p, errc := start(t, o)

	tr := p.login("alice", "wonderland")
	if tr.auth.Status != uint16(wire.AuthOK) || tr.auth.Text != "alice.m" {
		t.Fatalf("Auth = %+v, want OK for the mapped name alice.m", tr.auth)
	}
	var prompts []string
	var texts []string
	for _, m := range tr.msgs {
		switch m.Type {
		case wire.TypePrompt:
			prompts = append(prompts, strconv.FormatBool(m.Echo)+":"+m.Text)
		case wire.TypeText:
			texts = append(texts, m.Text)
		}
	}
	if want := []string{"true:Username: ", "false:Password: "}; !slices.Equal(prompts, want) {
		t.Errorf("prompts %q, want %q", prompts, want)
	}
	// The session module's text, with its escape sequence defused.
	if want := []string{"Welcome ?[31mhome\n"}; !slices.Equal(texts, want) {
		t.Errorf("texts %q, want %q", texts, want)
	}
	select {
	case u := <-told:
		if u != "alice.m" {
			t.Errorf("OnAuth got %q, want alice.m", u)
		}
	case <-time.After(10 * time.Second):
		t.Error("OnAuth not called")
	}
	// Prepare (loginuid, groups) comes before PAM's session phase.
	if want := []string{"start alice", "authenticate", "acct_mgmt", "prepare alice.m", "open_session"}; !slices.Equal(f.callLog(), want) {
		t.Errorf("calls %q, want %q", f.callLog(), want)
	}

	r := p.command("echo out; echo err >&2; pwd; exit 3")
	if r.status != 3 || string(r.stdout) != "out\n"+home+"\n" || string(r.stderr) != "err\n" {
		t.Errorf("command gave status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
	r = p.command("env")
	env := strings.Split(strings.TrimSuffix(string(r.stdout), "\n"), "\n")
	for _, kv := range []string{"FOO=bar", "PATH=" + DefaultPath, "HOME=" + home, "USER=alice.m", "LOGNAME=alice.m", "SHELL=/bin/sh"} {
		if !slices.Contains(env, kv) {
			t.Errorf("command environment lacks %s: %q", kv, env)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "LD_") || strings.HasPrefix(kv, "BASH_ENV=") || kv == "PATH=/evil" {
			t.Errorf("command environment has %s", kv)
		}
	}
	if len(r.stderr) != 0 {
		t.Errorf("env wrote to stderr: %q", r.stderr)
	}

	p.send(wire.Msg{Type: wire.TypeFinish})
	if m := p.read(); m.Type != wire.TypeFinish || m.Status != 0 {
		t.Fatalf("got %+v, want Finish 0", m)
	}
	// PAM was closed before the answer.
	if want := []string{"open_session", "close_session", "end"}; !slices.Equal(f.callLog()[4:], want) {
		t.Errorf("calls after the session %q, want %q", f.callLog()[4:], want)
	}
	if err := wait(t, errc); err != nil {
		t.Errorf("Run = %v, want nil after Finish", err)
	}
	p.expectEOF()
}

func TestOutputStreamingAndExitStatuses(t *testing.T) {
	needRoot(t)
	f := newFake()
	p, errc := start(t, options(f, "/nonexistent-home"))
	if tr := p.login("bob", "builder"); tr.auth.Status != uint16(wire.AuthOK) {
		t.Fatalf("Auth = %+v", tr.auth)
	}
	for _, tc := range []struct {
		line string
		want uint16
	}{
		{"exit 0", 0},
		{"exit 255", 255},
		{"kill -TERM $$", 256 + uint16(syscall.SIGTERM)},
		{"kill -KILL $$", 256 + uint16(syscall.SIGKILL)},
		{"/nonexistent/program", 127},
	} {
		if r := p.command(tc.line); r.status != tc.want {
			t.Errorf("%q: status %d, want %d", tc.line, r.status, tc.want)
		}
	}
	// A missing home: the command runs in /.
	if r := p.command("pwd"); string(r.stdout) != "/\n" {
		t.Errorf("pwd with a missing home: %q, want /", r.stdout)
	}
	// Large output comes in chunks no larger than the wire allows.
	const n = 5*wire.MaxOutput + 123
	r := p.command("head -c " + strconv.Itoa(n) + " /dev/zero")
	if len(r.stdout) != n || r.chunks < n/wire.MaxOutput+1 || !bytes.Equal(r.stdout, make([]byte, n)) {
		t.Errorf("got %d bytes in %d chunks, want %d bytes in at least %d", len(r.stdout), r.chunks, n, n/wire.MaxOutput+1)
	}
	// Output is sent as it comes, not when the command ends.
	r = p.command("echo first; sleep 1; echo second")
	if string(r.stdout) != "first\nsecond\n" || r.chunks != 2 {
		t.Fatalf("got %q in %d chunks", r.stdout, r.chunks)
	}
	if gap := r.endAt.Sub(r.firstAt); gap < 700*time.Millisecond {
		t.Errorf("first chunk came %v before Exit, want it streamed about 1s earlier", gap)
	}
	// A background job holding stdout does not hold the session.
	t0 := time.Now()
	r = p.command("sleep 30 & echo $!")
	if d := time.Since(t0); d > outputGrace+3*time.Second || r.status != 0 {
		t.Errorf("a command leaving a background job took %v (status %d)", d, r.status)
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(r.stdout))); err == nil {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	p.send(wire.Msg{Type: wire.TypeFinish})
	if m := p.read(); m.Type != wire.TypeFinish {
		t.Fatalf("got %s, want Finish", m.Type)
	}
	if err := wait(t, errc); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// alive reports whether pid still runs (a zombie counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func TestFinishKillsRunningCommand(t *testing.T) {
	needRoot(t)
	f := newFake()
	p, errc := start(t, options(f, "/"))
	p.login("bob", "builder")
	p.send(wire.Msg{Type: wire.TypeCommand, Text: "sleep 60 & echo $!; wait"})
	m := p.read()
	if m.Type != wire.TypeOutput {
		t.Fatalf("got %s, want the background pid", m.Type)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(m.Data)))
	if err != nil || !alive(pid) {
		t.Fatalf("background job %q not running", m.Data)
	}
	p.send(wire.Msg{Type: wire.TypeFinish})
	if m := p.read(); m.Type != wire.TypeFinish {
		t.Fatalf("got %s, want Finish", m.Type)
	}
	if err := wait(t, errc); err != nil {
		t.Errorf("Run = %v", err)
	}
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the command's process group survived Finish (pid %d)", pid)
	}
	if log := f.callLog(); !slices.Contains(log, "close_session") || log[len(log)-1] != "end" {
		t.Errorf("PAM not closed: %q", log)
	}
}

// failure runs a failing login and returns its transcript without times.
func failure(t *testing.T, f *fakeSystem, answers ...string) (transcript, error) {
	t.Helper()
	p, errc := start(t, options(f, "/"))
	tr := p.login(answers...)
	if m := p.read(); m.Type != wire.TypeFinish || m.Status == 0 {
		t.Errorf("after a failed Auth: %+v, want Finish with a failure status", m)
	}
	p.expectEOF()
	return tr, wait(t, errc)
}

func TestFailureLooksTheSame(t *testing.T) {
	f := newFake()
	// Checking a known user's password takes a while; an unknown user is
	// refused at once. The answers must still come at the same time.
	// The tolerance stays under checkDelay, so that a missing
	// equalisation fails, and over what a loaded machine adds to a timer
	// (60 ms failed once with other test binaries running).
	f.checkDelay = 150 * time.Millisecond
	const delay = 300 * time.Millisecond // options' FailDelay
	const tolerance = 100 * time.Millisecond

	// Each three times, the fastest of each compared: load only ever
	// adds time to a run (a single pair once differed by 230 ms on a
	// machine at a load of 15).
	var wrong, unknown transcript
	for i := range 3 {
		w, err1 := failure(t, f, "alice", "not-it")
		u, err2 := failure(t, f, "mallory", "whatever")
		for _, err := range []error{err1, err2} {
			if !errors.Is(err, ErrAuthFailed) {
				t.Errorf("Run = %v, want ErrAuthFailed", err)
			}
		}
		if i == 0 || w.authAt.Sub(w.answered) < wrong.authAt.Sub(wrong.answered) {
			wrong = w
		}
		if i == 0 || u.authAt.Sub(u.answered) < unknown.authAt.Sub(unknown.answered) {
			unknown = u
		}
	}
	if diff := cmp.Diff(wrong.msgs, unknown.msgs); diff != "" {
		t.Errorf("wrong password and unknown user differ (-wrong +unknown):\n%s", diff)
	}
	if wrong.auth.Status != uint16(wire.AuthFailed) {
		t.Errorf("Auth status %d, want AuthFailed", wrong.auth.Status)
	}
	dw, du := wrong.authAt.Sub(wrong.answered), unknown.authAt.Sub(unknown.answered)
	if dw < delay || du < delay {
		t.Errorf("answered %v and %v after the password, want at least %v", dw, du, delay)
	}
	if d := dw - du; d > tolerance || d < -tolerance {
		t.Errorf("wrong password answered after %v, unknown user after %v: differ by more than %v", dw, du, tolerance)
	}

	// A name that cannot be a user fails the same way, after the delay,
	// without reaching PAM.
	before := len(f.callLog())
	bad, err := failure(t, f, "-oProxyCommand")
	if !errors.Is(err, ErrAuthFailed) || bad.auth.Status != uint16(wire.AuthFailed) {
		t.Errorf("bad name: Run = %v, Auth %+v", err, bad.auth)
	}
	if d := bad.authAt.Sub(bad.answered); d < delay {
		t.Errorf("bad name answered after %v, want at least %v", d, delay)
	}
	if got := f.callLog()[before:]; len(got) != 0 {
		t.Errorf("a bad name reached PAM: %q", got)
	}
	if got, want := bad.msgs[len(bad.msgs)-2:], wrong.msgs[len(wrong.msgs)-2:]; !cmp.Equal(got, want) {
		t.Errorf("bad name ends with %+v, a wrong password with %+v", got, want)
	}
}

func TestExpiredPasswordIsChanged(t *testing.T) {
	needRoot(t)
	f := newFake()
	f.expired["alice"] = true
	p, errc := start(t, options(f, "/"))
	tr := p.login("alice", "wonderland", "looking-glass", "looking-glass")
	if tr.auth.Status != uint16(wire.AuthOK) {
		t.Fatalf("Auth = %+v, want OK after the change", tr.auth)
	}
	f.mu.Lock()
	changed := f.passwords["alice"]
	f.mu.Unlock()
	if changed != "looking-glass" {
		t.Errorf("password not changed")
	}
	if want := []string{"start alice", "authenticate", "acct_mgmt", "chauthtok", "prepare alice", "open_session"}; !slices.Equal(f.callLog(), want) {
		t.Errorf("calls %q, want %q", f.callLog(), want)
	}
	p.send(wire.Msg{Type: wire.TypeFinish})
	p.read()
	if err := wait(t, errc); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestSessionPhaseRefusesPrompts(t *testing.T) {
	f := newFake()
	f.sessionPrompt = true
	p, errc := start(t, options(f, "/"))
	tr := p.login("alice", "wonderland") // a third prompt fails the test
	if tr.auth.Status != uint16(wire.AuthError) {
		t.Errorf("Auth = %+v, want AuthError", tr.auth)
	}
	if m := p.read(); m.Type != wire.TypeFinish {
		t.Errorf("got %s, want Finish", m.Type)
	}
	if err := wait(t, errc); !errors.Is(err, ErrServer) {
		t.Errorf("Run = %v, want ErrServer", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.convErrs) != 1 || !errors.Is(f.convErrs[0], errPromptRefused) {
		t.Errorf("conversation errors %v, want one refused prompt", f.convErrs)
	}
}

func TestConversationMessageCap(t *testing.T) {
	f := newFake()
	f.authTexts = MaxConvMessages + 10
	p, errc := start(t, options(f, "/"))
	tr := p.login("alice")
	texts := 0
	for _, m := range tr.msgs {
		if m.Type == wire.TypeText && strings.HasPrefix(m.Text, "text ") {
			texts++
		}
	}
	if texts != MaxConvMessages || tr.auth.Status != uint16(wire.AuthFailed) {
		t.Errorf("%d PAM texts relayed then Auth %d; want %d then AuthFailed", texts, tr.auth.Status, MaxConvMessages)
	}
	p.read()
	if err := wait(t, errc); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("Run = %v, want ErrAuthFailed", err)
	}
}

func TestDeadline(t *testing.T) {
	f := newFake()
	o := options(f, "/")
	o.AuthDeadline = 300 * time.Millisecond
	p, errc := start(t, o)
	t0 := time.Now()
	p.read() // Username:, never answered
	m := p.read()
	if m.Type != wire.TypeAuth || m.Status != uint16(wire.AuthTimeout) {
		t.Fatalf("got %+v, want Auth timeout", m)
	}
	if d := time.Since(t0); d < o.AuthDeadline {
		t.Errorf("timed out after %v, before the deadline %v", d, o.AuthDeadline)
	}
	if m := p.read(); m.Type != wire.TypeFinish {
		t.Errorf("got %s, want Finish", m.Type)
	}
	if err := wait(t, errc); !errors.Is(err, ErrAuthTimeout) {
		t.Errorf("Run = %v, want ErrAuthTimeout", err)
	}

	// The deadline covers the whole login, not each prompt.
	p, errc = start(t, o)
	p.read()
	time.Sleep(200 * time.Millisecond)
	p.send(wire.Msg{Type: wire.TypeReply, Data: []byte("alice")})
	p.read() // Password:
	time.Sleep(200 * time.Millisecond)
	if m := p.read(); m.Type != wire.TypeAuth || m.Status != uint16(wire.AuthTimeout) {
		t.Fatalf("got %+v, want Auth timeout", m)
	}
	p.read()
	if err := wait(t, errc); !errors.Is(err, ErrAuthTimeout) {
		t.Errorf("Run = %v, want ErrAuthTimeout", err)
	}
	if log := f.callLog(); log[len(log)-1] != "end" {
		t.Errorf("PAM not ended: %q", log)
	}
}

func TestClientFinishDuringLogin(t *testing.T) {
	f := newFake()
	p, errc := start(t, options(f, "/"))
	p.read()
	p.send(wire.Msg{Type: wire.TypeReply, Data: []byte("alice")})
	p.read()
	p.send(wire.Msg{Type: wire.TypeFinish})
	if m := p.read(); m.Type != wire.TypeFinish || m.Status != 0 {
		t.Errorf("got %+v, want Finish 0", m)
	}
	if err := wait(t, errc); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if log := f.callLog(); log[len(log)-1] != "end" {
		t.Errorf("PAM not ended: %q", log)
	}
}

// frame builds a raw frame around body.
func frame(body ...byte) []byte {
	n := len(body)
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

func TestHostileNet(t *testing.T) {
	for _, tc := range []struct {
		name string
		// loggedIn: the attack comes after a successful login.
		loggedIn bool
		// running: a command runs when the attack comes.
		running bool
		attack  func(p *peer)
	}{
		{name: "command instead of the user name", attack: func(p *peer) {
			p.w.Write(&wire.Msg{Type: wire.TypeCommand, Text: "id"})
		}},
		{name: "zero-length frame", attack: func(p *peer) { p.sendRaw(frame()) }},
		{name: "oversized frame", attack: func(p *peer) { p.sendRaw([]byte{0, 1, 0, 0, 3}) }},
		{name: "unknown type", attack: func(p *peer) { p.sendRaw(frame(99, 0, 0)) }},
		{name: "reply with NUL", attack: func(p *peer) { p.sendRaw(frame(byte(wire.TypeReply), 0, 3, 'a', 0, 'b')) }},
		{name: "trailing bytes", attack: func(p *peer) { p.sendRaw(frame(byte(wire.TypeReply), 0, 1, 'a', 'b')) }},
		{name: "truncated frame then EOF", attack: func(p *peer) {
			p.sendRaw([]byte{0, 0, 0, 9, byte(wire.TypeReply)})
			p.c.CloseWrite()
		}},
		{name: "EOF at the prompt", attack: func(p *peer) { p.c.CloseWrite() }},
		{name: "reply while idle", loggedIn: true, attack: func(p *peer) {
			p.w.Write(&wire.Msg{Type: wire.TypeReply, Data: []byte("x")})
		}},
		{name: "server message type from the client", loggedIn: true, attack: func(p *peer) {
			p.w.Write(&wire.Msg{Type: wire.TypeExit, Status: 0})
		}},
		{name: "EOF while idle", loggedIn: true, attack: func(p *peer) { p.c.CloseWrite() }},
		{name: "command while a command runs", loggedIn: true, running: true, attack: func(p *peer) {
			p.w.Write(&wire.Msg{Type: wire.TypeCommand, Text: "id"})
		}},
		{name: "EOF while a command runs", loggedIn: true, running: true, attack: func(p *peer) { p.c.CloseWrite() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.running {
				needRoot(t)
			}
			f := newFake()
			p, errc := start(t, options(f, "/"))
			pid := 0
			if tc.loggedIn {
				if tr := p.login("alice", "wonderland"); tr.auth.Status != uint16(wire.AuthOK) {
					t.Fatalf("login: %+v", tr.auth)
				}
				if tc.running {
					p.send(wire.Msg{Type: wire.TypeCommand, Text: "echo $$; exec sleep 60"})
					m := p.read()
					pid, _ = strconv.Atoi(strings.TrimSpace(string(m.Data)))
					if pid == 0 || !alive(pid) {
						t.Fatalf("command not running: %q", m.Data)
					}
				}
			} else {
				p.read() // Username:
			}
			tc.attack(p)
			err := wait(t, errc)
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("Run = %v, want ErrProtocol", err)
			}
			p.expectEOF() // no answer, no guess
			if log := f.callLog(); len(log) > 0 && log[len(log)-1] != "end" {
				t.Errorf("PAM not ended: %q", log)
			}
			if tc.loggedIn && !slices.Contains(f.callLog(), "close_session") {
				t.Errorf("PAM session not closed: %q", f.callLog())
			}
			if pid != 0 {
				for i := 0; i < 100 && alive(pid); i++ {
					time.Sleep(20 * time.Millisecond)
				}
				if alive(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("the running command survived")
				}
			}
		})
	}
}
