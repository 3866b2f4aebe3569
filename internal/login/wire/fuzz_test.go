package wire

import (
	"bytes"
	"testing"
)

// FuzzFrame feeds arbitrary bytes to the reader. Whatever parses must
// re-encode to the same frame (the codec is canonical), and what re-encodes
// must parse back to the same message.
func FuzzFrame(f *testing.F) {
	for _, m := range []Msg{
		{Type: TypeText, Text: "hello\n"},
		{Type: TypePrompt, Echo: true, Text: "Username: "},
		{Type: TypeReply, Data: []byte("pw")},
		{Type: TypeAuth, Text: "alice"},
		{Type: TypeCommand, Text: "ls -l"},
		{Type: TypeOutput, Stream: Stdout, Data: []byte("out")},
		{Type: TypeExit, Status: 3},
		{Type: TypeFinish},
	} {
		b, err := Append(nil, &m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		var conv Conversation
		for range 64 {
			m, err := r.Read()
			if err != nil {
				return
			}
			n := 4 + int(uint32(in[0])<<24|uint32(in[1])<<16|uint32(in[2])<<8|uint32(in[3]))
			frame := in[:n]
			in = in[n:]
			out, err := Append(nil, &m)
			if err != nil {
				t.Fatalf("parsed %+v does not encode: %v", m, err)
			}
			if !bytes.Equal(out, frame) {
				t.Fatalf("re-encoding differs:\n in %x\nout %x", frame, out)
			}
			// The turn checker must never panic, whichever side sends.
			side := Client
			if m.Type != TypeReply && m.Type != TypeCommand {
				side = Server
			}
			_ = conv.Check(side, &m)
		}
	})
}

// FuzzIPC feeds arbitrary bytes to the decoders of the control-channel
// messages (the signing request and answer, the authentication notice):
// whatever one accepts must re-encode to the same bytes.
func FuzzIPC(f *testing.F) {
	in := append(append([]byte(nil), SignContext...), make([]byte, 32)...)
	f.Add(AppendSignRequest(nil, in))
	f.Add(AppendSignAnswer(nil, make([]byte, 64)))
	f.Add(AppendAuthNotice(nil, "alice"))
	f.Add([]byte{SignRefused})
	f.Fuzz(func(t *testing.T, b []byte) {
		if msg, err := ParseSignRequest(b); err == nil {
			if CheckSignInput(msg) != nil || !bytes.Equal(AppendSignRequest(nil, msg), b) {
				t.Fatalf("sign request %x does not round-trip", b)
			}
		}
		if sig, err := ParseSignAnswer(b); err == nil {
			if !bytes.Equal(AppendSignAnswer(nil, sig), b) {
				t.Fatalf("sign answer %x does not round-trip", b)
			}
		}
		if user, err := ParseAuthNotice(b); err == nil {
			if ValidUser(user) != nil || !bytes.Equal(AppendAuthNotice(nil, user), b) {
				t.Fatalf("notice %x does not round-trip", b)
			}
		}
	})
}
