package session

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Authenticator is one PAM transaction. All its methods, and the
// conversation function it was started with, run on the OS thread that
// started it.
type Authenticator interface {
	// Authenticate runs pam_authenticate; the conversation asks the
	// client.
	Authenticate() error
	// AcctMgmt runs pam_acct_mgmt. It returns an error wrapping
	// [ErrNewAuthtokReqd] when the password expired and must be changed.
	AcctMgmt() error
	// ChangeExpiredAuthTok runs pam_chauthtok with
	// PAM_CHANGE_EXPIRED_AUTHTOK, through the same conversation.
	ChangeExpiredAuthTok() error
	// User reads PAM_USER back: a module may have mapped the name.
	User() (string, error)
	// OpenSession runs pam_setcred(PAM_ESTABLISH_CRED) then
	// pam_open_session (the Linux-PAM order), undoing the first if the
	// second fails.
	OpenSession() error
	// CloseSession runs pam_setcred(PAM_DELETE_CRED) and
	// pam_close_session, both even if one fails.
	CloseSession() error
	// Env returns pam_getenvlist as NAME=value strings.
	Env() ([]string, error)
	// End runs pam_end. Nothing may be called after it.
	End() error
}

// ErrNewAuthtokReqd is wrapped by [Authenticator.AcctMgmt]'s error when
// the account is valid but its password must be changed first.
var ErrNewAuthtokReqd = errors.New("session: a new authentication token is required")

// Style is the kind of a PAM conversation message.
type Style int

// PAM message styles (pam_message.msg_style).
const (
	PromptEchoOff Style = iota + 1
	PromptEchoOn
	ErrorMsg
	TextInfo
)

// ConvFunc answers one PAM message: a reply for the prompt styles, ""
// for the others. An error makes the PAM call fail (PAM_CONV_ERR).
type ConvFunc func(style Style, msg string) (string, error)

// StartFunc starts a PAM transaction for user with the conversation conv.
// [Run] calls it on its locked thread; the caller binds the service, the
// configuration directory and PAM_RHOST.
type StartFunc func(user string, conv ConvFunc) (Authenticator, error)

// MaxConvMessages bounds the PAM messages of one login, over all its PAM
// calls: a module stuck in a loop of prompts (or of text) ends the login
// instead of talking forever.
const MaxConvMessages = 64

// Errors returned by [Run]; the binary maps them to exit statuses.
var (
	// ErrProtocol: [net] sent a malformed or out-of-turn message, or
	// closed the connection, or writing to it failed. Nothing was
	// answered.
	ErrProtocol = errors.New("session: [net] broke the protocol")
	// ErrAuthFailed: the login failed and the client was told so.
	ErrAuthFailed = errors.New("session: authentication failed")
	// ErrAuthTimeout: the authentication deadline passed.
	ErrAuthTimeout = errors.New("session: authentication deadline passed")
	// ErrServer: PAM or the session could not be set up (after a
	// successful authentication, or pam_start itself); the client got
	// Auth with AuthError.
	ErrServer = errors.New("session: server failure")
)

// Conversation failures that do not end the login on their own: PAM gets
// PAM_CONV_ERR and fails, and the login is answered as any failure.
var (
	errConvLimit      = errors.New("session: too many PAM messages")
	errPromptRefused  = errors.New("session: PAM prompted after authentication")
	errUnknownStyle   = errors.New("session: unknown PAM message style")
	errClientFinished = errors.New("session: the client ended the session")
)

// printable makes a PAM message fit a Text or Prompt: valid UTF-8, no
// control characters but newline and tab, at most wire.MaxText bytes.
// Modules write what they like; the client's terminal must not get escape
// sequences from them.
func printable(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			r = '?'
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f, r >= 0x80 && r < 0xa0:
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
