//go:build cgo

package pam

import (
	"errors"
	"fmt"
	"slices"

	"github.com/msteinert/pam/v2"

	"github.com/ndhc-go/ndhc/internal/login/session"
)

// Params bind a transaction to its service.
type Params struct {
	// Service is the PAM service name (required).
	Service string
	// ConfDir is the directory of service files; empty is the system's.
	ConfDir string
	// Rhost becomes PAM_RHOST when not empty.
	Rhost string
}

// Starter returns the session.StartFunc for p.
func Starter(p Params) session.StartFunc {
	return func(user string, conv session.ConvFunc) (session.Authenticator, error) {
		return Start(p, user, conv)
	}
}

// Transaction is one PAM handle; it implements session.Authenticator.
type Transaction struct {
	t *pam.Transaction
}

var _ session.Authenticator = (*Transaction)(nil)

// Start runs pam_start (pam_start_confdir when p.ConfDir is set) for user
// and sets PAM_RHOST.
func Start(p Params, user string, conv session.ConvFunc) (*Transaction, error) {
	if p.Service == "" {
		return nil, errors.New("pam: no service name")
	}
	h := pam.ConversationFunc(func(style pam.Style, msg string) (string, error) {
		s, ok := styles[style]
		if !ok {
			// Binary prompts and anything newer: no answer we could give.
			return "", fmt.Errorf("pam: message style %d", style)
		}
		return conv(s, msg)
	})
	var t *pam.Transaction
	var err error
	if p.ConfDir != "" {
		t, err = pam.StartConfDir(p.Service, user, h, p.ConfDir)
	} else {
		t, err = pam.Start(p.Service, user, h)
	}
	if err != nil {
		return nil, fmt.Errorf("pam_start: %w", err)
	}
	if p.Rhost != "" {
		if err := t.SetItem(pam.Rhost, p.Rhost); err != nil {
			t.End()
			return nil, fmt.Errorf("pam_set_item(PAM_RHOST): %w", err)
		}
	}
	return &Transaction{t: t}, nil
}

var styles = map[pam.Style]session.Style{
	pam.PromptEchoOff: session.PromptEchoOff,
	pam.PromptEchoOn:  session.PromptEchoOn,
	pam.ErrorMsg:      session.ErrorMsg,
	pam.TextInfo:      session.TextInfo,
}

// Authenticate runs pam_authenticate. An account without a password is
// refused (PAM_DISALLOW_NULL_AUTHTOK): nobody logs in over the network
// with an empty one, whatever the stack's nullok says.
func (x *Transaction) Authenticate() error {
	return wrap("pam_authenticate", x.t.Authenticate(pam.DisallowNullAuthtok))
}

// AcctMgmt runs pam_acct_mgmt; PAM_NEW_AUTHTOK_REQD comes back wrapping
// session.ErrNewAuthtokReqd.
func (x *Transaction) AcctMgmt() error {
	err := x.t.AcctMgmt(pam.DisallowNullAuthtok)
	if errors.Is(err, pam.ErrNewAuthtokReqd) {
		return fmt.Errorf("pam_acct_mgmt: %w", session.ErrNewAuthtokReqd)
	}
	return wrap("pam_acct_mgmt", err)
}

// ChangeExpiredAuthTok runs pam_chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK).
func (x *Transaction) ChangeExpiredAuthTok() error {
	return wrap("pam_chauthtok", x.t.ChangeAuthTok(pam.ChangeExpiredAuthtok))
}

// User reads PAM_USER.
func (x *Transaction) User() (string, error) {
	u, err := x.t.GetItem(pam.User)
	return u, wrap("pam_get_item(PAM_USER)", err)
}

// OpenSession runs pam_setcred(PAM_ESTABLISH_CRED), then
// pam_open_session; when the latter fails the credentials are deleted
// again.
func (x *Transaction) OpenSession() error {
	if err := x.t.SetCred(pam.EstablishCred); err != nil {
		return wrap("pam_setcred", err)
	}
	if err := x.t.OpenSession(0); err != nil {
		return errors.Join(wrap("pam_open_session", err), wrap("pam_setcred(PAM_DELETE_CRED)", x.t.SetCred(pam.DeleteCred)))
	}
	return nil
}

// CloseSession runs pam_setcred(PAM_DELETE_CRED) and pam_close_session.
func (x *Transaction) CloseSession() error {
	return errors.Join(wrap("pam_setcred(PAM_DELETE_CRED)", x.t.SetCred(pam.DeleteCred)),
		wrap("pam_close_session", x.t.CloseSession(0)))
}

// Env returns pam_getenvlist as sorted NAME=value strings.
func (x *Transaction) Env() ([]string, error) {
	m, err := x.t.GetEnvList()
	if err != nil {
		return nil, wrap("pam_getenvlist", err)
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// End runs pam_end.
func (x *Transaction) End() error { return wrap("pam_end", x.t.End()) }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
