package main

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/logintest"
	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// rawConn speaks the protocol by hand, to send what netlogin never would.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *wire.Reader
}

func (d *testDaemon) raw(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", d.sock)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: wire.NewReader(c)}
}

// until reads until a message of type typ, and returns it.
func (r *rawConn) until(typ wire.Type) wire.Msg {
	r.t.Helper()
	for {
		m, err := r.r.Read()
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) send(m wire.Msg) {
	r.t.Helper()
	b, err := wire.Append(nil, &m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

// closed reports whether the server ends the connection without another
// message of the conversation (a Finish is a clean end, for the
// refusals the session answers itself).
func (r *rawConn) closed() bool {
	for {
		m, err := r.r.Read()
		if err != nil {
			return true
		}
		if m.Type == wire.TypeFinish {
			_, err := r.r.Read()
			return err != nil
		}
		if m.Type == wire.TypeOutput || m.Type == wire.TypeExit {
			return false
		}
	}
}

func frame(typ wire.Type, body ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, byte(typ)), body...)
}

// TestHostileClientMessages: each hostile message ends its own connection
// (or, for a name no account can have, fails its login), and an
// authenticated connection held all along still runs commands.
func TestHostileClientMessages(t *testing.T) {
	d := startDaemon(t, "")
	user := logintest.ThrowawayUser(t, "H0stile-test")
	login := func(r *rawConn) {
		r.t.Helper()
		r.until(wire.TypePrompt)
		r.send(wire.Msg{Type: wire.TypeReply, Data: []byte(user)})
		r.until(wire.TypePrompt)
		r.send(wire.Msg{Type: wire.TypeReply, Data: []byte("H0stile-test")})
		if a := r.until(wire.TypeAuth); a.Status != uint16(wire.AuthOK) {
			r.t.Fatalf("login: %+v", a)
		}
	}
	good := d.raw(t)
	login(good)

	before := map[string]func(*rawConn){
		"huge length":         func(r *rawConn) { r.write([]byte{0xff, 0xff, 0xff, 0xff}) },
		"length past the max": func(r *rawConn) { r.write([]byte{0, 1, 0, 0, byte(wire.TypeReply)}) },
		"missing fields":      func(r *rawConn) { r.write(frame(wire.TypeReply, 0, 9, 'x')) },
		"wrong type":          func(r *rawConn) { r.write(frame(wire.TypePrompt, 1, 0, 0)) },
		"unknown type":        func(r *rawConn) { r.write(frame(77)) },
		"command before login": func(r *rawConn) {
			r.send(wire.Msg{Type: wire.TypeCommand, Text: "id"})
		},
		"NUL in user name": func(r *rawConn) { r.write(frame(wire.TypeReply, 0, 5, 'r', 'o', 0, 'o', 't')) },
	}
	for name, attack := range before {
		r := d.raw(t)
		r.until(wire.TypePrompt)
		attack(r)
		if !r.closed() {
			t.Errorf("%s: the connection went on", name)
		}
	}

	// A user name with control characters reaches [session], which fails
	// the login after the delay without asking PAM (no account can have
	// such a name).
	r := d.raw(t)
	r.until(wire.TypePrompt)
	r.send(wire.Msg{Type: wire.TypeReply, Data: []byte("root\x1b[2J")})
	if a := r.until(wire.TypeAuth); a.Status == uint16(wire.AuthOK) {
		t.Errorf("a user name with an escape sequence logged in: %+v", a)
	}

	after := map[string]func(*rawConn){
		"newline in command": func(r *rawConn) { r.write(frame(wire.TypeCommand, append([]byte{0, 6}, "id\nid;"...)...)) },
		"escape in command":  func(r *rawConn) { r.write(frame(wire.TypeCommand, append([]byte{0, 5}, "\x1b[2J"...)...)) },
		"reply with no prompt": func(r *rawConn) {
			r.send(wire.Msg{Type: wire.TypeReply, Data: []byte("x")})
		},
		"message after finish": func(r *rawConn) {
			r.send(wire.Msg{Type: wire.TypeFinish})
			r.send(wire.Msg{Type: wire.TypeCommand, Text: "id"})
		},
	}
	for name, attack := range after {
		r := d.raw(t)
		login(r)
		attack(r)
		if !r.closed() {
			t.Errorf("%s: the connection went on", name)
		}
	}

	// The connection held through all of it still works.
	good.send(wire.Msg{Type: wire.TypeCommand, Text: "echo still here"})
	var out strings.Builder
	for {
		m, err := good.r.Read()
		if err != nil {
			t.Fatalf("the good connection: %v", err)
		}
		if m.Type == wire.TypeOutput {
			out.Write(m.Data)
		}
		if m.Type == wire.TypeExit {
			break
		}
	}
	if out.String() != "still here\n" {
		t.Errorf("the good connection's command printed %q", out.String())
	}
}
