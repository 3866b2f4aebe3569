package sockd

import (
	"context"
	"errors"
	"fmt"
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
	"golang.org/x/time/rate"
)

var (
	leased  = netip.MustParseAddr("10.77.0.50")
	srvAddr = netip.MustParseAddr("10.77.0.1")
	foreign = netip.MustParseAddr("10.88.0.1") // on another interface of the client's namespace
)

// serveLab runs sockd's loop inside the lab's client namespace (sockets
// belong to the namespace of the thread that creates them) and engine,
// the engine's side, over a socketpair. It returns Serve's error.
func serveLab(t *testing.T, l *lab.Lab, engine func(c *net.UnixConn, ifi Interface)) error {
	t.Helper()
	srvConn, cliConn, err := sandbox.SeqpacketConns()
	if err != nil {
		t.Fatal(err)
	}
	defer cliConn.Close()
	cliConn.SetDeadline(time.Now().Add(20 * time.Second))
	done := make(chan struct{})
	serveErr := l.Client.Do(func() error {
		ifi, err := netIf(l.Client.IfName())
		if err != nil {
			close(done)
			return err
		}
		addrs, err := OpenAddrs()
		if err != nil {
			close(done)
			return err
		}
		defer addrs.Close()
		go func() {
			defer close(done)
			// The engine hanging up ends Serve.
			defer cliConn.Close()
			engine(cliConn, ifi)
		}()
		err = Serve(srvConn, ifi, addrs, slog.New(slog.NewTextHandler(io.Discard, nil)))
		// sockd exits after Serve fails, which closes its end.
		srvConn.Close()
		return err
	})
	<-done
	return serveErr
}

