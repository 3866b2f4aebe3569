package engine

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/sockd"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// fakeSockd answers every socket request with a fresh, unbound UDP socket
// and records the requests.
type fakeSockd struct {
	mu   sync.Mutex
	reqs []sockd.Request
}

func (f *fakeSockd) requests() []sockd.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sockd.Request(nil), f.reqs...)
}

func startFakeSockd(t *testing.T) (*net.UnixConn, *fakeSockd) {
	t.Helper()
	engSide, srvSide := seqpacketConns(t)
	f := &fakeSockd{}
	go func() {
		for {
			msg, err := sandbox.RecvUpTo(srvSide, sockd.MaxRequestSize)
			if err != nil {
				return
			}
			var req sockd.Request
			if err := req.UnmarshalBinary(msg); err != nil {
				return
			}
			f.mu.Lock()
			f.reqs = append(f.reqs, req)
			f.mu.Unlock()
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return
			}
			rep, _ := sockd.Reply{Op: req.Op, Kind: req.Kind}.MarshalBinary()
			err = sandbox.SendFD(srvSide, rep, fd)
			unix.Close(fd)
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		engSide.Close()
		srvSide.Close()
	})
	return engSide, f
}

// TestEngineReleaseOpensUDPSocket: a release asks for the UDP socket to
// send the DHCPRELEASE from, and drops the lease, in the same call. The
// engine must still open that socket on the leased address (it used to
// find no lease and send no DHCPRELEASE).
func TestEngineReleaseOpensUDPSocket(t *testing.T) {
	mac := dhcp.MAC{0x02, 0, 0, 0, 0, 0x01}
	addr := netip.MustParseAddr("192.0.2.50")
	server := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	saved := &dhcpclient.Lease{Addr: netip.PrefixFrom(addr, 24), ServerID: server, LeaseTime: time.Hour,
		T1: 30 * time.Minute, T2: 52 * time.Minute, Acquired: now.Add(-time.Minute)}
	if err := saved.Validate(); err != nil {
		t.Fatal(err)
	}
	sc, fake := startFakeSockd(t)
	e := New(&config.Engine{Link: config.Link{Name: "eth0", Index: 1, MAC: mac}}, Ends{Sockd: sc}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.client = dhcpclient.New(dhcpclient.Settings{MAC: mac, ARP: dhcpclient.ARPOff}, saved, randUint32)
	t.Cleanup(func() {
		for _, c := range e.socks {
			if c != nil {
				c.Close()
			}
		}
	})
	// Only the socket actions matter here; the rest needs ifch.
	sockets := func(acts []dhcpclient.Action) []dhcpclient.Action {
		t.Helper()
		var rest []dhcpclient.Action
		for _, a := range acts {
			if s, ok := a.(dhcpclient.Sockets); ok {
				if err := e.setSockets(s); err != nil {
					t.Fatalf("sockets %+v: %v", s, err)
				}
				continue
			}
			rest = append(rest, a)
		}
		return rest
	}

	// INIT-REBOOT with the saved lease, and the server's ACK.
	var req *dhcp.Message
	for _, a := range sockets(e.client.Start(now)) {
		if s, ok := a.(dhcpclient.SendDHCP); ok {
			req = new(dhcp.Message)
			if err := req.UnmarshalBinary(s.Packet); err != nil {
				t.Fatal(err)
			}
		}
	}
	if req == nil || e.client.State() != dhcpclient.StateRebooting {
		t.Fatalf("state %v, request %v: want REBOOTING and a request", e.client.State(), req)
	}
	ack := &dhcp.Message{Op: dhcp.BootReply, HType: dhcp.HTypeEthernet, HLen: dhcp.HLenEthernet,
		XID: req.XID, CHAddr: req.CHAddr, YIAddr: addr}
	for code, v := range map[dhcp.OptionCode][]byte{
		dhcp.OptMessageType: {byte(dhcp.Ack)},
		dhcp.OptServerID:    server.AsSlice(),
		dhcp.OptLeaseTime:   binary.BigEndian.AppendUint32(nil, 3600),
		dhcp.OptSubnetMask:  {255, 255, 255, 0},
	} {
		if err := ack.Options.Set(code, v); err != nil {
			t.Fatal(err)
		}
	}
	sockets(e.client.HandlePacket(now, ack))
	if e.client.State() != dhcpclient.StateBound {
		t.Fatalf("state %v after the ACK, want BOUND", e.client.State())
	}

	// The release: the UDP socket must be asked for on the leased address.
	n := len(fake.requests())
	rest := sockets(e.client.Release(now))
	var sentRelease bool
	for _, a := range rest {
		if s, ok := a.(dhcpclient.SendDHCP); ok && s.Unicast == server {
			sentRelease = true
		}
	}
	if !sentRelease {
		t.Fatalf("release actions %+v: no unicast DHCPRELEASE", rest)
	}
	var udp []sockd.Request
	for _, r := range fake.requests()[n:] {
		if r.Kind == dhcpclient.SocketUDP {
			udp = append(udp, r)
		}
	}
	if len(udp) != 1 || udp[0].Addr != addr || udp[0].Peer != server {
		t.Fatalf("UDP socket requests during the release: %+v, want one on %v to %v", udp, addr, server)
	}
	if e.socks[dhcpclient.SocketUDP] != nil {
		t.Error("the UDP socket is still open after the release")
	}
}
