// Package session is netlogind's [session] process: it speaks the server
// side of the wire protocol to [net] over their socketpair, runs PAM through
// an [Authenticator], and then runs the client's commands as the user.
//
// [net] is treated as hostile: every message it sends is parsed by
// [wire.Reader] and checked against a [wire.Conversation], and anything out
// of turn, malformed, or an early end of stream makes [Run] clean up PAM and
// return an error without answering. A failed login gets the same messages
// after the same delay whether the user exists or not.
//
// The package is pure Go: the PAM binding (package internal/login/pam,
// which needs cgo) is reached only through [Authenticator] and [StartFunc],
// so the whole flow is testable with a fake.
//
// # Threads
//
// PAM modules keep per-thread state (credentials, keyrings, the audit
// login uid live in the task, not the process), and libpam is not
// thread-safe. [Run] locks its goroutine to its OS thread for the whole
// flow and never unlocks it: pam_start, every PAM call, the conversation,
// the login uid write and the fork of every command happen on that one
// thread, so commands inherit what the session modules set up. Call Run
// from the goroutine that should own PAM (the binary calls it from main,
// locked to the main thread from init).
package session
