package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// fakeUI answers prompts from a list and supplies commands from another,
// recording what Run asked and showed.
type fakeUI struct {
	answers  [][]byte
	commands []string

	prompts   []prompt
	texts     []string
	given     [][]byte // the answer slices handed to Run, to check they were scrubbed
	nextCalls int
	out, err  bytes.Buffer
}

type prompt struct {
	text string
	echo bool
}

func (u *fakeUI) Text(s string) { u.texts = append(u.texts, s) }

func (u *fakeUI) Prompt(text string, echo bool) ([]byte, error) {
	u.prompts = append(u.prompts, prompt{text, echo})
	if len(u.answers) == 0 {
		return nil, errors.New("fakeUI: no answer left")
	}
	a := append([]byte(nil), u.answers[0]...)
	u.answers = u.answers[1:]
	u.given = append(u.given, a)
	return a, nil
}

func (u *fakeUI) NextCommand() (string, bool, error) {
	u.nextCalls++
	if len(u.commands) == 0 {
		return "", false, nil
	}
	c := u.commands[0]
	u.commands = u.commands[1:]
	return c, true, nil
}

func (u *fakeUI) Stdout() io.Writer { return &u.out }
func (u *fakeUI) Stderr() io.Writer { return &u.err }

// result is what a command does on the fake server.
type result struct {
	chunks []wire.Msg // Output messages
	exit   uint16
}

// fakeServer is the server side of the protocol, checked by its own
// Conversation like the real [session] does.
type fakeServer struct {
	user, password string
	commands       map[string]result

	// Filled in as it runs.
	got  []string // commands received
	conv wire.Conversation
}

// serve runs a login (username prompt with echo, password without) and the
// command loop on conn until the client's Finish.
func (s *fakeServer) serve(conn io.ReadWriter) error {
	r, w := wire.NewReader(conn), wire.NewWriter(conn)
	send := func(m wire.Msg) error {
		if err := s.conv.Check(wire.Server, &m); err != nil {
			return err
		}
		return w.Write(&m)
	}
	recv := func() (wire.Msg, error) {
		m, err := r.Read()
		if err != nil {
			return m, err
		}
		return m, s.conv.Check(wire.Client, &m)
	}
	ask := func(text string, echo bool) (string, error) {
		if err := send(wire.Msg{Type: wire.TypePrompt, Text: text, Echo: echo}); err != nil {
			return "", err
		}
		m, err := recv()
		if err != nil {
			return "", err
		}
		if m.Type != wire.TypeReply {
			return "", fmt.Errorf("fake server: %s in answer to a prompt", m.Type)
		}
		return string(m.Data), nil
	}
	if err := send(wire.Msg{Type: wire.TypeText, Text: "netlogind test\n"}); err != nil {
		return err
	}
	user, err := ask("Username: ", true)
	if err != nil {
		return err
	}
	pass, err := ask("Password: ", false)
	if err != nil {
		return err
	}
	if user != s.user || pass != s.password {
		if err := send(wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthFailed)}); err != nil {
			return err
		}
		if err := send(wire.Msg{Type: wire.TypeText, Text: "Authentication failed\n"}); err != nil {
			return err
		}
		return send(wire.Msg{Type: wire.TypeFinish, Status: 1})
	}
	if err := send(wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthOK), Text: user}); err != nil {
		return err
	}
	for {
		m, err := recv()
		if err != nil {
			return err
		}
		if m.Type == wire.TypeFinish {
			return send(wire.Msg{Type: wire.TypeFinish})
		}
		s.got = append(s.got, m.Text)
		res, ok := s.commands[m.Text]
		if !ok {
			res = result{chunks: []wire.Msg{{Type: wire.TypeOutput, Stream: wire.Stderr, Data: []byte("not found\n")}}, exit: 127}
		}
		for _, c := range res.chunks {
			if err := send(c); err != nil {
				return err
			}
		}
		if err := send(wire.Msg{Type: wire.TypeExit, Status: res.exit}); err != nil {
			return err
		}
	}
}

func out(stream uint8, s string) wire.Msg {
	return wire.Msg{Type: wire.TypeOutput, Stream: stream, Data: []byte(s)}
}

