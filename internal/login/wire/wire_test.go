package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func roundTrip(t *testing.T, m Msg) Msg {
	t.Helper()
	var buf bytes.Buffer
	if err := NewWriter(&buf).Write(&m); err != nil {
		t.Fatalf("Write(%+v): %v", m, err)
	}
	got, err := NewReader(&buf).Read()
	if err != nil {
		t.Fatalf("Read after Write(%+v): %v", m, err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes left after one frame", buf.Len())
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	for _, m := range []Msg{
		{Type: TypeText, Text: "Welcome\n\tto netlogind"},
		{Type: TypePrompt, Text: "Password: "},
		{Type: TypePrompt, Echo: true, Text: "Username: "},
		{Type: TypeReply, Data: []byte("s3cret with spaces")},
		{Type: TypeReply, Data: []byte{}},
		{Type: TypeAuth, Status: uint16(AuthOK), Text: "alice"},
		{Type: TypeAuth, Status: uint16(AuthFailed)},
		{Type: TypeCommand, Text: "echo 'a\tb' | wc -c"},
		{Type: TypeOutput, Stream: Stderr, Data: bytes.Repeat([]byte{0, 0xff, '\n'}, MaxOutput/3)},
		{Type: TypeExit, Status: 256 + 9},
		{Type: TypeFinish, Status: 0},
	} {
		got := roundTrip(t, m)
		if m.Data != nil && len(m.Data) == 0 {
			m.Data = got.Data // empty either way
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("round trip of %s (-sent +read):\n%s", m.Type, diff)
		}
	}
}

func TestRefused(t *testing.T) {
	for name, m := range map[string]Msg{
		"unknown type":       {Type: 99},
		"NUL in user":        {Type: TypeAuth, Text: "al\x00ice"},
		"user with slash":    {Type: TypeAuth, Text: "../root"},
		"user dash":          {Type: TypeAuth, Text: "-oProxy"},
		"long user":          {Type: TypeAuth, Text: strings.Repeat("a", MaxUser+1)},
		"empty command":      {Type: TypeCommand},
		"newline in command": {Type: TypeCommand, Text: "id\nrm -rf /"},
		"escape in command":  {Type: TypeCommand, Text: "echo \x1b[2J"},
		"bad UTF-8":          {Type: TypeCommand, Text: "\xff"},
		"long command":       {Type: TypeCommand, Text: strings.Repeat("x", MaxCommand+1)},
		"NUL in reply":       {Type: TypeReply, Data: []byte("a\x00b")},
		"long reply":         {Type: TypeReply, Data: make([]byte, MaxReply+1)},
		"bell in text":       {Type: TypeText, Text: "\a"},
		"empty output":       {Type: TypeOutput, Stream: Stdout},
		"bad stream":         {Type: TypeOutput, Stream: 3, Data: []byte("x")},
		"huge exit":          {Type: TypeExit, Status: 1000},
		"auth status":        {Type: TypeAuth, Status: 9},
	} {
		if _, err := Append(nil, &m); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: Append = %v, want ErrFrame", name, err)
		}
	}
}

func TestReaderRefusesBadFrames(t *testing.T) {
	for name, b := range map[string][]byte{
		"zero length":     {0, 0, 0, 0},
		"huge length":     {0xff, 0xff, 0xff, 0xf0, 1},
		"past MaxFrame":   {0, 1, 0, 0, 1},
		"trailing bytes":  {0, 0, 0, 3, byte(TypeFinish), 0, 0},
		"short string":    {0, 0, 0, 4, byte(TypeText), 0, 9, 'a'},
		"echo flag 2":     {0, 0, 0, 4, byte(TypePrompt), 2, 0, 0},
		"finish no body":  {0, 0, 0, 1, byte(TypeFinish)},
		"unknown type 0":  {0, 0, 0, 1, 0},
		"string too long": {0, 0, 0, 3, byte(TypeText), 0xff, 0xff},
	} {
		if _, err := NewReader(bytes.NewReader(b)).Read(); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: Read = %v, want ErrFrame", name, err)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil)).Read(); err != io.EOF {
		t.Errorf("empty stream: Read = %v, want io.EOF", err)
	}
	if _, err := NewReader(bytes.NewReader([]byte{0, 0, 0, 5, 1})).Read(); err != io.ErrUnexpectedEOF {
		t.Errorf("cut frame: Read = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestConversation(t *testing.T) {
	type step struct {
		from Side
		m    Msg
		ok   bool
	}
	good := []step{
		{Server, Msg{Type: TypeText, Text: "hi"}, true},
		{Client, Msg{Type: TypeCommand, Text: "id"}, false}, // not yet authenticated
		{Client, Msg{Type: TypeReply}, false},               // no prompt out
		{Server, Msg{Type: TypePrompt, Echo: true, Text: "Username: "}, true},
		{Server, Msg{Type: TypePrompt, Text: "again"}, false}, // one prompt at a time
		{Client, Msg{Type: TypeReply, Data: []byte("alice")}, true},
		{Server, Msg{Type: TypeOutput, Stream: Stdout, Data: []byte("x")}, false},
		{Server, Msg{Type: TypeAuth, Text: "alice"}, true},
		{Client, Msg{Type: TypeReply}, false},
		{Client, Msg{Type: TypeCommand, Text: "id"}, true},
		{Client, Msg{Type: TypeCommand, Text: "id"}, false}, // one command at a time
		{Server, Msg{Type: TypeOutput, Stream: Stdout, Data: []byte("uid=1000\n")}, true},
		{Server, Msg{Type: TypeExit}, true},
		{Server, Msg{Type: TypeExit}, false},
		{Client, Msg{Type: TypeFinish}, true},
		{Client, Msg{Type: TypeFinish}, false},
		{Client, Msg{Type: TypeCommand, Text: "id"}, false},
		{Server, Msg{Type: TypeFinish}, true},
		{Server, Msg{Type: TypeText, Text: "late"}, false},
	}
	var c Conversation
	for i, s := range good {
		err := c.Check(s.from, &s.m)
		if (err == nil) != s.ok {
			t.Fatalf("step %d: %s from %s: err = %v, want ok=%v", i, s.m.Type, s.from, err, s.ok)
		}
		if i == 7 && (!c.Authenticated() || c.User != "alice") {
			t.Fatalf("after Auth OK: authenticated=%v user=%q", c.Authenticated(), c.User)
		}
	}
	if !c.Done() {
		t.Fatal("not done after the server's Finish")
	}

	var f Conversation
	for _, s := range []step{
		{Server, Msg{Type: TypePrompt}, true},
		{Server, Msg{Type: TypeAuth, Status: uint16(AuthTimeout)}, true},
		{Client, Msg{Type: TypeCommand, Text: "id"}, false},
		{Server, Msg{Type: TypeText, Text: "Authentication failed"}, true},
		{Server, Msg{Type: TypeFinish, Status: 1}, true},
	} {
		if err := f.Check(s.from, &s.m); (err == nil) != s.ok {
			t.Fatalf("failed login: %s from %s: err = %v, want ok=%v", s.m.Type, s.from, err, s.ok)
		}
	}
	if f.Authenticated() {
		t.Fatal("authenticated after a failure")
	}
}

func TestSignInput(t *testing.T) {
	in := append(append([]byte{}, SignContext...), make([]byte, 32)...)
	if err := CheckSignInput(in); err != nil {
		t.Fatalf("a TLS 1.3 CertificateVerify input: %v", err)
	}
	client := bytes.Replace(in, []byte("server"), []byte("client"), 1)
	for name, b := range map[string][]byte{
		"client context": client,
		"short hash":     in[:len(in)-1],
		"bare hash":      make([]byte, 32),
		"long":           append(in, make([]byte, 64)...),
	} {
		if err := CheckSignInput(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
