package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/ndhc-go/ndhc/internal/login/client"
	"github.com/ndhc-go/ndhc/internal/login/hostkey"
	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// input makes a file holding s to serve as standard input.
func input(t *testing.T, s string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, input(t, stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"keygen", "-h"}} {
		code, out, errs := runCmd(t, "", args...)
		if code != 0 || errs == "" || out != "" {
			t.Errorf("%q: exit %d, stdout %d bytes, stderr %d bytes; want 0 and usage on stderr", args, code, len(out), len(errs))
		}
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	// keygen's files, should a refusal fail to happen, land in dir.
	k, c := filepath.Join(dir, "k"), filepath.Join(dir, "c")
	pin := hostkey.FingerprintPrefix + strings.Repeat("ab", 32)
	for _, args := range [][]string{
		{"-bogus"},
		{},
		{"-connect", "127.0.0.1:1"},
		{"-connect", "127.0.0.1:1", "-unix", "/run/x.sock", "-fingerprint", pin},
		{"-connect", "127.0.0.1:1", "-fingerprint", "SHA256:abc"},
		{"-connect", "127.0.0.1:1", "-fingerprint", strings.TrimPrefix(pin, "SHA256:")},
		{"-unix", "/run/x.sock", "-ca", ca},
		{"-unix", "/run/x.sock", "-fingerprint", pin},
		{"-unix", "/run/x.sock", "-server-name", "x"},
		{"-unix", "/run/x.sock", "id"},
		{"-unix", "/run/x.sock", "-c", ""},
		{"-unix", "/run/x.sock", "-c", "id\nreboot"},
		{"-unix", "/run/x.sock", "-timeout", "0s"},
		{"-unix", "/run/x.sock", "-timeout", "soon"},
		{"keygen"},
		{"keygen", "-key", k},
		{"keygen", "-key", k, "-cert", k},
		{"keygen", "-key", k, "-cert", c, "-days", "0"},
		{"keygen", "-key", k, "-cert", c, "-host", "bad host"},
		{"keygen", "-key", k, "-cert", c, "extra"},
		{"keygen", "-bogus"},
	} {
		code, out, errs := runCmd(t, "", args...)
		if code != 2 || errs == "" || out != "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and an explanation", args, code, errs)
		}
	}
}

func TestKeygen(t *testing.T) {
	old := syscall.Umask(0o077) // the modes must not depend on the caller's umask
	defer syscall.Umask(old)
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "host.key"), filepath.Join(dir, "host.crt")
	code, out, errs := runCmd(t, "", "keygen", "-key", key, "-cert", cert, "-host", "login.test", "-host", "10.0.0.1", "-days", "30")
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errs)
	}
	for path, want := range map[string]os.FileMode{key: 0o600, cert: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}
	_, chain, err := hostkey.Load(key, cert)
	if err != nil {
		t.Fatalf("Load of keygen's files: %v", err)
	}
	if got := strings.TrimSpace(out); got != hostkey.Fingerprint(chain.DER[0]) {
		t.Errorf("printed %q, the certificate's fingerprint is %s", got, hostkey.Fingerprint(chain.DER[0]))
	}
	if !slices.Equal(chain.Leaf.DNSNames, []string{"login.test"}) || len(chain.Leaf.IPAddresses) != 1 || chain.Leaf.IPAddresses[0].String() != "10.0.0.1" {
		t.Errorf("names %v %v", chain.Leaf.DNSNames, chain.Leaf.IPAddresses)
	}
	if d := chain.Leaf.NotAfter.Sub(chain.Leaf.NotBefore); d < 29*24*3600e9 || d > 31*24*3600e9 {
		t.Errorf("validity %v, want 30 days", d)
	}

	// Never overwrites: both files stay as they were.
	keyBefore, _ := os.ReadFile(key)
	certBefore, _ := os.ReadFile(cert)
	if code, _, _ := runCmd(t, "", "keygen", "-key", key, "-cert", cert); code == 0 {
		t.Error("keygen overwrote an existing pair")
	}
	keyAfter, _ := os.ReadFile(key)
	certAfter, _ := os.ReadFile(cert)
	if !bytes.Equal(keyBefore, keyAfter) || !bytes.Equal(certBefore, certAfter) {
		t.Error("the existing files changed")
	}

	// An existing certificate: refused, and no new key left behind.
	newKey := filepath.Join(dir, "new.key")
	if code, _, _ := runCmd(t, "", "keygen", "-key", newKey, "-cert", cert); code == 0 {
		t.Error("keygen overwrote an existing certificate")
	}
	if _, err := os.Stat(newKey); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key was left without its certificate: %v", err)
	}
	certAfter, _ = os.ReadFile(cert)
	if !bytes.Equal(certBefore, certAfter) {
		t.Error("the existing certificate changed")
	}
	if b, _ := pem.Decode(certAfter); b == nil {
		t.Error("the certificate is no longer PEM")
	}
}

