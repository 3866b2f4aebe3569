package sockd

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// TestServeInNamespace runs sockd's loop inside a lab namespace (sockets
// belong to the namespace of the thread that creates them) and the
// engine's client over a socketpair, for every kind of socket.
func TestServeInNamespace(t *testing.T) {
	l := lab.NewT(t, lab.Config{Name: "sockd"})
	addr := netip.MustParseAddr("10.77.0.50")
	if _, err := l.Client.Run(t.Context(), "ip", "addr", "add", "10.77.0.50/24", "dev", l.Client.IfName()); err != nil {
		t.Fatal(err)
	}
	srvConn, cliConn, err := sandbox.SeqpacketConns()
	if err != nil {
		t.Fatal(err)
	}
	defer cliConn.Close()
	cliConn.SetDeadline(time.Now().Add(20 * time.Second))

	var ifi Interface
	clientDone := make(chan struct{})
	serveErr := l.Client.Do(func() error {
		var err error
		if ifi, err = netIf(l.Client.IfName()); err != nil {
			return err
		}
		go func() {
			defer close(clientDone)
			runClient(t, cliConn, ifi.Index, addr)
		}()
		err = Serve(srvConn, ifi, slog.New(slog.NewTextHandler(io.Discard, nil)))
		// sockd exits after Serve fails, which closes its end.
		srvConn.Close()
		return err
	})
	<-clientDone
	if serveErr == nil {
		t.Error("sockd served a request for another interface")
	}
}

func runClient(t *testing.T, conn *net.UnixConn, ifindex int, addr netip.Addr) {
	c := NewClient(conn, ifindex)
	for _, k := range []struct {
		kind client.Socket
		addr netip.Addr
	}{{client.SocketRaw, netip.Addr{}}, {client.SocketARP, netip.Addr{}}, {client.SocketARPDefense, addr}, {client.SocketUDP, addr}} {
		f, err := c.Open(k.kind, k.addr)
		if err != nil {
			t.Errorf("%s: %v", k.kind, err)
			continue
		}
		fd := int(f.Fd())
		if k.kind != client.SocketUDP {
			// The filter is locked: the receiving side cannot swap it.
			err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
			if err != unix.EPERM {
				t.Errorf("%s: detaching the filter: %v, want EPERM", k.kind, err)
			}
		} else {
			sa, err := unix.Getsockname(fd)
			if in4, ok := sa.(*unix.SockaddrInet4); err != nil || !ok || in4.Port != dhcp.ClientPort || in4.Addr != addr.As4() {
				t.Errorf("udp socket bound to %+v (%v)", sa, err)
			}
		}
		f.Close()
	}
	// An address not on the interface is refused with the kernel's errno.
	if _, err := c.Open(client.SocketUDP, netip.MustParseAddr("10.99.0.1")); err != unix.EADDRNOTAVAIL {
		t.Errorf("udp on a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	// A request for another interface is fatal to sockd.
	bad := NewClient(conn, ifindex+100)
	if _, err := bad.Open(client.SocketRaw, netip.Addr{}); err == nil {
		t.Error("a request for another interface got a socket")
	}
}
