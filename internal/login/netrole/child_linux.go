package netrole

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Exit statuses of [net].
const (
	ExitOK      = 0 // the session ended with a Finish
	ExitSetup   = 1 // inheriting, configuration or the sandbox failed
	ExitSession = 2 // the connection ended otherwise (client gone, protocol, deadline)
)

// Main is [net]'s whole life in the spawned child: take the descriptors,
// enter the sandbox, serve the connection, exit. It never returns.
func Main(log *slog.Logger) {
	in, err := sandbox.Inherit()
	if err != nil {
		log.Error("inherit", "err", err)
		os.Exit(ExitSetup)
	}
	var cfg Config
	if err := in.Config(&cfg); err != nil {
		log.Error("configuration", "err", err)
		os.Exit(ExitSetup)
	}
	client, err := fileConn(in, "client")
	if err != nil {
		log.Error("client socket", "err", err)
		os.Exit(ExitSetup)
	}
	session, err := fileConn(in, "session")
	if err != nil {
		log.Error("session channel", "err", err)
		os.Exit(ExitSetup)
	}
	battery := containmentStart(in)
	if _, err := in.Ready(sandbox.Options{Log: log}); err != nil {
		log.Error("sandbox", "err", err)
		os.Exit(ExitSetup)
	}
	battery(client, session, in.Ctl)
	// The control channel carries the signing request and its answer;
	// once the handshake is done (at once without TLS), its end-of-file
	// means the listener is gone.
	var watch sync.Once
	watchParent := func() { watch.Do(func() { in.ExitWithParent(log) }) }
	sign := func(msg []byte) ([]byte, error) {
		if err := sandbox.Send(in.Ctl, wire.AppendSignRequest(nil, msg)); err != nil {
			return nil, err
		}
		b, err := sandbox.RecvUpTo(in.Ctl, 1+64)
		if err != nil {
			return nil, err
		}
		sig, err := wire.ParseSignAnswer(b)
		if err == nil {
			watchParent()
		}
		return sig, err
	}
	if !cfg.TLS {
		watchParent()
	}
	if err := Run(context.Background(), cfg, client, session, sign, log); err != nil {
		log.Info("connection ended", "err", err)
		os.Exit(ExitSession)
	}
	os.Exit(ExitOK)
}

// fileConn wraps a handed socket before the sandbox (net.FileConn needs
// system calls [net]'s allowlist does not have) and closes the original.
func fileConn(in *sandbox.Inherited, name string) (net.Conn, error) {
	f, err := in.File(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, errors.Join(errors.New(name), err)
	}
	return c, nil
}