// fakeServer speaks the server side on a UNIX socket: a user name prompt
// (echo), a password prompt (no echo), then commands from a table.
type fakeServer struct {
	sock     string
	user     string
	password string
	commands map[string]cmdResult

	done    chan struct{}
	got     []string // commands received
	replies int      // Reply messages received
	err     error
}

type cmdResult struct {
	stdout, stderr string
	exit           uint16
}

func startServer(t *testing.T, user, password string, commands map[string]cmdResult) *fakeServer {
	t.Helper()
	s := &fakeServer{sock: filepath.Join(t.TempDir(), "netlogind.sock"), user: user, password: password, commands: commands, done: make(chan struct{})}
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			s.err = err
			return
		}
		defer c.Close()
		s.err = s.serve(c)
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// wait returns once the connection ended.
func (s *fakeServer) wait(t *testing.T) {
	t.Helper()
	<-s.done
}

func (s *fakeServer) serve(c io.ReadWriter) error {
	var conv wire.Conversation
	r, w := wire.NewReader(c), wire.NewWriter(c)
	send := func(m wire.Msg) error {
		if err := conv.Check(wire.Server, &m); err != nil {
			return err
		}
		return w.Write(&m)
	}
	recv := func() (wire.Msg, error) {
		m, err := r.Read()
		if err == nil {
			err = conv.Check(wire.Client, &m)
		}
		return m, err
	}
	ask := func(text string, echo bool) (string, error) {
		if err := send(wire.Msg{Type: wire.TypePrompt, Text: text, Echo: echo}); err != nil {
			return "", err
		}
		m, err := recv()
		if err != nil {
			return "", err
		}
		s.replies++
		return string(m.Data), nil
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
		return send(wire.Msg{Type: wire.TypeFinish, Status: 1})
	}
	if err := send(wire.Msg{Type: wire.TypeAuth, Text: user}); err != nil {
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
			res = cmdResult{stderr: "sh: not found\n", exit: 127}
		}
		if res.stdout != "" {
			if err := send(wire.Msg{Type: wire.TypeOutput, Stream: wire.Stdout, Data: []byte(res.stdout)}); err != nil {
				return err
			}
		}
		if res.stderr != "" {
			if err := send(wire.Msg{Type: wire.TypeOutput, Stream: wire.Stderr, Data: []byte(res.stderr)}); err != nil {
				return err
			}
		}
		if err := send(wire.Msg{Type: wire.TypeExit, Status: res.exit}); err != nil {
			return err
		}
	}
}

var table = map[string]cmdResult{
	"id":         {stdout: "uid=1000(alice)\n"},
	"false":      {exit: 1},
	"kill -9 $$": {stderr: "Killed\n", exit: 256 + 9},
}

