//go:build cgo

// Command netlogind-session is netlogind's [session] process: the root
// process that runs PAM for one connection and then the client's commands
// as the user. It is linked with cgo for libpam, which is why it is a
// binary of its own rather than a role of netlogind.
//
// It runs only as a child the listener started with sandbox.Spawn
// (Spec.Program naming this binary, Spec.Privileged set): it refuses to
// run otherwise. It takes the socket named "net" (its end of the
// socketpair with [net]), its configuration (session.Config, as JSON in
// the setup message), reports ready with its credentials, and speaks the
// server side of the wire protocol on "net" (package
// internal/login/session). When authentication succeeds it sends the
// listener 'A' followed by the user name on its control channel. It ends
// when the client sends Finish, when [net] breaks the protocol, or when the
// listener closes the control channel.
//
// Exit status:
//
//	0  the client ended the session (Finish), during or after login
//	1  it could not start: not started by sandbox.Spawn as a privileged
//	   child, not root, a bad configuration, no "net" file
//	2  [net] broke the protocol, closed the connection, or the listener
//	   closed the control channel
//	3  the login failed (the client was told)
//	4  the authentication deadline passed (the client was told)
//	5  PAM or the session could not be set up (the client was told)
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/pam"
	"github.com/ndhc-go/ndhc/internal/login/session"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/internal/version"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Exit statuses (see the package documentation).
const (
	exitOK          = 0
	exitSetup       = 1
	exitProtocol    = 2
	exitAuthFailed  = 3
	exitAuthTimeout = 4
	exitServer      = 5
)

func init() {
	// PAM runs on main's goroutine: keep that on the main thread, the
	// thread group leader, whose task some modules address as
	// /proc/self.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) == 2 && version.IsFlag(os.Args[1]) {
		fmt.Println(version.Get("netlogind-session"))
		os.Exit(exitOK)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", "session")
	os.Exit(run(log))
}

func run(log *slog.Logger) int {
	if _, ok := sandbox.IsChild(); !ok {
		fmt.Fprintln(os.Stderr, "netlogind-session: netlogind starts this program; it does not run on its own")
		return exitSetup
	}
	in, err := sandbox.Inherit()
	if err != nil {
		log.Error("inherit", "err", err)
		return exitSetup
	}
	if !in.Privileged || os.Geteuid() != 0 {
		log.Error("must be started as a privileged child, as root", "privileged", in.Privileged, "euid", os.Geteuid())
		return exitSetup
	}
	var cfg session.Config
	if err := in.Config(&cfg); err != nil {
		log.Error("configuration", "err", err)
		return exitSetup
	}
	if err := cfg.Validate(); err != nil {
		log.Error("configuration", "err", err)
		return exitSetup
	}
	cfg = cfg.WithDefaults()
	f, err := in.File("net")
	if err != nil {
		log.Error("net socket", "err", err)
		return exitSetup
	}
	conn, err := sandbox.UnixConn(f)
	if err != nil {
		log.Error("net socket", "err", err)
		return exitSetup
	}
	defer conn.Close()
	if _, err := in.Ready(sandbox.Options{Log: log}); err != nil {
		log.Error("ready", "err", err)
		return exitSetup
	}
	// Inherit ignores the signals a terminal or service manager sends a
	// whole group; an ignored signal stays ignored across exec, and the
	// user's commands must start with the default dispositions. A caught
	// signal is reset by exec, so catch them (and drop them) instead.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range sigs {
		}
	}()
	// The listener ends a connection by closing the control channel (it
	// sends nothing else): closing "net" makes Run clean PAM up and
	// return.
	go func() {
		_, err := sandbox.RecvUpTo(in.Ctl, 1)
		log.Info("listener closed the control channel", "err", err)
		conn.Close()
	}()

	err = session.Run(conn, session.Options{
		Start:        pam.Starter(pam.Params{Service: cfg.Service, ConfDir: cfg.PAMConfDir, Rhost: cfg.Peer}),
		AuthDeadline: time.Duration(cfg.AuthDeadline),
		FailDelay:    time.Duration(cfg.FailDelay),
		OnAuth: func(user string) error {
			return sandbox.Send(in.Ctl, wire.AppendAuthNotice(nil, user))
		},
		Log: log,
	})
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, session.ErrProtocol):
		log.Warn("ended", "err", err)
		return exitProtocol
	case errors.Is(err, session.ErrAuthFailed):
		return exitAuthFailed
	case errors.Is(err, session.ErrAuthTimeout):
		return exitAuthTimeout
	}
	log.Error("ended", "err", err)
	return exitServer
}
