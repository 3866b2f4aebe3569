// Package client is the client side of netlogind's protocol: Dial opens
// the connection (TLS 1.3 with a verified server for TCP, plain for a
// local UNIX socket) and Run plays the conversation over it, asking a UI
// for what only the user can supply.
//
// The server is not trusted to behave: every message it sends is parsed by
// wire.Reader and checked against the turns of a wire.Conversation, and
// anything malformed or out of turn ends the session with an error (and
// status StatusError) instead of a guess at what the server meant.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// Exit statuses Run returns besides a command's own.
const (
	// StatusError: the connection broke, the server misbehaved, or the UI
	// failed. 255, as ssh uses for its own failures.
	StatusError = 255
	// StatusAuthFailed: the server refused the login.
	StatusAuthFailed = 5
)

// UI is what Run needs from the user. Tests drive Run with their own.
type UI interface {
	// Text shows an informational message from the server.
	Text(s string)
	// Prompt asks the user for one answer, hiding it unless echo. The
	// answer is at most wire.MaxReply bytes; Run refuses a longer one
	// rather than cut a secret short. Run overwrites the returned slice
	// (up to its capacity) once it is sent.
	Prompt(text string, echo bool) ([]byte, error)
	// NextCommand returns the next command line to run, or ok false when
	// there are no more and the session should end.
	NextCommand() (line string, ok bool, err error)
	// Stdout and Stderr receive the commands' output streams.
	Stdout() io.Writer
	Stderr() io.Writer
}

// ErrAuthFailed is wrapped by the error Run returns when the server
// refused the login; AuthError carries the server's status.
var ErrAuthFailed = errors.New("client: authentication failed")

// ErrServerFinished is returned when the server ends the session on its
// own, not in answer to the client's Finish or after a refused login.
var ErrServerFinished = errors.New("client: the server ended the session")

// AuthError is the server's refusal of the login.
type AuthError struct {
	// Status is the Auth message's status: wire.AuthFailed, AuthTimeout
	// or AuthError.
	Status uint8
}

func (e *AuthError) Error() string {
	switch e.Status {
	case wire.AuthFailed:
		return "client: authentication failed"
	case wire.AuthTimeout:
		return "client: authentication failed: the server's deadline passed"
	case wire.AuthError:
		return "client: authentication failed: the server could not start the session"
	}
	return fmt.Sprintf("client: authentication failed (status %d)", e.Status)
}

// Unwrap lets errors.Is match ErrAuthFailed.
func (e *AuthError) Unwrap() error { return ErrAuthFailed }

// ExitStatus maps a wire Exit status to a process exit status the way a
// shell does: a command's own code (0-255) as is, death by signal n
// (256+n on the wire) as 128+n.
func ExitStatus(wireStatus uint16) int {
	if wireStatus >= 256 {
		return 128 + int(wireStatus-256)
	}
	return int(wireStatus)
}

// Run plays the client's side of a session over conn: it shows the
// server's Text, answers each Prompt through ui, and once authenticated
// runs the commands ui supplies one after another, copying their output
// to ui's streams. When ui has no more commands it sends Finish and waits
// for the server's.
//
// It returns the last command's status as ExitStatus maps it (0 when no
// command ran); StatusAuthFailed with an *AuthError when the server
// refused the login; StatusError with the reason on any other failure,
// including a server message that is malformed or out of turn and a
// Finish the client did not ask for.
//
// When ctx is done Run returns StatusError and ctx's error; it unblocks a
// pending read or write if conn has SetDeadline (a net.Conn does).
func Run(ctx context.Context, conn io.ReadWriter, ui UI) (status int, err error) {
	if d, ok := conn.(interface{ SetDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	s := &session{r: wire.NewReader(conn), w: wire.NewWriter(conn), ui: ui}
	status, err = s.run()
	if err != nil && ctx.Err() != nil {
		return StatusError, fmt.Errorf("client: %w (%v)", ctx.Err(), err)
	}
	return status, err
}

type session struct {
	r    *wire.Reader
	w    *wire.Writer
	ui   UI
	conv wire.Conversation
	// last is the exit status of the last command that ended.
	last int
	// auth is the refusal, once the server sent one.
	auth *AuthError
	// finishing: the client sent Finish.
	finishing bool
}

func (s *session) run() (int, error) {
	for {
		m, err := s.r.Read()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the server closed the connection")
			}
			return StatusError, fmt.Errorf("client: reading from the server: %w", err)
		}
		if err := s.conv.Check(wire.Server, &m); err != nil {
			return StatusError, fmt.Errorf("client: %w", err)
		}
		done, status, err := s.handle(&m)
		if err != nil || done {
			return status, err
		}
	}
}

