//go:build linux

package sockd

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Client is the engine's end of the channel to sockd.
type Client struct {
	conn    *net.UnixConn
	ifindex uint32
}

// NewClient wraps the engine's end of the channel.
func NewClient(conn *net.UnixConn, ifindex int) *Client {
	return &Client{conn: conn, ifindex: uint32(ifindex)}
}

// Open asks sockd for a socket. A refusal (sockd's errno) is returned as a
// syscall.Errno; anything malformed in the reply is a protocol error, after
// which the engine must exit.
func (c *Client) Open(kind client.Socket, addr netip.Addr) (*os.File, error) {
	req, err := Request{Kind: kind, Ifindex: c.ifindex, Addr: addr}.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := sandbox.Send(c.conn, req); err != nil {
		return nil, err
	}
	// A refusal carries no descriptor and a grant exactly one: read with
	// room for either and check that the two agree.
	b, f, err := sandbox.RecvMaybeFD(c.conn, ReplySize)
	if err != nil {
		return nil, err
	}
	var rep Reply
	if err := rep.UnmarshalBinary(b); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	switch {
	case rep.Kind != kind:
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("sockd: reply for %s to a %s request", rep.Kind, kind)
	case rep.Errno != 0 && f != nil:
		f.Close()
		return nil, fmt.Errorf("sockd: refusal with a descriptor attached")
	case rep.Errno != 0:
		return nil, syscall.Errno(rep.Errno)
	case f == nil:
		return nil, fmt.Errorf("sockd: grant without a descriptor")
	}
	return f, nil
}