// runPipe runs Run against serve over a net.Pipe and returns Run's result
// and serve's error.
func runPipe(t *testing.T, ui UI, serve func(net.Conn) error) (int, error, error) {
	t.Helper()
	cc, sc := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := serve(sc)
		sc.Close()
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := Run(ctx, cc, ui)
	cc.Close()
	select {
	case serr := <-errc:
		return status, err, serr
	case <-time.After(10 * time.Second):
		t.Fatal("the fake server did not end")
	}
	return 0, nil, nil
}

func TestSession(t *testing.T) {
	srv := &fakeServer{user: "alice", password: "s3cret", commands: map[string]result{
		"id":              {chunks: []wire.Msg{out(wire.Stdout, "uid=1000(alice)\n")}},
		"ls /nonexistent": {chunks: []wire.Msg{out(wire.Stdout, "partial\n"), out(wire.Stderr, "ls: cannot access\n"), out(wire.Stdout, "more\n")}, exit: 2},
	}}
	ui := &fakeUI{answers: [][]byte{[]byte("alice"), []byte("s3cret")}, commands: []string{"id", "ls /nonexistent"}}
	status, err, serr := runPipe(t, ui, func(c net.Conn) error { return srv.serve(c) })
	if err != nil || serr != nil {
		t.Fatalf("Run = %d, %v; server: %v", status, err, serr)
	}
	if status != 2 {
		t.Errorf("status %d, want the last command's 2", status)
	}
	if !slices.Equal(srv.got, []string{"id", "ls /nonexistent"}) {
		t.Errorf("server ran %q", srv.got)
	}
	if !srv.conv.Done() || srv.conv.User != "alice" {
		t.Errorf("server conversation done=%v user=%q", srv.conv.Done(), srv.conv.User)
	}
	if got, want := ui.out.String(), "uid=1000(alice)\npartial\nmore\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := ui.err.String(), "ls: cannot access\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if want := []prompt{{"Username: ", true}, {"Password: ", false}}; !slices.Equal(ui.prompts, want) {
		t.Errorf("prompts %v, want %v", ui.prompts, want)
	}
	if !slices.Equal(ui.texts, []string{"netlogind test\n"}) {
		t.Errorf("texts %q", ui.texts)
	}
	for i, a := range ui.given {
		if len(a) == 0 || bytes.ContainsFunc(a, func(r rune) bool { return r != 0 }) {
			t.Errorf("answer %d not scrubbed: %q", i, a)
		}
	}
	// Two commands, then the call that said there were no more.
	if ui.nextCalls != 3 {
		t.Errorf("NextCommand called %d times", ui.nextCalls)
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		wire uint16
		want int
	}{{0, 0}, {1, 1}, {127, 127}, {255, 255}, {256 + 9, 137}, {256 + 15, 143}, {256 + 1, 129}, {256 + 64, 192}} {
		if got := ExitStatus(tc.wire); got != tc.want {
			t.Errorf("ExitStatus(%d) = %d, want %d", tc.wire, got, tc.want)
		}
		// And through a session.
		srv := &fakeServer{user: "u", password: "p", commands: map[string]result{"x": {exit: tc.wire}}}
		ui := &fakeUI{answers: [][]byte{[]byte("u"), []byte("p")}, commands: []string{"x"}}
		status, err, serr := runPipe(t, ui, func(c net.Conn) error { return srv.serve(c) })
		if err != nil || serr != nil || status != tc.want {
			t.Errorf("exit %d: Run = %d, %v (server: %v), want %d", tc.wire, status, err, serr, tc.want)
		}
	}
}

func TestNoCommands(t *testing.T) {
	srv := &fakeServer{user: "u", password: "p"}
	ui := &fakeUI{answers: [][]byte{[]byte("u"), []byte("p")}}
	status, err, serr := runPipe(t, ui, func(c net.Conn) error { return srv.serve(c) })
	if status != 0 || err != nil || serr != nil {
		t.Fatalf("Run = %d, %v; server: %v", status, err, serr)
	}
	if len(srv.got) != 0 || !srv.conv.Done() {
		t.Errorf("server got %q, done %v", srv.got, srv.conv.Done())
	}
}

