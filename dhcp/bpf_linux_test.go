//go:build linux

package dhcp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// testNetns creates a network namespace of its own holding a veth pair,
// ndhc0 <-> ndhc1, both up, and deletes it when the test ends. Nothing
// outside the namespace is touched.
func testNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8): " + err.Error())
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	ns := "ndhc-t-" + hex.EncodeToString(r[:])
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	ip("-n", ns, "link", "add", "ndhc0", "type", "veth", "peer", "name", "ndhc1")
	ip("-n", ns, "link", "set", "ndhc0", "up")
	ip("-n", ns, "link", "set", "ndhc1", "up")
	return ns
}

// inNetns runs fn on an OS thread that has joined the namespace ns. The
// thread is never handed back to the scheduler: it exits with the
// goroutine, so no other code ever runs in the namespace by accident.
// Sockets created by fn stay in the namespace and may be used from anywhere.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

type nsSockets struct {
	dhcp, arp, defense *packet.Conn // filtered listeners on ndhc0
	txIP, txARP        *packet.Conn // senders on ndhc1
}

func openSockets(t *testing.T, ns string, defense []bpf.RawInstruction) *nsSockets {
	t.Helper()
	var s nsSockets
	err := inNetns(ns, func() error {
		rx, err := net.InterfaceByName("ndhc0")
		if err != nil {
			return err
		}
		tx, err := net.InterfaceByName("ndhc1")
		if err != nil {
			return err
		}
		listen := func(ifi *net.Interface, proto int, filter []bpf.RawInstruction) (*packet.Conn, error) {
			var cfg *packet.Config
			if filter != nil {
				cfg = &packet.Config{Filter: filter}
			}
			return packet.Listen(ifi, packet.Datagram, proto, cfg)
		}
		if s.dhcp, err = listen(rx, unix.ETH_P_IP, DHCPFilter()); err != nil {
			return err
		}
		if s.arp, err = listen(rx, unix.ETH_P_ARP, ARPFilter()); err != nil {
			return err
		}
		if s.defense, err = listen(rx, unix.ETH_P_ARP, defense); err != nil {
			return err
		}
		if s.txIP, err = listen(tx, unix.ETH_P_IP, nil); err != nil {
			return err
		}
		s.txARP, err = listen(tx, unix.ETH_P_ARP, nil)
		return err
	})
	t.Cleanup(func() {
		for _, c := range []*packet.Conn{s.dhcp, s.arp, s.defense, s.txIP, s.txARP} {
			if c != nil {
				c.Close()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// receiveUntil reads frames from c until one equals marker, and returns
// those before it.
func receiveUntil(t *testing.T, c *packet.Conn, marker []byte) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2048)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("marker not received; got %d frames", len(got))
			}
			t.Fatal(err)
		}
		if bytes.Equal(buf[:n], marker) {
			return got
		}
		got = append(got, bytes.Clone(buf[:n]))
	}
}

func sendFrame(t *testing.T, c *packet.Conn, frame []byte) {
	t.Helper()
	if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(BroadcastMAC[:])}); err != nil {
		t.Fatal(err)
	}
}

// TestFiltersOnPacketSockets attaches the filters to real AF_PACKET
// SOCK_DGRAM sockets in a namespace of the test's own, sends crafted frames
// from the other end of a veth pair and checks what each socket receives.
func TestFiltersOnPacketSockets(t *testing.T) {
	ns := testNetns(t)
	defense, err := ARPDefenseFilter(testYI, testMAC)
	if err != nil {
		t.Fatal(err)
	}
	s := openSockets(t, ns, defense)

	t.Run("dhcp", func(t *testing.T) {
		var want [][]byte
		for _, f := range dhcpFrames(t) {
			if len(f.frame) == 0 {
				continue
			}
			sendFrame(t, s.txIP, f.frame)
			if f.keep > 0 {
				want = append(want, f.frame[:f.keep])
			}
		}
		d := testDatagram([]byte("marker"))
		marker := mustDatagram(t, d)
		sendFrame(t, s.txIP, marker)
		got := receiveUntil(t, s.dhcp, marker)
		if len(got) != len(want) {
			t.Fatalf("received %d frames, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("frame %d: % x\nwant % x", i, got[i], want[i])
			}
			if _, err := ParseDatagram(got[i], 0); err != nil {
				t.Errorf("frame %d: %v", i, err)
			}
		}
	})

	t.Run("arp", func(t *testing.T) {
		var wantBasic, wantDefense [][]byte
		for _, f := range arpFrames(t) {
			sendFrame(t, s.txARP, f.frame)
			if f.basic {
				wantBasic = append(wantBasic, f.frame[:ARPLen])
			}
			if f.defense {
				wantDefense = append(wantDefense, f.frame[:ARPLen])
			}
		}
		a := ARP{Op: ARPReply, SenderHW: otherMAC, SenderIP: testYI, TargetHW: testMAC, TargetIP: testServer}
		marker := mustARP(t, a)
		sendFrame(t, s.txARP, marker)
		for _, c := range []struct {
			name string
			conn *packet.Conn
			want [][]byte
		}{{"basic", s.arp, wantBasic}, {"defense", s.defense, wantDefense}} {
			got := receiveUntil(t, c.conn, marker)
			if len(got) != len(c.want) {
				t.Errorf("%s: received %d frames, want %d", c.name, len(got), len(c.want))
				continue
			}
			for i := range got {
				if !bytes.Equal(got[i], c.want[i]) {
					t.Errorf("%s: frame %d: % x\nwant % x", c.name, i, got[i], c.want[i])
				}
			}
		}
	})
}
