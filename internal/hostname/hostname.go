// Package hostname is the ndhc role that sets the system's host name, and
// the ifch side of its channel. It exists only when the operator enables
// hostname setting: it holds CAP_SYS_ADMIN, which reaches far, bounded by
// a seccomp list that allows sethostname and nothing else that the
// capability could use (mount, unshare, setns, bpf, ...).
//
// The channel between ifch and the role: ifch sends a name (1 to 64
// bytes, nothing else), the role answers with one byte, OK or Failed.
// Anything else ends the receiver. Both sides check the name with
// ifch.CheckHostname, the rule the engine and ifch apply too.
package hostname

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// Wire values.
const (
	// MaxLen is the kernel's __NEW_UTS_LEN.
	MaxLen      = 64
	OK     byte = 'K'
	Failed byte = 'F'
)

// Serve answers ifch's requests on conn until ifch closes it (nil) or
// breaks the protocol (an error: the role exits).
func Serve(conn *net.UnixConn, set func([]byte) error, log *slog.Logger) error {
	for {
		b, err := sandbox.RecvUpTo(conn, MaxLen)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		name := string(b)
		if err := ifch.CheckHostname(name); err != nil {
			return fmt.Errorf("invalid hostname: %w", err)
		}
		reply := OK
		if err := set(b); err != nil {
			log.Error("sethostname", "hostname", name, "err", err)
			reply = Failed
		} else {
			log.Info("hostname set", "hostname", name)
		}
		if err := sandbox.Send(conn, []byte{reply}); err != nil {
			return err
		}
	}
}

// Run is the role: conn is its channel to ifch; the sandbox is already
// entered.
func Run(conn *net.UnixConn, log *slog.Logger) int {
	if err := Serve(conn, unix.Sethostname, log); err != nil {
		log.Error("ifch broke the hostname protocol; exiting", "err", err)
		return exitcode.Failure
	}
	log.Info("ifch closed its channel; exiting")
	return exitcode.OK
}

// Client is ifch's side: an apply.HostnameSetter that asks the role.
type Client struct{ Conn *net.UnixConn }

// SetHostname sends name and waits for the role's answer.
func (h *Client) SetHostname(name string) error {
	if err := ifch.CheckHostname(name); err != nil {
		return err
	}
	if err := sandbox.Send(h.Conn, []byte(name)); err != nil {
		return err
	}
	b, err := sandbox.Recv(h.Conn, 1)
	if err != nil {
		return fmt.Errorf("hostname role: %w", err)
	}
	switch b[0] {
	case OK:
		return nil
	case Failed:
		return errors.New("the hostname role could not set it")
	}
	return fmt.Errorf("hostname role: malformed answer %q", b[0])
}
