package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's master and slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to test the prompts with: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	// Not m.Fd(): that would make the master blocking and its read
	// deadlines useless.
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); err != nil || ierr != nil {
		t.Fatal(err, ierr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func echoing(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// drain reads what the terminal sent back (its echo) until it is quiet.
func drain(t *testing.T, m *os.File) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 256)
	for range 50 {
		if err := m.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Fatalf("the pty master has no deadlines: %v", err)
		}
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return got.String()
}

// TestTerminalPrompts: on a terminal, an echo-off prompt is answered with
// the terminal's echo off, which comes back on afterwards; an echo-on
// prompt echoes.
func TestTerminalPrompts(t *testing.T) {
	m, s := openPTY(t)
	var stderr bytes.Buffer
	ui := newTermUI(s, &bytes.Buffer{}, &stderr, nil)
	if !ui.tty {
		t.Fatal("the pty slave is not taken for a terminal")
	}
	if !echoing(t, s) {
		t.Fatal("a new pty does not echo")
	}

	// Echo on: what is typed comes back.
	if _, err := m.WriteString("alice\n"); err != nil {
		t.Fatal(err)
	}
	b, err := ui.Prompt("Username: ", true)
	if err != nil || string(b) != "alice" {
		t.Fatalf("Prompt = %q, %v", b, err)
	}
	if echo := drain(t, m); !strings.Contains(echo, "alice") {
		t.Fatalf("echo-on prompt: the terminal sent back %q", echo)
	}

	// Echo off: type only once the echo is off, as a user would.
	type answer struct {
		b   []byte
		err error
	}
	got := make(chan answer, 1)
	go func() {
		b, err := ui.Prompt("Password: ", false)
		got <- answer{b, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for echoing(t, s) {
		if time.Now().After(deadline) {
			t.Fatal("the echo never went off")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := m.WriteString("s3cret\n"); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Prompt did not return")
	}
	if a.err != nil || string(a.b) != "s3cret" {
		t.Fatalf("Prompt = %q, %v", a.b, a.err)
	}
	if echo := drain(t, m); strings.Contains(echo, "s3cret") {
		t.Errorf("the secret was echoed: %q", echo)
	}
	if !echoing(t, s) {
		t.Error("the echo stayed off after the prompt")
	}
	if !strings.Contains(stderr.String(), "Username: ") || !strings.Contains(stderr.String(), "Password: ") {
		t.Errorf("prompts shown: %q", stderr.String())
	}

	// A too-long secret is refused, and the echo still comes back.
	go func() {
		b, err := ui.Prompt("Password: ", false)
		got <- answer{b, err}
	}()
	for echoing(t, s) {
		if time.Now().After(deadline) {
			t.Fatal("the echo never went off")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := m.WriteString(strings.Repeat("p", 600) + "\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case a = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Prompt did not return")
	}
	if a.err == nil {
		t.Errorf("a %d-byte answer was accepted", len(a.b))
	}
	if !echoing(t, s) {
		t.Error("the echo stayed off after a refused answer")
	}
}

// TestTerminalCommands: on a terminal, commands are read at a prompt; a
// bad line is explained and asked again, and end of input (^D) ends the
// session.
func TestTerminalCommands(t *testing.T) {
	m, s := openPTY(t)
	var stderr bytes.Buffer
	ui := newTermUI(s, &bytes.Buffer{}, &stderr, nil)
	// Typed ahead: canonical mode hands over one line per read.
	if _, err := m.WriteString("\n   \nprintf '\x1b[2J'\nid\n"); err != nil {
		t.Fatal(err)
	}
	line, ok, err := ui.NextCommand()
	if err != nil || !ok || line != "id" {
		t.Fatalf("NextCommand = %q, %v, %v; want id", line, ok, err)
	}
	// Four prompts: two blank lines, the refused one, then id.
	if n := strings.Count(stderr.String(), "netlogin> "); n != 4 {
		t.Errorf("%d prompts in %q", n, stderr.String())
	}
	if _, err := m.Write([]byte{4}); err != nil { // ^D: VEOF
		t.Fatal(err)
	}
	line, ok, err = ui.NextCommand()
	if err != nil || ok {
		t.Errorf("after ^D: NextCommand = %q, %v, %v; want the end", line, ok, err)
	}
}
