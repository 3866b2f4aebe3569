// Package wire is netlogind's protocol: the messages between the client
// (netlogin) and the [net] process, and between [net] and [session], in one
// sealed binary form, plus the two control-channel messages the listener
// reads: [net]'s signing request (sign.go) and [session]'s authentication
// notice. FuzzFrame and FuzzIPC check that every decoder accepts only what
// its encoder writes.
//
// # Framing
//
// A message is a frame:
//
//	length  uint32, big-endian: the bytes that follow (type and body)
//	type    uint8
//	body    length-1 bytes, laid out per type
//
// length is at least 1 and at most [MaxFrame]-4. Strings are a uint16
// big-endian byte count followed by that many bytes; a body must be used up
// exactly. Integers are big-endian.
//
// # Messages
//
//	Text     1  server -> client  text string                    informational line(s)
//	Prompt   2  server -> client  echo uint8 (0|1), text string  asks for one Reply
//	Reply    3  client -> server  data string                    the answer (secret when echo=0)
//	Auth     4  server -> client  status uint8, user string      end of authentication
//	Command  5  client -> server  line string                    a command line
//	Output   6  server -> client  stream uint8 (1|2), data bytes a chunk of a command's output
//	Exit     7  server -> client  status uint16                  a command ended
//	Finish   8  both              status uint8                   the session ends
//
// Output's data is the rest of the body (up to [MaxOutput] bytes), not a
// string. Exit's status is the command's exit code (0-255) or 256 plus the
// signal number that ended it.
//
// # Conversation
//
// After the TLS handshake the server leads. Authentication: any number of
// Text, each Prompt answered by exactly one Reply; it ends with Auth (status
// [AuthOK] with the user name PAM settled on, or a failure status, after
// which the server sends Finish and closes). Command loop: the client sends
// Command, the server answers with Output chunks then one Exit; the client
// sends Finish to end, and the server answers Finish. A message out of turn
// ends the connection. [Conversation] enforces these turns for each side.
//
// The same frames travel between [net] and [session] on a socketpair: [net]
// checks every client message before relaying it, and [session], which runs
// as root, decodes and checks again.
//
// What is valid: strings are UTF-8 without NUL; Text and Prompt may hold
// newlines and tabs but no other control character; a user name is
// 1-[MaxUser] bytes of letters, digits and "._-" not starting with "-"; a
// command line is 1-[MaxCommand] bytes without control characters except
// tab; a Reply is at most [MaxReply] bytes with no NUL (it is a secret and
// is handed to PAM as is).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Type says what a message is.
type Type uint8

// Message types.
const (
	TypeText    Type = 1
	TypePrompt  Type = 2
	TypeReply   Type = 3
	TypeAuth    Type = 4
	TypeCommand Type = 5
	TypeOutput  Type = 6
	TypeExit    Type = 7
	TypeFinish  Type = 8
)

var typeNames = [...]string{TypeText: "text", TypePrompt: "prompt", TypeReply: "reply", TypeAuth: "auth", TypeCommand: "command", TypeOutput: "output", TypeExit: "exit", TypeFinish: "finish"}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Limits.
const (
	// MaxFrame bounds a whole frame, length prefix included.
	MaxFrame = 64 << 10
	// MaxOutput bounds the data of one Output message.
	MaxOutput = 32 << 10
	// MaxText bounds a Text or Prompt string.
	MaxText = 4096
	// MaxReply bounds a Reply: PAM_MAX_RESP_SIZE.
	MaxReply = 512
	// MaxUser bounds a user name (utmp's ut_user is 32 bytes).
	MaxUser = 32
	// MaxCommand bounds a command line.
	MaxCommand = 4096
)

// Auth statuses.
const (
	AuthOK     uint8 = 0
	AuthFailed uint8 = 1
	// AuthTimeout: the authentication deadline passed.
	AuthTimeout uint8 = 2
	// AuthError: the server failed (PAM or the session could not start).
	AuthError uint8 = 3
)

// Output streams.
const (
	Stdout uint8 = 1
	Stderr uint8 = 2
)

// Msg is one message. Which fields a type uses is in the package
// documentation; the others are zero.
type Msg struct {
	Type Type
	// Text: Text and Prompt's text, Auth's user name, Command's line.
	Text string
	// Data: Reply's answer and Output's chunk. A Reply is a secret:
	// callers wipe it with [Scrub] once used.
	Data []byte
	// Echo: Prompt only.
	Echo bool
	// Stream: Output only.
	Stream uint8
	// Status: Auth, Exit and Finish.
	Status uint16
}

// ErrFrame is wrapped by every error about a malformed frame or message.
var ErrFrame = errors.New("wire: malformed message")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFrame, fmt.Sprintf(format, a...))
}

// Validate checks m against the rules of its type.
func (m *Msg) Validate() error {
	switch m.Type {
	case TypeText:
		return checkText(m.Text)
	case TypePrompt:
		return checkText(m.Text)
	case TypeReply:
		if len(m.Data) > MaxReply {
			return bad("reply of %d bytes (at most %d)", len(m.Data), MaxReply)
		}
		for _, c := range m.Data {
			if c == 0 {
				return bad("NUL in reply")
			}
		}
		return nil
	case TypeAuth:
		if m.Status > uint16(AuthError) {
			return bad("auth status %d", m.Status)
		}
		if m.Status == uint16(AuthOK) {
			return ValidUser(m.Text)
		}
		if m.Text != "" {
			return ValidUser(m.Text)
		}
		return nil
	case TypeCommand:
		return ValidCommand(m.Text)
	case TypeOutput:
		if m.Stream != Stdout && m.Stream != Stderr {
			return bad("output stream %d", m.Stream)
		}
		if len(m.Data) == 0 || len(m.Data) > MaxOutput {
			return bad("output chunk of %d bytes (1 to %d)", len(m.Data), MaxOutput)
		}
		return nil
	case TypeExit:
		if m.Status > 256+64 {
			return bad("exit status %d", m.Status)
		}
		return nil
	case TypeFinish:
		if m.Status > 255 {
			return bad("finish status %d", m.Status)
		}
		return nil
	}
	return bad("unknown type %d", uint8(m.Type))
}