func TestAuthFailed(t *testing.T) {
	srv := &fakeServer{user: "u", password: "right"}
	ui := &fakeUI{answers: [][]byte{[]byte("u"), []byte("wrong")}, commands: []string{"id"}}
	status, err, serr := runPipe(t, ui, func(c net.Conn) error { return srv.serve(c) })
	if serr != nil {
		t.Fatalf("server: %v", serr)
	}
	var ae *AuthError
	if status != StatusAuthFailed || !errors.Is(err, ErrAuthFailed) || !errors.As(err, &ae) || ae.Status != wire.AuthFailed {
		t.Fatalf("Run = %d, %v; want %d and an AuthError", status, err, StatusAuthFailed)
	}
	if ui.nextCalls != 0 || len(srv.got) != 0 {
		t.Errorf("a command was asked for (%d) or sent (%q) after a failed login", ui.nextCalls, srv.got)
	}
	// The server's explanation after the refusal is shown.
	if !slices.Equal(ui.texts, []string{"netlogind test\n", "Authentication failed\n"}) {
		t.Errorf("texts %q", ui.texts)
	}
}

// frame builds a raw frame, valid or not.
func frame(typ byte, body ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, typ), body...)
}

func str(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// TestServerMisbehaves: each script is what a broken or hostile server
// sends; Run must end with StatusError and say why, never carry on.
func TestServerMisbehaves(t *testing.T) {
	authOK := wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthOK), Text: "u"}
	for _, tc := range []struct {
		name   string
		script []any // wire.Msg to send, []byte raw to send, "read" to read one client message
		// want: what the error must wrap (wire.ErrFrame: malformed or out
		// of turn); nil for a broken connection.
		want error
	}{
		{"output before auth", []any{out(wire.Stdout, "x")}, wire.ErrFrame},
		{"exit before auth", []any{wire.Msg{Type: wire.TypeExit}}, wire.ErrFrame},
		{"reply from the server", []any{wire.Msg{Type: wire.TypeReply, Data: []byte("x")}}, wire.ErrFrame},
		{"command from the server", []any{wire.Msg{Type: wire.TypeCommand, Text: "id"}}, wire.ErrFrame},
		{"output after a reply", []any{wire.Msg{Type: wire.TypePrompt, Text: "P: "}, "read", out(wire.Stdout, "x")}, wire.ErrFrame},
		{"exit after a reply", []any{wire.Msg{Type: wire.TypePrompt, Text: "P: "}, "read", wire.Msg{Type: wire.TypeExit}}, wire.ErrFrame},
		{"second auth", []any{authOK, "read", wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthOK), Text: "root"}}, wire.ErrFrame},
		{"prompt while a command runs", []any{authOK, "read", wire.Msg{Type: wire.TypePrompt, Text: "sudo: "}}, wire.ErrFrame},
		{"auth during a command", []any{authOK, "read", wire.Msg{Type: wire.TypeExit}, "read", authOK}, wire.ErrFrame},
		{"finish before auth", []any{wire.Msg{Type: wire.TypeFinish}}, ErrServerFinished},
		{"finish while running", []any{authOK, "read", wire.Msg{Type: wire.TypeFinish}}, ErrServerFinished},
		{"unknown type", []any{frame(99)}, wire.ErrFrame},
		{"zero length", []any{[]byte{0, 0, 0, 0}}, wire.ErrFrame},
		{"huge length", []any{[]byte{0, 1, 0, 0}}, wire.ErrFrame},
		{"escape in text", []any{frame(byte(wire.TypeText), str("\x1b]0;owned\a")...)}, wire.ErrFrame},
		{"bad echo flag", []any{frame(byte(wire.TypePrompt), append([]byte{7}, str("P: ")...)...)}, wire.ErrFrame},
		{"trailing bytes", []any{frame(byte(wire.TypeText), append(str("hi"), 0)...)}, wire.ErrFrame},
		{"bad user in auth", []any{frame(byte(wire.TypeAuth), append([]byte{0}, str("../root")...)...)}, wire.ErrFrame},
		{"bad stream", []any{authOK, "read", frame(byte(wire.TypeOutput), 3, 'x')}, wire.ErrFrame},
		{"exit status out of range", []any{authOK, "read", frame(byte(wire.TypeExit), 0xff, 0xff)}, wire.ErrFrame},
		{"cut short", []any{[]byte{0, 0, 0, 9, byte(wire.TypeText), 0}}, nil},
		{"closed before auth", []any{wire.Msg{Type: wire.TypeText, Text: "bye"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := &fakeUI{answers: [][]byte{[]byte("a")}, commands: []string{"id", "id"}}
			status, err, serr := runPipe(t, ui, func(c net.Conn) error {
				r, w := wire.NewReader(c), wire.NewWriter(c)
				for _, step := range tc.script {
					var err error
					switch v := step.(type) {
					case wire.Msg:
						err = w.Write(&v)
					case []byte:
						_, err = c.Write(v)
					case string:
						_, err = r.Read()
					}
					if err != nil {
						return fmt.Errorf("script step %v: %w", step, err)
					}
				}
				return nil
			})
			if serr != nil {
				t.Fatalf("the script did not play out: %v", serr)
			}
			if status != StatusError || err == nil {
				t.Fatalf("Run = %d, %v; want %d and an error", status, err, StatusError)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Run's error %v does not wrap %v", err, tc.want)
			}
		})
	}
}