func TestCommandsFromFlags(t *testing.T) {
	s := startServer(t, "alice", "pw", table)
	code, out, errs := runCmd(t, "alice\npw\n", "-unix", s.sock, "-c", "id", "-c", "kill -9 $$")
	s.wait(t)
	if code != 137 {
		t.Errorf("exit %d, want 137 (killed by signal 9); stderr %q", code, errs)
	}
	if out != "uid=1000(alice)\n" {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(errs, "Killed\n") {
		t.Errorf("the command's stderr did not reach ours: %q", errs)
	}
	if s.err != nil || !slices.Equal(s.got, []string{"id", "kill -9 $$"}) {
		t.Errorf("server: %v, ran %q", s.err, s.got)
	}
}

func TestCommandsFromStdin(t *testing.T) {
	s := startServer(t, "alice", "pw", table)
	code, out, errs := runCmd(t, "alice\r\npw\r\nid\n\n   \nfalse", "-unix", s.sock)
	s.wait(t)
	if code != 1 {
		t.Errorf("exit %d, want the last command's 1; stderr %q", code, errs)
	}
	if out != "uid=1000(alice)\n" {
		t.Errorf("stdout %q", out)
	}
	if s.err != nil || !slices.Equal(s.got, []string{"id", "false"}) {
		t.Errorf("server: %v, ran %q", s.err, s.got)
	}
}

func TestLoginRefused(t *testing.T) {
	s := startServer(t, "alice", "pw", table)
	code, _, _ := runCmd(t, "alice\nwrong\n", "-unix", s.sock, "-c", "id")
	s.wait(t)
	if code != client.StatusAuthFailed {
		t.Errorf("exit %d, want %d", code, client.StatusAuthFailed)
	}
	if len(s.got) != 0 {
		t.Errorf("a command ran: %q", s.got)
	}
}

func TestLongPassword(t *testing.T) {
	s := startServer(t, "alice", "pw", table)
	code, _, _ := runCmd(t, "alice\n"+strings.Repeat("p", wire.MaxReply+1)+"\n", "-unix", s.sock, "-c", "id")
	s.wait(t)
	if code != client.StatusError {
		t.Errorf("exit %d, want %d", code, client.StatusError)
	}
	if s.replies != 1 {
		t.Errorf("the server got %d replies; the long password must not be sent cut short", s.replies)
	}
}

func TestBadLineFromStdin(t *testing.T) {
	s := startServer(t, "alice", "pw", table)
	code, _, _ := runCmd(t, "alice\npw\nid\nprintf '\x1b[2J'\nid\n", "-unix", s.sock)
	s.wait(t)
	if code != client.StatusError {
		t.Errorf("exit %d, want %d", code, client.StatusError)
	}
	if !slices.Equal(s.got, []string{"id"}) {
		t.Errorf("server ran %q, want only the first id", s.got)
	}
}

func TestNoServer(t *testing.T) {
	code, _, errs := runCmd(t, "", "-unix", filepath.Join(t.TempDir(), "absent.sock"))
	if code != client.StatusError || errs == "" {
		t.Errorf("exit %d, stderr %q; want %d and the reason", code, errs, client.StatusError)
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 10)
	for _, tc := range []struct {
		in   string
		max  int
		want []string // lines, "!" for errLineTooLong
	}{
		{"a\nbb\n", 10, []string{"a", "bb"}},
		{"a\r\nlast", 10, []string{"a", "last"}},
		{"\n\n", 10, []string{"", ""}},
		{long + "\n" + long + "\r\n", 10, []string{long, long}},
		{long + "y\nok\n", 10, []string{"!", "ok"}},
		{long + "y\r\nok", 10, []string{"!", "ok"}},
		{long + "yz", 10, []string{"!"}},
		{strings.Repeat("z", 10000) + "\nafter\n", 10, []string{"!", "after"}},
	} {
		for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in)), iotest.DataErrReader(strings.NewReader(tc.in))} {
			l := &lineReader{r: r}
			var got []string
			for range len(tc.want) + 2 {
				b, err := l.readLine(tc.max)
				if errors.Is(err, io.EOF) {
					break
				}
				if errors.Is(err, errLineTooLong) {
					got = append(got, "!")
					continue
				}
				if err != nil {
					t.Fatalf("%q: %v", tc.in, err)
				}
				got = append(got, string(b))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%q (max %d) read as %q, want %q", tc.in, tc.max, got, tc.want)
			}
			// What was consumed is wiped from the buffer.
			if bytes.ContainsFunc(l.buf[:], func(r rune) bool { return r != 0 }) {
				t.Errorf("%q: consumed bytes left in the buffer", tc.in)
			}
		}
	}
	// A reader that never makes progress ends instead of spinning.
	l := &lineReader{r: stuck{}}
	if _, err := l.readLine(10); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("stuck reader: %v", err)
	}
}

type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }
