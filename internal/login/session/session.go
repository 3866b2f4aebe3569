package session

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// Options configure [Run].
type Options struct {
	// Start starts the PAM transaction. Required.
	Start StartFunc
	// AuthDeadline bounds the authentication (zero: DefaultAuthDeadline).
	AuthDeadline time.Duration
	// FailDelay is the least time between the client's last answer and
	// the answer to a failed login (zero: DefaultFailDelay).
	FailDelay time.Duration
	// OnAuth is told the user once the client has Auth OK: the binary
	// sends 'A'+user to the listener. An error ends the session.
	OnAuth func(user string) error
	// Host changes the process for the login (nil: SystemHost).
	Host Host
	// Lookup resolves the user PAM settled on (nil: LookupAccount).
	Lookup func(name string) (*Account, error)
	// Log receives what went wrong, for the operator (nil: slog.Default()).
	Log *slog.Logger
}

// Texts of the server's fixed messages.
const (
	usernamePrompt = "Username: "
	failedText     = "Login incorrect\n"
)

// Finish statuses the server sends.
const (
	finishOK     = 0
	finishFailed = 1
)

// mode says what the PAM conversation may do.
type mode uint8

const (
	modeAuth    mode = iota // prompts go to the client
	modeSession             // after authentication: prompts are refused
	modeClosing             // cleaning up: prompts refused, text dropped
)

// incoming is one message read from [net], or why reading stopped.
type incoming struct {
	m   wire.Msg
	err error
}

type server struct {
	o  Options
	rw io.ReadWriter

	mu   sync.Mutex // guards conv and w: output goroutines send too
	conv wire.Conversation
	w    *wire.Writer

	in   chan incoming
	quit chan struct{}

	deadline *time.Timer
	mode     mode
	nmsg     int
	// abort is why the conversation cannot go on (the client finished,
	// [net] broke the protocol, the deadline): it decides the answer,
	// whatever PAM made of the conversation error.
	abort     error
	lastReply time.Time

	pam    Authenticator // nil once ended
	opened bool          // the PAM session is open
}

