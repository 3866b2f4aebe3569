//go:build linux

package control

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// DefaultPath returns the default control socket of iface: in the
// per-interface runtime directory the service units create
// (RuntimeDirectory=ndhc/IFACE).
func DefaultPath(iface string) string { return "/run/ndhc/" + iface + "/control" }

// ErrClosed: the daemon closed the connection without a reply (it
// refused the peer, or it is exiting).
var ErrClosed = errors.New("the daemon closed the connection without answering (not permitted: root, or the control group for show and wait; or it is exiting)")

// Conn is a client's connection to a control socket.
type Conn struct{ c *net.UnixConn }

// Dial connects to the control socket at path. With retry > 0 it tries
// again while the socket does not exist or nobody listens, until retry
// has passed.
func Dial(path string, retry time.Duration) (*Conn, error) {
	deadline := time.Now().Add(retry)
	for {
		c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
		if err == nil {
			return &Conn{c}, nil
		}
		missing := errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)
		if !missing || !time.Now().Before(deadline) {
			return nil, err
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Send sends a request.
func (c *Conn) Send(r Request) error {
	r.V = Version
	b, err := MarshalRequest(r)
	if err != nil {
		return err
	}
	if _, err = c.c.Write(b); errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return ErrClosed
	}
	return err
}

// Next reads the next reply, waiting until deadline (zero: for ever).
func (c *Conn) Next(deadline time.Time) (Reply, error) {
	_ = c.c.SetReadDeadline(deadline)
	b := make([]byte, MaxReply+1)
	n, err := c.c.Read(b)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), err == nil && n == 0:
		return Reply{}, ErrClosed
	case err != nil:
		return Reply{}, err
	case n > MaxReply:
		return Reply{}, fmt.Errorf("control: reply longer than %d bytes", MaxReply)
	}
	return ParseReply(b[:n])
}

// Do sends r and reads its reply, within timeout.
func (c *Conn) Do(r Request, timeout time.Duration) (Reply, error) {
	if err := c.Send(r); err != nil {
		return Reply{}, err
	}
	return c.Next(time.Now().Add(timeout))
}