func checkText(s string) error {
	if len(s) > MaxText {
		return bad("text of %d bytes (at most %d)", len(s), MaxText)
	}
	if !utf8.ValidString(s) {
		return bad("text is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return bad("control character %#x in text", r)
		}
	}
	return nil
}

// ValidUser checks a user name: 1 to MaxUser bytes of ASCII letters,
// digits, '.', '_' and '-', not starting with '-' and not "." or "..".
func ValidUser(s string) error {
	if s == "" || len(s) > MaxUser {
		return bad("user name of %d bytes (1 to %d)", len(s), MaxUser)
	}
	if s[0] == '-' || s == "." || s == ".." {
		return bad("user name %q", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return bad("byte %#x in user name", c)
		}
	}
	return nil
}

// ValidCommand checks a command line: 1 to MaxCommand bytes of UTF-8
// without control characters other than tab.
func ValidCommand(s string) error {
	if s == "" || len(s) > MaxCommand {
		return bad("command of %d bytes (1 to %d)", len(s), MaxCommand)
	}
	if !utf8.ValidString(s) {
		return bad("command is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return bad("control character %#x in command", r)
		}
	}
	return nil
}

// Append validates m and appends its frame to b.
func Append(b []byte, m *Msg) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0, byte(m.Type))
	switch m.Type {
	case TypeText, TypeCommand:
		b = appendString(b, m.Text)
	case TypePrompt:
		b = append(b, boolByte(m.Echo))
		b = appendString(b, m.Text)
	case TypeReply:
		b = appendString(b, string(m.Data))
	case TypeAuth:
		b = append(b, byte(m.Status))
		b = appendString(b, m.Text)
	case TypeOutput:
		b = append(b, m.Stream)
		b = append(b, m.Data...)
	case TypeExit:
		b = binary.BigEndian.AppendUint16(b, m.Status)
	case TypeFinish:
		b = append(b, byte(m.Status))
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Parse decodes one frame's type and body (the bytes after the length
// prefix) and validates the message. Data aliases body.
func Parse(body []byte) (Msg, error) {
	if len(body) == 0 {
		return Msg{}, bad("empty frame")
	}
	m := Msg{Type: Type(body[0])}
	d := decoder{b: body[1:]}
	switch m.Type {
	case TypeText, TypeCommand:
		m.Text = d.string()
	case TypePrompt:
		switch e := d.byte(); e {
		case 0, 1:
			m.Echo = e == 1
		default:
			return Msg{}, bad("echo flag %d", e)
		}
		m.Text = d.string()
	case TypeReply:
		m.Data = d.bytes()
	case TypeAuth:
		m.Status = uint16(d.byte())
		m.Text = d.string()
	case TypeOutput:
		m.Stream = d.byte()
		m.Data = d.rest()
	case TypeExit:
		m.Status = d.uint16()
	case TypeFinish:
		m.Status = uint16(d.byte())
	default:
		return Msg{}, bad("unknown type %d", body[0])
	}
	if d.err != nil {
		return Msg{}, fmt.Errorf("%s: %w", m.Type, d.err)
	}
	if len(d.b) != 0 {
		return Msg{}, bad("%s: %d trailing bytes", m.Type, len(d.b))
	}
	if err := m.Validate(); err != nil {
		return Msg{}, err
	}
	return m, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = bad("truncated: need %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() uint8 {
	if v := d.need(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) uint16() uint16 {
	if v := d.need(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) bytes() []byte {
	n := d.uint16()
	return d.need(int(n))
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) rest() []byte {
	v := d.b
	d.b = nil
	return v
}

// Reader reads frames from a stream. Its buffer is reused: a message's
// Data is valid until the next Read.
type Reader struct {
	r   io.Reader
	buf []byte
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r, buf: make([]byte, MaxFrame)} }

// Read reads and parses the next frame. At a clean end of stream between
// frames it returns io.EOF; a frame cut short is io.ErrUnexpectedEOF.
func (r *Reader) Read() (Msg, error) {
	if _, err := io.ReadFull(r.r, r.buf[:4]); err != nil {
		return Msg{}, err
	}
	n := binary.BigEndian.Uint32(r.buf[:4])
	if n == 0 || n > MaxFrame-4 {
		return Msg{}, bad("frame length %d (1 to %d)", n, MaxFrame-4)
	}
	body := r.buf[4 : 4+n]
	if _, err := io.ReadFull(r.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Msg{}, err
	}
	return Parse(body)
}

// Scrub overwrites the reader's buffer, where the last Reply was read.
func (r *Reader) Scrub() { Scrub(r.buf) }

// Writer writes frames to a stream, each with one Write call.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter writes frames to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, buf: make([]byte, 0, MaxFrame)} }

// Write validates m and writes its frame.
func (w *Writer) Write(m *Msg) error {
	b, err := Append(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = b[:0]
	_, err = w.w.Write(b)
	if m.Type == TypeReply {
		Scrub(b)
	}
	return err
}

// Scrub overwrites b with zeros.
func Scrub(b []byte) {
	clear(b[:cap(b)])
}