// handle acts on one message the conversation accepted.
func (s *session) handle(m *wire.Msg) (done bool, status int, err error) {
	switch m.Type {
	case wire.TypeText:
		s.ui.Text(m.Text)
	case wire.TypePrompt:
		if s.finishing {
			// A prompt the server sent before it read our Finish:
			// nobody will read the answer.
			return false, 0, nil
		}
		if err := s.reply(m); err != nil {
			return true, StatusError, err
		}
	case wire.TypeAuth:
		if m.Status != uint16(wire.AuthOK) {
			s.auth = &AuthError{Status: uint8(m.Status)}
			return false, 0, nil
		}
		if !s.finishing {
			if err := s.next(); err != nil {
				return true, StatusError, err
			}
		}
	case wire.TypeOutput:
		out := s.ui.Stdout()
		if m.Stream == wire.Stderr {
			out = s.ui.Stderr()
		}
		if _, err := out.Write(m.Data); err != nil {
			return true, StatusError, fmt.Errorf("client: writing a command's output: %w", err)
		}
	case wire.TypeExit:
		s.last = ExitStatus(m.Status)
		if !s.finishing {
			if err := s.next(); err != nil {
				return true, StatusError, err
			}
		}
	case wire.TypeFinish:
		switch {
		case s.auth != nil:
			return true, StatusAuthFailed, s.auth
		case s.finishing:
			return true, s.last, nil
		}
		return true, StatusError, fmt.Errorf("%w (status %d)", ErrServerFinished, m.Status)
	default:
		// The conversation lets nothing else through from the server.
		return true, StatusError, fmt.Errorf("client: unexpected %s from the server", m.Type)
	}
	return false, 0, nil
}

// reply asks the UI to answer a prompt and sends the answer.
func (s *session) reply(m *wire.Msg) error {
	data, err := s.ui.Prompt(m.Text, m.Echo)
	defer wire.Scrub(data)
	if err != nil {
		return fmt.Errorf("client: reading the answer to a prompt: %w", err)
	}
	if len(data) > wire.MaxReply {
		return fmt.Errorf("client: an answer of %d bytes is longer than the %d the protocol carries", len(data), wire.MaxReply)
	}
	r := wire.Msg{Type: wire.TypeReply, Data: data}
	if err := s.conv.Check(wire.Client, &r); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := s.w.Write(&r); err != nil {
		return fmt.Errorf("client: sending the answer: %w", err)
	}
	return nil
}

// next sends the UI's next command, or Finish when there is none.
func (s *session) next() error {
	line, ok, err := s.ui.NextCommand()
	if err != nil {
		return fmt.Errorf("client: reading the next command: %w", err)
	}
	m := wire.Msg{Type: wire.TypeFinish}
	if ok {
		m = wire.Msg{Type: wire.TypeCommand, Text: line}
		if err := wire.ValidCommand(line); err != nil {
			return fmt.Errorf("client: command %q: %w", line, err)
		}
	}
	if err := s.conv.Check(wire.Client, &m); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := s.w.Write(&m); err != nil {
		return fmt.Errorf("client: sending %s: %w", m.Type, err)
	}
	s.finishing = m.Type == wire.TypeFinish
	return nil
}
