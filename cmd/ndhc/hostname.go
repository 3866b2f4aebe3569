package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// The hostname channel between ifch and the hostname role: ifch sends a
// name (1 to 64 bytes, nothing else), the role answers with one byte,
// hostnameOK or hostnameFailed. Anything else ends the receiver.
const (
	maxHostnameLen      = 64 // the kernel's __NEW_UTS_LEN
	hostnameOK     byte = 'K'
	hostnameFailed byte = 'F'
)

// validHostname accepts what RFC 1123 calls a host name (letters, digits,
// hyphens; dot-separated labels of 1 to 63 octets that neither start nor
// end with a hyphen), at most 64 octets. ifch has already checked the name;
// the role checks it again because it trusts nobody either.
func validHostname(s string) error {
	if s == "" || len(s) > maxHostnameLen {
		return fmt.Errorf("hostname of %d bytes", len(s))
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("hostname label %q", label)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("hostname byte %q", c)
			}
		}
	}
	return nil
}

func runHostname(in *sandbox.Inherited, log *slog.Logger) int {
	f, err := in.File("ifch")
	if err != nil {
		log.Error("no ifch channel", "err", err)
		return exitFailure
	}
	conn, err := sandbox.UnixConn(f)
	if err != nil {
		log.Error("ifch channel", "err", err)
		return exitFailure
	}
	if !ready(in, log) {
		return exitSandbox
	}
	watchParent(in, log)
	for {
		b, err := sandbox.RecvUpTo(conn, maxHostnameLen)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			log.Info("ifch closed its channel; exiting")
			return exitOK
		}
		if err != nil {
			log.Error("ifch broke the hostname protocol; exiting", "err", err)
			return exitFailure
		}
		name := string(b)
		if err := validHostname(name); err != nil {
			log.Error("ifch sent an invalid hostname; exiting", "err", err)
			return exitFailure
		}
		reply := hostnameOK
		if err := unix.Sethostname(b); err != nil {
			log.Error("sethostname", "hostname", name, "err", err)
			reply = hostnameFailed
		} else {
			log.Info("hostname set", "hostname", name)
		}
		if err := sandbox.Send(conn, []byte{reply}); err != nil {
			return exitFailure
		}
	}
}

// hostnameClient is ifch's side: an apply.HostnameSetter that asks the
// hostname role.
type hostnameClient struct{ conn *net.UnixConn }

// SetHostname sends name and waits for the role's answer.
func (h *hostnameClient) SetHostname(name string) error {
	if err := validHostname(name); err != nil {
		return err
	}
	if err := sandbox.Send(h.conn, []byte(name)); err != nil {
		return err
	}
	b, err := sandbox.Recv(h.conn, 1)
	if err != nil {
		return fmt.Errorf("hostname role: %w", err)
	}
	switch b[0] {
	case hostnameOK:
		return nil
	case hostnameFailed:
		return errors.New("the hostname role could not set it")
	}
	return fmt.Errorf("hostname role: malformed answer %q", b[0])
}
