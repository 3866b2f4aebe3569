//go:build linux

package dnsrole

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Backend is what the role does with a request: systemd-resolved's
// per-link configuration (Resolved), or a fake in tests.
type Backend interface {
	SetLink(ifindex int, servers []netip.Addr, domains []string) error
	RevertLink(ifindex int) error
}

// Serve answers ifch's requests on conn until ifch closes it, then gives
// back every link it configured (nil), or until ifch breaks the protocol
// (an error: the role exits, the links are left for the next start to
// overwrite). A backend failure is answered with Failed and logged.
func Serve(conn *net.UnixConn, b Backend, log *slog.Logger) error {
	var set []int // links configured and not reverted, in order
	for {
		msg, err := sandbox.RecvUpTo(conn, MaxLen)
		if errors.Is(err, sandbox.ErrPeerClosed) {
			// ndhc stops: the lease's servers leave resolved with it.
			for _, i := range set {
				if err := b.RevertLink(i); err != nil {
					log.Warn("reverting the link's DNS at exit", "ifindex", i, "err", err)
				} else {
					log.Info("link's DNS reverted at exit", "ifindex", i)
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
		r, err := Unmarshal(msg)
		if err != nil {
			return err
		}
		reply := OK
		if r.Op == OpRevert {
			err = b.RevertLink(r.Ifindex)
			if err == nil {
				set = slices.DeleteFunc(set, func(i int) bool { return i == r.Ifindex })
			}
		} else {
			err = b.SetLink(r.Ifindex, r.Servers, r.Domains)
			if err == nil && !slices.Contains(set, r.Ifindex) {
				set = append(set, r.Ifindex)
			}
		}
		if err != nil {
			log.Error("systemd-resolved refused", "op", string(r.Op), "ifindex", r.Ifindex, "err", err)
			reply = Failed
		} else {
			log.Info("systemd-resolved updated", "op", string(r.Op), "ifindex", r.Ifindex, "servers", len(r.Servers), "domains", len(r.Domains))
		}
		if err := sandbox.Send(conn, []byte{reply}); err != nil {
			return err
		}
	}
}

// Run is the role once sandboxed: it connects to the bus at socket (a
// path inside its chroot), then serves ifch on conn.
func Run(conn *net.UnixConn, socket string, log *slog.Logger) int {
	b, err := DialResolved(socket)
	if err != nil {
		log.Error("connecting to the system bus", "socket", socket, "err", err)
		return exitcode.Failure
	}
	defer b.Close()
	if err := Serve(conn, b, log); err != nil {
		log.Error("ifch broke the dns protocol; exiting", "err", err)
		return exitcode.Failure
	}
	log.Info("ifch closed its channel; exiting")
	return exitcode.OK
}

// Client is ifch's side: an apply.LinkDNS that asks the role.
type Client struct{ Conn *net.UnixConn }

// SetLinkDNS sends the link's servers and search domains.
func (c *Client) SetLinkDNS(ifindex int, servers []netip.Addr, search []string) error {
	return c.do(&Request{Op: OpSet, Ifindex: ifindex, Servers: servers, Domains: search})
}

// RevertLink gives the link back to resolved's own configuration.
func (c *Client) RevertLink(ifindex int) error {
	return c.do(&Request{Op: OpRevert, Ifindex: ifindex})
}

func (c *Client) do(r *Request) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := sandbox.Send(c.Conn, b); err != nil {
		return fmt.Errorf("dns role: %w", err)
	}
	ans, err := sandbox.Recv(c.Conn, 1)
	if err != nil {
		return fmt.Errorf("dns role: %w", err)
	}
	switch ans[0] {
	case OK:
		return nil
	case Failed:
		return errors.New("systemd-resolved refused the change (see the dns role's log)")
	}
	return fmt.Errorf("dns role: malformed answer %q", ans[0])
}
