// Package netrole is netlogind's [net] process: the only process that reads
// a byte a client sends. It terminates TLS with a host key it never holds
// (the listener signs the handshake), decodes every client message, checks
// it against the protocol's turns, relays it to [session] and wipes
// secrets from its buffers once relayed. It relays [session]'s messages
// back the same way, checked too.
//
// Run is given its three descriptors already wrapped, so it is tested with
// fake ends; internal/login/listener spawns it in its sandbox.
package netrole

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// Config is [net]'s configuration, sent by the listener.
type Config struct {
	// TLS says the client speaks TLS 1.3 (TCP); false is a local UNIX
	// socket, plain.
	TLS bool `json:"tls"`
	// CertChain is the host certificate chain, DER, leaf first. Its key is
	// Ed25519 and stays with the listener.
	CertChain [][]byte `json:"cert_chain,omitempty"`
	// AuthSeconds bounds the time from the connection to the end of
	// authentication (the TLS handshake included).
	AuthSeconds int `json:"auth_seconds"`
	// IdleSeconds bounds the time an authenticated client may stay silent
	// while no command runs; 0 means no bound.
	IdleSeconds int `json:"idle_seconds,omitempty"`
}

// Validate checks c.
func (c *Config) Validate() error {
	if c.AuthSeconds <= 0 || c.AuthSeconds > 3600 {
		return fmt.Errorf("netrole: auth_seconds %d (1 to 3600)", c.AuthSeconds)
	}
	if c.IdleSeconds < 0 {
		return fmt.Errorf("netrole: idle_seconds %d", c.IdleSeconds)
	}
	if c.TLS {
		if len(c.CertChain) == 0 {
			return errors.New("netrole: TLS without a certificate")
		}
		if _, err := c.publicKey(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) publicKey() (ed25519.PublicKey, error) {
	leaf, err := x509.ParseCertificate(c.CertChain[0])
	if err != nil {
		return nil, fmt.Errorf("netrole: host certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("netrole: host certificate key is %T, want Ed25519", leaf.PublicKey)
	}
	return pub, nil
}

// SignFunc asks the listener to sign a TLS 1.3 CertificateVerify input.
type SignFunc func(msg []byte) ([]byte, error)

// Run serves one connection: client is the accepted socket, session the
// stream to [session]. It returns nil when the session ended with a Finish
// from [session] relayed to the client, and an error otherwise (the client
// went away, broke the protocol, or missed a deadline).
func Run(ctx context.Context, cfg Config, client net.Conn, session net.Conn, sign SignFunc, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	defer client.Close()
	defer session.Close()
	authBy := time.Now().Add(time.Duration(cfg.AuthSeconds) * time.Second)
	client.SetDeadline(authBy)
	conn := client
	if cfg.TLS {
		pub, _ := cfg.publicKey()
		tc := tls.Server(client, &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{{Certificate: cfg.CertChain, PrivateKey: &remoteKey{pub: pub, sign: sign}}},
			// The key lives elsewhere and signs once: no tickets, no
			// resumption (a resumed session signs nothing, and a ticket
			// key in [net] would be a secret [net] keeps).
			SessionTicketsDisabled: true,
		})
		hctx, cancel := context.WithDeadline(ctx, authBy)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	r := &relay{client: conn, session: session, log: log, cfg: cfg, authBy: authBy}
	return r.run()
}

// remoteKey is the host key as [net] sees it: the public half, and a
// signer that asks the listener.
type remoteKey struct {
	pub  ed25519.PublicKey
	sign SignFunc
	used bool
}

func (k *remoteKey) Public() crypto.PublicKey { return k.pub }

func (k *remoteKey) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != 0 {
		return nil, errors.New("netrole: Ed25519 signs the message itself, not a digest")
	}
	if k.used {
		return nil, errors.New("netrole: one signature per connection")
	}
	k.used = true
	if err := wire.CheckSignInput(msg); err != nil {
		return nil, err
	}
	sig, err := k.sign(msg)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(k.pub, msg, sig) {
		return nil, errors.New("netrole: the listener's signature does not verify")
	}
	return sig, nil
}

// relay moves checked messages both ways.
type relay struct {
	client, session net.Conn
	log             *slog.Logger
	cfg             Config
	authBy          time.Time

	mu   sync.Mutex
	conv wire.Conversation
}

func (r *relay) check(from wire.Side, m *wire.Msg) (wire.Conversation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.conv.Check(from, m)
	return r.conv, err
}

func (r *relay) run() error {
	errc := make(chan error, 2)
	go func() { errc <- r.fromClient() }()
	go func() { errc <- r.fromSession() }()
	err := <-errc
	// Either side ending ends both: closing unblocks the other reader.
	r.client.Close()
	r.session.Close()
	<-errc
	if errors.Is(err, errFinished) {
		return nil
	}
	return err
}

var errFinished = errors.New("session finished")

// fromClient reads the client, checks each message and relays it.
func (r *relay) fromClient() error {
	in := wire.NewReader(r.client)
	out := wire.NewWriter(r.session)
	for {
		m, err := in.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the client closed the connection")
			}
			return fmt.Errorf("from the client: %w", err)
		}
		conv, err := r.check(wire.Client, &m)
		if err != nil {
			wire.Scrub(m.Data)
			return fmt.Errorf("from the client: %w", err)
		}
		err = out.Write(&m)
		if m.Type == wire.TypeReply {
			in.Scrub()
		}
		if err != nil {
			return fmt.Errorf("to the session: %w", err)
		}
		if conv.Authenticated() && !conv.Running() {
			r.idle()
		}
		if m.Type == wire.TypeCommand {
			// A command may run for long and say nothing.
			r.client.SetReadDeadline(time.Time{})
		}
	}
}

// idle sets the client's read deadline for an authenticated connection
// waiting for a command.
func (r *relay) idle() {
	if r.cfg.IdleSeconds > 0 {
		r.client.SetReadDeadline(time.Now().Add(time.Duration(r.cfg.IdleSeconds) * time.Second))
	} else {
		r.client.SetReadDeadline(time.Time{})
	}
}

// fromSession reads [session], checks each message and relays it.
func (r *relay) fromSession() error {
	in := wire.NewReader(r.session)
	out := wire.NewWriter(r.client)
	for {
		m, err := in.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the session closed its channel")
			}
			return fmt.Errorf("from the session: %w", err)
		}
		conv, err := r.check(wire.Server, &m)
		if err != nil {
			return fmt.Errorf("from the session: %w", err)
		}
		if m.Type == wire.TypeAuth && m.Status == uint16(wire.AuthOK) {
			r.log.Info("authenticated", "user", m.Text)
			r.client.SetWriteDeadline(time.Time{})
			r.idle()
		}
		if m.Type == wire.TypeExit {
			r.idle()
		}
		if err := out.Write(&m); err != nil {
			return fmt.Errorf("to the client: %w", err)
		}
		if conv.Done() {
			return errFinished
		}
	}
}
