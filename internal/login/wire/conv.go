package wire

import "fmt"

// Side is an end of the conversation.
type Side uint8

// The two ends.
const (
	Client Side = 1
	Server Side = 2
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

type phase uint8

const (
	phaseAuth      phase = iota // server leads: Text, Prompt, Auth
	phaseReply                  // a Prompt is out: the client owes a Reply
	phaseFailed                 // Auth failed: the server sends Finish
	phaseIdle                   // authenticated: the client sends Command or Finish
	phaseRunning                // a command runs: Output, then Exit
	phaseFinishing              // the client sent Finish: the server answers Finish
	phaseDone
)

var phaseNames = [...]string{"authenticating", "awaiting a reply", "failed", "idle", "running a command", "finishing", "done"}

// Conversation enforces the turns of the protocol (see the package
// documentation). Both ends and [net] in the middle keep one and check
// every message against it, whichever direction it travels.
type Conversation struct {
	p phase
	// User is the name the server's Auth message settled on.
	User string
}

// Authenticated reports whether the server sent Auth OK.
func (c *Conversation) Authenticated() bool {
	return c.p == phaseIdle || c.p == phaseRunning || (c.p >= phaseFinishing && c.User != "")
}

// Done reports whether the conversation ended (a Finish from the server).
func (c *Conversation) Done() bool { return c.p == phaseDone }

// Running reports whether a command runs (Command sent, Exit not yet).
func (c *Conversation) Running() bool { return c.p == phaseRunning }

// AwaitingReply reports whether a Prompt waits for its Reply.
func (c *Conversation) AwaitingReply() bool { return c.p == phaseReply }

// Check accepts m from side from, or returns why it is out of turn. An
// accepted message advances the conversation; a refused one leaves it as it
// was (the caller ends the connection anyway).
func (c *Conversation) Check(from Side, m *Msg) error {
	next, ok := c.next(from, m)
	if !ok {
		return fmt.Errorf("%w: %s from the %s while %s", ErrFrame, m.Type, from, phaseNames[c.p])
	}
	if m.Type == TypeAuth && m.Status == uint16(AuthOK) {
		c.User = m.Text
	}
	c.p = next
	return nil
}

func (c *Conversation) next(from Side, m *Msg) (phase, bool) {
	t := m.Type
	if from == Client {
		switch {
		case t == TypeFinish && c.p != phaseDone && c.p != phaseFinishing:
			return phaseFinishing, true
		case t == TypeReply && c.p == phaseReply:
			return phaseAuth, true
		case t == TypeCommand && c.p == phaseIdle:
			return phaseRunning, true
		}
		return c.p, false
	}
	switch {
	case c.p == phaseDone:
		return c.p, false
	case t == TypeFinish:
		return phaseDone, true
	}
	switch c.p {
	case phaseAuth:
		switch t {
		case TypeText:
			return phaseAuth, true
		case TypePrompt:
			return phaseReply, true
		case TypeAuth:
			if m.Status == uint16(AuthOK) {
				return phaseIdle, true
			}
			return phaseFailed, true
		}
	case phaseReply:
		// The server may give up waiting (the deadline).
		if t == TypeAuth && m.Status != uint16(AuthOK) {
			return phaseFailed, true
		}
	case phaseFailed:
		if t == TypeText {
			return phaseFailed, true
		}
	case phaseIdle:
		if t == TypeText {
			return phaseIdle, true
		}
	case phaseRunning:
		switch t {
		case TypeOutput:
			return phaseRunning, true
		case TypeExit:
			return phaseIdle, true
		}
	case phaseFinishing:
		// What the server sent before it read the client's Finish.
		switch t {
		case TypeText, TypeOutput, TypeExit, TypePrompt, TypeAuth:
			return phaseFinishing, true
		}
	}
	return c.p, false
}
