package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/hostkey"
)

// Options say where and how to connect.
type Options struct {
	// Network is "tcp" (TLS 1.3) or "unix" (plain: the socket's file mode
	// decides who may connect, and the peer is the local daemon).
	Network string
	// Address is host:port for "tcp", the socket's path for "unix".
	Address string
	// CAFile holds the PEM certificates that may sign the server's; the
	// server's chain is verified against them for ServerName as any TLS
	// client does. A netlogind host certificate is its own CA, so its
	// file serves.
	CAFile string
	// Fingerprint pins the server's certificate ("SHA256:..." as
	// hostkey.Fingerprint writes it): the leaf must hash to it, and no
	// chain or name is checked. With CAFile too, both must hold.
	Fingerprint string
	// ServerName is the name checked against the certificate with CAFile
	// (and sent as SNI). Empty means Address's host part.
	ServerName string
	// Timeout bounds connecting and the TLS handshake; zero means 30 s.
	// The session itself has no deadline here: commands take what they
	// take, and the server enforces its own authentication deadline.
	Timeout time.Duration
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 30 * time.Second

// maxCAFile bounds the CA file read.
const maxCAFile = 1 << 20

// ErrNoTrust is returned for a TCP connection with neither a CA file nor a
// fingerprint: there would be no way to know who answers.
var ErrNoTrust = errors.New("client: refusing TLS without a way to verify the server: give a CA file or the certificate's fingerprint")

// ErrFingerprint is wrapped by the handshake error when the server's
// certificate is not the pinned one.
var ErrFingerprint = errors.New("client: the server's certificate does not have the pinned fingerprint")

// Dial connects as o says and, for TCP, completes the TLS 1.3 handshake,
// so that a server that fails verification has been refused before any
// byte of the protocol is sent.
func Dial(ctx context.Context, o Options) (net.Conn, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cfg, err := prepare(o)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", o.Address)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		return c, nil
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", o.Address)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("client: TLS handshake with %s: %w", o.Address, err)
	}
	return c, nil
}

// prepare checks o and, for TCP, builds its TLS configuration (nil for a
// UNIX socket). It opens no socket.
func prepare(o Options) (*tls.Config, error) {
	switch o.Network {
	case "unix":
		if o.CAFile != "" || o.Fingerprint != "" {
			return nil, errors.New("client: a UNIX socket has no TLS: a CA file or fingerprint does not apply")
		}
		if o.Address == "" {
			return nil, errors.New("client: no socket path")
		}
		return nil, nil
	case "tcp":
		return tlsConfig(o)
	}
	return nil, fmt.Errorf("client: network %q (want tcp or unix)", o.Network)
}

// tlsConfig builds the TLS configuration o asks for.
func tlsConfig(o Options) (*tls.Config, error) {
	if o.CAFile == "" && o.Fingerprint == "" {
		return nil, ErrNoTrust
	}
	name := o.ServerName
	if name == "" {
		host, _, err := net.SplitHostPort(o.Address)
		if err != nil {
			return nil, fmt.Errorf("client: address %q: %w", o.Address, err)
		}
		name = host
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: name,
	}
	if o.CAFile != "" {
		pool, err := loadCAs(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.Fingerprint != "" {
		want, err := hostkey.ParseFingerprint(o.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		if o.CAFile == "" {
			// The pin replaces chain and name verification. crypto/tls
			// still checks the handshake signature against the leaf's key,
			// so matching the leaf is enough to know the peer holds the
			// pinned certificate's key.
			cfg.InsecureSkipVerify = true
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrFingerprint
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				return fmt.Errorf("%w: it has %s", ErrFingerprint, hostkey.Fingerprint(cs.PeerCertificates[0].Raw))
			}
			return nil
		}
	}
	return cfg, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("client: CA file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("client: CA file %s: %w", path, err)
	}
	if len(b) > maxCAFile {
		return nil, fmt.Errorf("client: CA file %s is larger than %d bytes", path, maxCAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
