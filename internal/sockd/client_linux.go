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

// Open asks sockd for a socket; peer is the server of a UDP socket and
// unset for the other kinds. A refusal (sockd's errno) is returned as a
// syscall.Errno; anything malformed in the reply is a protocol error, after
// which the engine must exit.
func (c *Client) Open(kind client.Socket, addr, peer netip.Addr) (*os.File, error) {
	if err := c.send(Request{Op: OpOpen, Kind: kind, Ifindex: c.ifindex, Addr: addr, Peer: peer}); err != nil {
		return nil, err
	}
	// A refusal carries no descriptor and a grant exactly one: read with
	// room for either and check that the two agree.
	b, f, err := sandbox.RecvMaybeFD(c.conn, ReplySize)
	if err != nil {
		return nil, err
	}
	errno, err := checkReply(b, OpOpen, kind)
	switch {
	case err != nil:
	case errno != 0 && f != nil:
		err = fmt.Errorf("sockd: refusal with a descriptor attached")
	case errno != 0:
		return nil, errno
	case f == nil:
		return nil, fmt.Errorf("sockd: grant without a descriptor")
	default:
		return f, nil
	}
	if f != nil {
		f.Close()
	}
	return nil, err
}

// Transmit asks sockd to send payload: on SocketRaw a DHCP BOOTREQUEST from
// src:68 (0.0.0.0 when src is unset) to the broadcast address, on SocketARP
// an ARP packet (src unset). Errors as for Open.
func (c *Client) Transmit(kind client.Socket, src netip.Addr, payload []byte) error {
	if err := c.send(Request{Op: OpTransmit, Kind: kind, Ifindex: c.ifindex, Addr: src, Payload: payload}); err != nil {
		return err
	}
	b, err := sandbox.Recv(c.conn, ReplySize)
	if err != nil {
		return err
	}
	errno, err := checkReply(b, OpTransmit, kind)
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (c *Client) send(r Request) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	return sandbox.Send(c.conn, b)
}

// checkReply decodes a reply and checks that it answers the request made.
func checkReply(b []byte, op Op, kind client.Socket) (syscall.Errno, error) {
	var rep Reply
	if err := rep.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	if rep.Op != op || rep.Kind != kind {
		return 0, fmt.Errorf("sockd: reply for %s %s to a %s %s request", rep.Op, rep.Kind, op, kind)
	}
	return syscall.Errno(rep.Errno), nil
}