func newSockdLab(t *testing.T) *lab.Lab {
	l := lab.NewT(t, lab.Config{Name: "sockd"})
	for _, args := range [][]string{
		{"ip", "addr", "add", leased.String() + "/24", "dev", l.Client.IfName()},
		{"ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1"},
		{"ip", "addr", "add", foreign.String() + "/24", "dev", "other0"},
		{"ip", "link", "set", "other0", "up"},
	} {
		if _, err := l.Client.Run(t.Context(), args...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestServeInNamespace: every kind of socket, the frames sockd transmits
// and the ones it refuses, and a request for another interface, fatal.
func TestServeInNamespace(t *testing.T) {
	l := newSockdLab(t)
	capt, err := l.Server.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	err = serveLab(t, l, func(conn *net.UnixConn, ifi Interface) {
		c := NewClient(conn, ifi.Index)
		openAll(t, c)
		transmitChecks(t, c, ifi, capt)
		// A request for another interface is fatal to sockd.
		bad := NewClient(conn, ifi.Index+100)
		if _, err := bad.Open(client.SocketRaw, netip.Addr{}, netip.Addr{}); err == nil {
			t.Error("a request for another interface got a socket")
		}
	})
	if err == nil {
		t.Error("sockd served a request for another interface")
	}
}

func openAll(t *testing.T, c *Client) {
	for _, k := range []struct {
		kind       client.Socket
		addr, peer netip.Addr
	}{{client.SocketRaw, netip.Addr{}, netip.Addr{}}, {client.SocketARP, netip.Addr{}, netip.Addr{}},
		{client.SocketARPDefense, leased, netip.Addr{}}, {client.SocketUDP, leased, srvAddr}} {
		f, err := c.Open(k.kind, k.addr, k.peer)
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
			// And it cannot transmit: without a destination, a datagram
			// packet socket has no link-layer header to build.
			if _, err := unix.Write(fd, bootRequest([6]byte{})); err == nil {
				t.Errorf("%s: write(2) on the handed packet socket succeeded", k.kind)
			}
		} else {
			sa, err := unix.Getsockname(fd)
			if in4, ok := sa.(*unix.SockaddrInet4); err != nil || !ok || in4.Port != dhcp.ClientPort || in4.Addr != leased.As4() {
				t.Errorf("udp socket bound to %+v (%v)", sa, err)
			}
			pa, err := unix.Getpeername(fd)
			if in4, ok := pa.(*unix.SockaddrInet4); err != nil || !ok || in4.Port != dhcp.ServerPort || in4.Addr != srvAddr.As4() {
				t.Errorf("udp socket connected to %+v (%v), want %v:67", pa, err, srvAddr)
			}
		}
		f.Close()
	}
	// An address the host has on another interface, or not at all, is
	// refused: binding alone would accept the first.
	for _, a := range []netip.Addr{foreign, netip.MustParseAddr("10.99.0.1")} {
		if _, err := c.Open(client.SocketUDP, a, srvAddr); err != unix.EADDRNOTAVAIL {
			t.Errorf("udp on %v: %v, want EADDRNOTAVAIL", a, err)
		}
	}
}

func transmitChecks(t *testing.T, c *Client, ifi Interface, capt *lab.Capture) {
	msg := bootRequest(ifi.MAC)
	msg[4] = 0x5a // xid, to find it in the capture
	for _, src := range []netip.Addr{{}, leased} {
		if err := c.Transmit(client.SocketRaw, src, msg); err != nil {
			t.Errorf("dhcp broadcast from %v: %v", src, err)
			continue
		}
		want := src
		if !want.IsValid() {
			want = netip.IPv4Unspecified()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := capt.Wait(ctx, func(p lab.Packet) bool {
			return len(p.Payload) > 4 && p.Payload[4] == 0x5a && p.Src.Addr() == want
		})
		cancel()
		if err != nil {
			t.Errorf("dhcp broadcast from %v not seen on the server's network: %v", src, err)
		} else if p.Src.Port() != dhcp.ClientPort || p.Dst != netip.MustParseAddrPort("255.255.255.255:67") {
			t.Errorf("dhcp broadcast went %v -> %v", p.Src, p.Dst)
		}
	}
	for _, src := range []netip.Addr{foreign, netip.MustParseAddr("10.99.0.1")} {
		if err := c.Transmit(client.SocketRaw, src, msg); err != unix.EADDRNOTAVAIL {
			t.Errorf("dhcp broadcast from %v: %v, want EADDRNOTAVAIL", src, err)
		}
	}
	for _, a := range []dhcp.ARP{dhcp.ARPProbe(ifi.MAC, leased), dhcp.ARPAnnouncement(ifi.MAC, leased)} {
		b, _ := a.AppendBinary(nil)
		if err := c.Transmit(client.SocketARP, netip.Addr{}, b); err != nil {
			t.Errorf("arp %+v: %v", a, err)
		}
	}
	ann := dhcp.ARPAnnouncement(ifi.MAC, foreign)
	b, _ := ann.AppendBinary(nil)
	if err := c.Transmit(client.SocketARP, netip.Addr{}, b); err != unix.EADDRNOTAVAIL {
		t.Errorf("arp announcing %v: %v, want EADDRNOTAVAIL", foreign, err)
	}
}

// TestServeTransmitRate: a burst beyond TransmitBurst is refused with
// EAGAIN, and sockd goes on.
func TestServeTransmitRate(t *testing.T) {
	l := newSockdLab(t)
	var sent, refused int
	err := serveLab(t, l, func(conn *net.UnixConn, ifi Interface) {
		c := NewClient(conn, ifi.Index)
		probe := dhcp.ARPProbe(ifi.MAC, leased)
		b, _ := probe.AppendBinary(nil)
		for range 2 * TransmitBurst {
			switch err := c.Transmit(client.SocketARP, netip.Addr{}, b); err {
			case nil:
				sent++
			case unix.EAGAIN:
				refused++
			default:
				t.Errorf("transmit: %v", err)
				return
			}
		}
		// Still serving.
		if _, err := c.Open(client.SocketARP, netip.Addr{}, netip.Addr{}); err != nil {
			t.Errorf("open after the burst: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// The loop takes well under a second: at most one or two tokens come
	// back while it runs.
	if sent < TransmitBurst || sent > TransmitBurst+2 || refused == 0 {
		t.Errorf("%d sent, %d refused, want about %d sent and the rest refused", sent, refused, TransmitBurst)
	}
}

// TestServeForgedSender: a frame from another hardware address is fatal,
// and nothing of it reaches the wire.
func TestServeForgedSender(t *testing.T) {
	l := newSockdLab(t)
	other := dhcp.MAC{0x02, 0xba, 0xd0, 0, 0, 1}
	probe := dhcp.ARPProbe(other, leased)
	arp, _ := probe.AppendBinary(nil)
	for _, tc := range []struct {
		name    string
		kind    client.Socket
		payload []byte
	}{{"dhcp", client.SocketRaw, bootRequest(other)}, {"arp", client.SocketARP, arp}} {
		t.Run(tc.name, func(t *testing.T) {
			err := serveLab(t, l, func(conn *net.UnixConn, ifi Interface) {
				if err := NewClient(conn, ifi.Index).Transmit(tc.kind, netip.Addr{}, tc.payload); err == nil {
					t.Error("a frame from another hardware address was sent")
				}
			})
			if err == nil {
				t.Error("sockd went on after a frame from another hardware address")
			}
		})
	}
}

// BenchmarkTransmit is the cost of the engine not transmitting itself: a
// DISCOVER-sized frame sent through sockd (request, checks, the datagram
// built, sendto, reply) against the same frame sent directly with sendto
// on a packet socket, in one run, in a lab namespace.
func BenchmarkTransmit(b *testing.B) {
	l := lab.NewT(b, lab.Config{Name: "sockdbench"})
	msg := bootRequest([6]byte{})
	var direct, relayed time.Duration
	var loopErr error
	done := make(chan struct{})
	// Everything that creates a socket runs on the namespace's thread,
	// sockd's loop included; the engine's side needs no namespace.
	err := l.Client.Do(func() error {
		ifi, err := netIf(l.Client.IfName())
		if err != nil {
			return err
		}
		copy(msg[28:], ifi.MAC[:])
		addrs, err := OpenAddrs()
		if err != nil {
			return err
		}
		defer addrs.Close()
		srv, cli, err := sandbox.SeqpacketConns()
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		d := dhcp.Datagram{Src: netip.MustParseAddrPort("0.0.0.0:68"), Dst: netip.MustParseAddrPort("255.255.255.255:67"), TTL: 64, Payload: msg}
		buf, err := d.AppendBinary(nil)
		if err != nil {
			return err
		}
		// A new veth pair takes a moment to report carrier.
		for i := 0; ; i++ {
			err := unix.Sendto(fd, buf, 0, to)
			if err == nil {
				break
			}
			if err != unix.ENETDOWN || i == 500 {
				return fmt.Errorf("waiting for carrier: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		go func() {
			defer close(done)
			defer cli.Close()
			c := NewClient(cli, ifi.Index)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if buf, loopErr = d.AppendBinary(buf[:0]); loopErr != nil {
					return
				}
				if loopErr = unix.Sendto(fd, buf, 0, to); loopErr != nil {
					loopErr = fmt.Errorf("direct: %w", loopErr)
					return
				}
				t1 := time.Now()
				if loopErr = c.Transmit(client.SocketRaw, netip.Addr{}, msg); loopErr != nil {
					loopErr = fmt.Errorf("through sockd: %w", loopErr)
					return
				}
				direct += t1.Sub(start)
				relayed += time.Since(t1)
			}
		}()
		// No rate limit: this measures the relay, not the limiter.
		err = serve(srv, ifi, addrs, slog.New(slog.NewTextHandler(io.Discard, nil)), rate.NewLimiter(rate.Inf, 0))
		srv.Close()
		return err
	})
	<-done
	if err = errors.Join(err, loopErr); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "direct-ns/frame")
	b.ReportMetric(float64(relayed.Nanoseconds())/float64(b.N), "sockd-ns/frame")
	b.ReportMetric(float64(relayed)/float64(direct), "sockd/direct")
}
