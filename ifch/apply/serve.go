package apply

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
)

// ErrProtocol is wrapped by the error Serve returns when its peer broke the
// grammar or the size bound: the peer is broken or hostile, and the ifch role
// must exit (cmd/ifchd drops that one connection).
var ErrProtocol = errors.New("ifch: protocol violation")

// DefaultWriteTimeout bounds the sending of one reply.
const DefaultWriteTimeout = 5 * time.Second

// ServeOptions configure Serve.
type ServeOptions struct {
	// Policy is what this peer may ask for. Required.
	Policy *ifch.Policy
	// Policies, when set instead of Policy, holds one policy per group of
	// interfaces: each command is checked against the one serving its
	// interface (a standalone ifchd's allow entries).
	Policies ifch.Policies
	// Log receives refusals and failures; nil discards.
	Log *slog.Logger
	// IdleTimeout, when positive, drops a peer silent for that long.
	IdleTimeout time.Duration
	// WriteTimeout bounds each reply; zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Serve answers the commands arriving on conn, one message per
// SOCK_SEQPACKET datagram, until the peer closes it. Each message is
// decoded, validated against o.Policy and, if acceptable, applied by a; each
// gets exactly one reply. A policy refusal or a kernel failure is answered
// and survived. A message over ifch.MaxMessageSize or one that breaks the
// grammar is answered with its error code, and Serve returns an error
// wrapping ErrProtocol. Serve returns nil when the peer closes the
// connection, and any other read or write error as it is. It does not close
// conn.
func Serve(conn net.Conn, a *Applier, o ServeOptions) error {
	if o.Policy == nil && len(o.Policies) == 0 {
		return errors.New("ifch: serve: no policy")
	}
	policyFor := func(iface string) *ifch.Policy {
		if o.Policy != nil {
			return o.Policy
		}
		if p := o.Policies.For(iface); p != nil {
			return p
		}
		return &ifch.Policy{} // serves no interface: refuses it
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wt := o.WriteTimeout
	if wt == 0 {
		wt = DefaultWriteTimeout
	}
	reply := func(r ifch.Reply) error {
		b, err := r.MarshalText()
		if err != nil {
			return err // cannot happen for replies built by ReplyFor
		}
		if err := conn.SetWriteDeadline(time.Now().Add(wt)); err != nil && !errors.Is(err, os.ErrNoDeadline) {
			return fmt.Errorf("ifch: serve: %w", err)
		}
		if _, err := conn.Write(b); err != nil {
			return fmt.Errorf("ifch: serve: reply: %w", err)
		}
		return nil
	}
	buf := make([]byte, ifch.MaxMessageSize+1)
	for {
		if o.IdleTimeout > 0 {
			if err := conn.SetReadDeadline(time.Now().Add(o.IdleTimeout)); err != nil && !errors.Is(err, os.ErrNoDeadline) {
				return fmt.Errorf("ifch: serve: %w", err)
			}
		}
		n, err := conn.Read(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ifch: serve: read: %w", err)
		}
		cmd, err := ifch.Unmarshal(buf[:n])
		if err != nil {
			log.Error("protocol violation, dropping peer", "err", err, "bytes", n)
			rerr := reply(ifch.ReplyFor(err))
			return errors.Join(fmt.Errorf("%w: %w", ErrProtocol, err), rerr)
		}
		// An optional field the policy does not take (a classless route
		// it does not accept, a bad name, a DNS server over the limit) is
		// dropped and logged; what makes the lease is validated whole.
		pol := policyFor(cmd.Iface())
		if c, ok := cmd.(*ifch.Configure); ok && pol.Allows(c.Interface) {
			for _, d := range pol.Sanitize(c) {
				log.Warn("dropped from the request", "iface", c.Interface, "err", d)
			}
		}
		if err := pol.Validate(cmd); err != nil {
			log.Warn("refused", "iface", cmd.Iface(), "err", err)
			if err := reply(ifch.ReplyFor(err)); err != nil {
				return err
			}
			continue
		}
		if err := reply(a.Do(cmd)); err != nil {
			return err
		}
	}
}