// Run is the [session] process: it leads the conversation with [net] on
// rw, authenticates the user through PAM, runs the commands, and closes the
// PAM session. It returns nil when the client ended the session with
// Finish, and otherwise an error wrapping one of ErrProtocol,
// ErrAuthFailed, ErrAuthTimeout or ErrServer.
//
// Run locks the calling goroutine to its OS thread and leaves it locked
// (see the package documentation). When Run returns, a goroutine may still
// be blocked reading rw: the caller closes rw.
func Run(rw io.ReadWriter, o Options) error {
	runtime.LockOSThread()
	if o.Start == nil {
		return errors.New("session: no StartFunc")
	}
	if o.AuthDeadline <= 0 {
		o.AuthDeadline = DefaultAuthDeadline
	}
	if o.FailDelay <= 0 {
		o.FailDelay = DefaultFailDelay
	}
	if o.Host == nil {
		o.Host = SystemHost{}
	}
	if o.Lookup == nil {
		o.Lookup = LookupAccount
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &server{o: o, rw: rw, w: wire.NewWriter(rw), in: make(chan incoming), quit: make(chan struct{})}
	defer close(s.quit)
	s.deadline = time.NewTimer(o.AuthDeadline)
	defer s.deadline.Stop()
	go s.readLoop(wire.NewReader(rw))
	return s.run()
}

// readLoop reads [net]'s messages for the flow. The reader reuses its
// buffer, so each message's data is copied, and a reply's copy in the
// buffer is wiped at once.
func (s *server) readLoop(r *wire.Reader) {
	for {
		m, err := r.Read()
		if err == nil && m.Data != nil {
			m.Data = append([]byte{}, m.Data...)
			if m.Type == wire.TypeReply {
				r.Scrub()
			}
		}
		select {
		case s.in <- incoming{m, err}:
		case <-s.quit:
			if m.Type == wire.TypeReply {
				wire.Scrub(m.Data)
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// send checks m against the conversation and writes it. A refusal is a
// bug here, not [net]'s doing; a write error means [net] is gone.
func (s *server) send(m *wire.Msg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conv.Check(wire.Server, m); err != nil {
		return fmt.Errorf("session: sending: %w", err)
	}
	if err := s.w.Write(m); err != nil {
		return fmt.Errorf("%w: writing %s: %v", ErrProtocol, m.Type, err)
	}
	return nil
}

// accept checks a message from [net] against the conversation.
func (s *server) accept(in incoming) (wire.Msg, error) {
	if in.err != nil {
		if errors.Is(in.err, io.EOF) {
			return wire.Msg{}, fmt.Errorf("%w: end of stream", ErrProtocol)
		}
		return wire.Msg{}, fmt.Errorf("%w: %v", ErrProtocol, in.err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conv.Check(wire.Client, &in.m); err != nil {
		return wire.Msg{}, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return in.m, nil
}

// prompt sends a Prompt and waits, within the authentication deadline, for
// its Reply. The caller wipes the answer.
func (s *server) prompt(echo bool, text string) ([]byte, error) {
	if err := s.send(&wire.Msg{Type: wire.TypePrompt, Echo: echo, Text: printable(text, wire.MaxText)}); err != nil {
		return nil, err
	}
	select {
	case in := <-s.in:
		m, err := s.accept(in)
		if err != nil {
			return nil, err
		}
		if m.Type == wire.TypeFinish {
			return nil, errClientFinished
		}
		s.lastReply = time.Now()
		return m.Data, nil
	case <-s.deadline.C:
		return nil, ErrAuthTimeout
	}
}

// converse is the PAM conversation function.
func (s *server) converse(style Style, msg string) (string, error) {
	if s.abort != nil {
		return "", s.abort
	}
	if s.mode == modeClosing {
		if style == PromptEchoOff || style == PromptEchoOn {
			return "", errPromptRefused
		}
		return "", nil
	}
	s.nmsg++
	if s.nmsg > MaxConvMessages {
		return "", errConvLimit
	}
	switch style {
	case ErrorMsg, TextInfo:
		text := printable(msg, wire.MaxText-1)
		if text == "" {
			return "", nil
		}
		if err := s.send(&wire.Msg{Type: wire.TypeText, Text: text + "\n"}); err != nil {
			s.abort = err
			return "", err
		}
		return "", nil
	case PromptEchoOff, PromptEchoOn:
		if s.mode != modeAuth {
			return "", errPromptRefused
		}
		answer, err := s.prompt(style == PromptEchoOn, msg)
		if err != nil {
			s.abort = err
			return "", err
		}
		// PAM takes a C string; the Go copy cannot be wiped, the wire's
		// can.
		r := string(answer)
		wire.Scrub(answer)
		return r, nil
	}
	return "", errUnknownStyle
}

// run is the whole flow after the setup.
func (s *server) run() error {
	a, err := s.authenticate()
	if a != nil {
		s.pam = a
		defer s.endPAM()
	}
	if err != nil {
		return s.refuse(err)
	}
	s.mode = modeSession
	user, err := a.User()
	if err == nil {
		err = wire.ValidUser(user)
	}
	if err != nil {
		return s.refuse(fmt.Errorf("%w: PAM_USER: %v", ErrServer, err))
	}
	acct, err := s.o.Lookup(user)
	if err != nil {
		return s.refuse(fmt.Errorf("%w: account %s: %v", ErrServer, user, err))
	}
	if err := s.o.Host.Prepare(acct); err != nil {
		return s.refuse(fmt.Errorf("%w: %v", ErrServer, err))
	}
	if err := a.OpenSession(); err != nil {
		return s.refuse(fmt.Errorf("%w: opening the PAM session: %v", ErrServer, err))
	}
	s.opened = true
	groups, err := s.o.Host.Groups(acct)
	if err != nil {
		return s.refuse(fmt.Errorf("%w: %v", ErrServer, err))
	}
	penv, err := a.Env()
	if err != nil {
		return s.refuse(fmt.Errorf("%w: PAM environment: %v", ErrServer, err))
	}
	s.deadline.Stop()
	if err := s.send(&wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthOK), Text: user}); err != nil {
		return err
	}
	if s.o.OnAuth != nil {
		if err := s.o.OnAuth(user); err != nil {
			return fmt.Errorf("%w: telling the listener: %v", ErrServer, err)
		}
	}
	c := &commander{s: s, acct: acct, groups: groups, env: commandEnv(acct, penv)}
	if err := c.loop(); err != nil {
		return err
	}
	// The client sent Finish: it is told the session ended once PAM has
	// closed it.
	s.endPAM()
	return s.send(&wire.Msg{Type: wire.TypeFinish, Status: finishOK})
}

// endPAM closes the PAM session if it was opened (pam_setcred
// PAM_DELETE_CRED, pam_close_session) and ends the transaction. It runs
// once, on the PAM thread; the conversation is closed to the client by
// then.
func (s *server) endPAM() {
	if s.pam == nil {
		return
	}
	s.mode = modeClosing
	if s.opened {
		if err := s.pam.CloseSession(); err != nil {
			s.o.Log.Warn("closing the PAM session", "err", err)
		}
	}
	if err := s.pam.End(); err != nil {
		s.o.Log.Warn("pam_end", "err", err)
	}
	s.pam = nil
}

// authenticate runs the login up to a valid account: the user name, then
// pam_authenticate, pam_acct_mgmt and, for an expired password,
// pam_chauthtok. The Authenticator is returned whenever one was started,
// for pam_end.
func (s *server) authenticate() (Authenticator, error) {
	answer, err := s.prompt(true, usernamePrompt)
	if err != nil {
		return nil, err
	}
	name := string(answer)
	if err := wire.ValidUser(name); err != nil {
		return nil, fmt.Errorf("%w: user name: %v", ErrAuthFailed, err)
	}
	a, err := s.o.Start(name, s.converse)
	if err != nil {
		return nil, fmt.Errorf("%w: pam_start: %v", ErrServer, err)
	}
	// Each step: a conversation failure of our own (the client, [net] or
	// the deadline) outranks what PAM made of it.
	step := func(err error) error {
		if s.abort != nil {
			return s.abort
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrAuthFailed, err)
		}
		return nil
	}
	if err := step(a.Authenticate()); err != nil {
		return a, err
	}
	err = a.AcctMgmt()
	if s.abort == nil && errors.Is(err, ErrNewAuthtokReqd) {
		err = a.ChangeExpiredAuthTok()
	}
	return a, step(err)
}

// refuse ends a login that did not reach the command loop, answering as
// err says.
func (s *server) refuse(err error) error {
	switch {
	case errors.Is(err, errClientFinished):
		// The client gave up (end of input at a prompt): a clean end.
		return s.send(&wire.Msg{Type: wire.TypeFinish, Status: finishOK})
	case errors.Is(err, ErrProtocol):
		s.o.Log.Warn("[net] broke the protocol", "err", err)
		return err
	case errors.Is(err, ErrAuthTimeout):
		s.send(&wire.Msg{Type: wire.TypeAuth, Status: uint16(wire.AuthTimeout)})
		s.send(&wire.Msg{Type: wire.TypeFinish, Status: finishFailed})
		return err
	}
	status := wire.AuthFailed
	if errors.Is(err, ErrServer) {
		status = wire.AuthError
	}
	s.o.Log.Info("login refused", "err", err)
	// The same wait after the last answer for every failure: an unknown
	// user, a wrong password and a malformed name look alike. The wait
	// counts from the answer rather than from the prompt, so that the
	// time PAM takes to check it is inside the wait too.
	if d := time.Until(s.lastReply.Add(s.o.FailDelay)); d > 0 {
		time.Sleep(d)
	}
	if status == wire.AuthFailed {
		if e := s.send(&wire.Msg{Type: wire.TypeText, Text: failedText}); e != nil {
			return errors.Join(err, e)
		}
	}
	if e := s.send(&wire.Msg{Type: wire.TypeAuth, Status: uint16(status)}); e != nil {
		return errors.Join(err, e)
	}
	if e := s.send(&wire.Msg{Type: wire.TypeFinish, Status: finishFailed}); e != nil {
		return errors.Join(err, e)
	}
	if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrServer) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrServer, err)
}