// TestReplyBounds: an answer the protocol cannot carry is an error, not
// cut short, and nothing is sent for it; the longest that fits goes
// through whole.
func TestReplyBounds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		ok     bool
	}{
		{"longest", bytes.Repeat([]byte{'p'}, wire.MaxReply), true},
		{"one byte too long", bytes.Repeat([]byte{'p'}, wire.MaxReply+1), false},
		{"far too long", bytes.Repeat([]byte{'p'}, 1<<20), false},
		{"NUL", []byte("pa\x00ss"), false},
		{"empty", []byte{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := &fakeUI{answers: [][]byte{tc.answer}}
			var got []byte
			var after error
			status, err, serr := runPipe(t, ui, func(c net.Conn) error {
				r, w := wire.NewReader(c), wire.NewWriter(c)
				if err := w.Write(&wire.Msg{Type: wire.TypePrompt, Text: "Password: "}); err != nil {
					return err
				}
				m, err := r.Read()
				if err != nil {
					after = err
					return nil
				}
				if m.Type != wire.TypeReply {
					return fmt.Errorf("%s in answer to a prompt", m.Type)
				}
				got = append([]byte{}, m.Data...)
				if err := w.Write(&wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthOK), Text: "u"}); err != nil {
					return err
				}
				if m, err := r.Read(); err != nil || m.Type != wire.TypeFinish {
					return fmt.Errorf("after auth: %v, %v", m.Type, err)
				}
				return w.Write(&wire.Msg{Type: wire.TypeFinish})
			})
			if serr != nil {
				t.Fatalf("server: %v", serr)
			}
			if tc.ok {
				if err != nil || status != 0 || !bytes.Equal(got, tc.answer) {
					t.Errorf("Run = %d, %v; server got %d bytes, want %d", status, err, len(got), len(tc.answer))
				}
				return
			}
			if err == nil || status != StatusError {
				t.Errorf("Run = %d, %v; want an error", status, err)
			}
			if got != nil || after == nil {
				t.Errorf("the server received %d bytes of answer (read error %v)", len(got), after)
			}
		})
	}
}

// TestBadCommand: a command line the protocol forbids is refused before
// it is sent.
func TestBadCommand(t *testing.T) {
	for _, line := range []string{"id\nrm -rf /", "", strings.Repeat("x", wire.MaxCommand+1), "printf '\x1b[2J'"} {
		ui := &fakeUI{answers: [][]byte{[]byte("u"), []byte("p")}, commands: []string{line}}
		srv := &fakeServer{user: "u", password: "p"}
		status, err, _ := runPipe(t, ui, func(c net.Conn) error { return srv.serve(c) })
		if err == nil || status != StatusError || len(srv.got) != 0 {
			t.Errorf("command %q: Run = %d, %v; server got %q", line, status, err, srv.got)
		}
	}
}

// TestCancel: a server that never speaks does not hold Run once the
// context is done.
func TestCancel(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var status int
	var err error
	go func() {
		status, err = Run(ctx, cc, &fakeUI{})
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run still blocked 5 s after the cancel")
	}
	if status != StatusError || !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %d, %v; want %d and context.Canceled", status, err, StatusError)
	}
}
