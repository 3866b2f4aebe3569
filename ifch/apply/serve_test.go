package apply

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/ifch"
)

// seqpacketPair returns both ends of a SOCK_SEQPACKET socketpair.
func seqpacketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "seqpacket")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

// startServe runs Serve on one end and returns the other end and Serve's
// result.
func startServe(t *testing.T, a *Applier, p *ifch.Policy) (net.Conn, <-chan error) {
	t.Helper()
	srv, cli := seqpacketPair(t)
	done := make(chan error, 1)
	go func() { done <- Serve(srv, a, ServeOptions{Policy: p}) }()
	return cli, done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func rawExchange(t *testing.T, c net.Conn, msg []byte) ifch.Reply {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, ifch.MaxMessageSize+1)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var r ifch.Reply
	if err := r.UnmarshalText(buf[:n]); err != nil {
		t.Fatalf("reply %q: %v", buf[:n], err)
	}
	return r
}

func TestServe(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500, Up: true, Running: true})
	a := New(k, Config{})
	pol := &ifch.Policy{Interfaces: []string{"eth0"}}
	cli, done := startServe(t, a, pol)

	// A valid command is applied.
	r, err := ifch.Exchange(cli, mustCommand(t, cfgA))
	if err != nil || r.Code != ifch.CodeOK {
		t.Fatalf("configure: %+v, %v", r, err)
	}
	// Policy refusals are answered and survived, and change nothing.
	before := k.String()
	for _, tt := range []struct {
		msg  string
		want ifch.Code
	}{
		{"deconfigure eth1\n", ifch.ErrWrongInterface},
		{strings.Replace(cfgA, "router 192.0.2.1", "router 10.0.0.1", 1), ifch.ErrNotOnLink},
		{strings.Replace(cfgA, "address 192.0.2.10/24", "address 127.0.0.1/24", 1), ifch.ErrNotUnicast},
	} {
		if r := rawExchange(t, cli, []byte(tt.msg)); r.Code != tt.want {
			t.Fatalf("%q: reply %+v, want %v", tt.msg, r, tt.want)
		}
	}
	if k.String() != before {
		t.Fatal("a refused command changed the kernel")
	}
	if r := rawExchange(t, cli, []byte("carrier eth0\n")); r.Carrier != ifch.CarrierUp {
		t.Fatalf("carrier: %+v", r)
	}
	// A grammar violation is answered, then Serve returns ErrProtocol.
	if r := rawExchange(t, cli, []byte("carrier eth0\r\n")); r.Code != ifch.ErrSyntax {
		t.Fatalf("syntax: %+v", r)
	}
	if err := wait(t, done); !errors.Is(err, ErrProtocol) || !errors.Is(err, ifch.ErrSyntax) {
		t.Fatalf("Serve returned %v", err)
	}
}

func TestServeOversized(t *testing.T) {
	a := New(newFakeKernel(), Config{})
	cli, done := startServe(t, a, &ifch.Policy{Interfaces: []string{"eth0"}})
	msg := []byte("carrier eth0\n" + strings.Repeat("#", ifch.MaxMessageSize))
	if r := rawExchange(t, cli, msg); r.Code != ifch.ErrTooLarge {
		t.Fatalf("reply %+v", r)
	}
	if err := wait(t, done); !errors.Is(err, ErrProtocol) || !errors.Is(err, ifch.ErrTooLarge) {
		t.Fatalf("Serve returned %v", err)
	}
}

func TestServePeerCloses(t *testing.T) {
	a := New(newFakeKernel(), Config{})
	cli, done := startServe(t, a, &ifch.Policy{Interfaces: []string{"eth0"}})
	cli.Close()
	if err := wait(t, done); err != nil {
		t.Fatalf("Serve returned %v on EOF", err)
	}
}
