// Package pam binds netlogind's [session.Authenticator] to Linux-PAM
// through github.com/msteinert/pam/v2. It needs cgo (libpam), so it is
// built only with cgo; the session package stays pure Go and the rest of
// the module builds with CGO_ENABLED=0.
//
// A transaction must be used from one OS thread: the session package locks
// its goroutine before it calls [Starter]'s function, and every method and
// the conversation then run there.
package pam
