//go:build linux

package control

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startServer listens in a temporary directory; root only (the socket is
// chowned to root).
func startServer(t *testing.T, gid uint32) (*Server, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the control socket is chowned to root and its group")
	}
	path := filepath.Join(t.TempDir(), "run", "control")
	// A stale socket of a dead instance is replaced.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	stale, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(path, int(gid))
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ln, gid, slog.New(slog.DiscardHandler), State{Interface: "eth0", State: "SELECTING"})
	go s.Serve()
	t.Cleanup(s.Close)
	return s, path
}

func TestServerSocketFile(t *testing.T) {
	_, path := startServer(t, 4242)
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o777 != 0o660 || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK || st.Uid != 0 || st.Gid != 4242 {
		t.Fatalf("socket mode %o uid %d gid %d", st.Mode, st.Uid, st.Gid)
	}
	// Any other file where the socket goes is left alone.
	other := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(other, 0); err == nil {
		t.Fatal("a regular file was replaced")
	}
}

func TestServerRoot(t *testing.T) {
	s, path := startServer(t, 0)
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Do(Request{Op: Show}, time.Second)
	c.Close()
	if err != nil || r.Status != StatusOK || r.State.State != "SELECTING" {
		t.Fatalf("show: %+v, %v", r, err)
	}

	// A command reaches the supervisor's loop, which answers it.
	go func() {
		cmd := <-s.Commands()
		if cmd.Op == Rebind {
			cmd.Done <- nil
		} else {
			cmd.Done <- errors.New("wrong op")
		}
	}()
	c, _ = Dial(path, time.Second)
	r, err = c.Do(Request{Op: Rebind}, 3*time.Second)
	c.Close()
	if err != nil || r.Status != StatusAccepted {
		t.Fatalf("rebind: %+v, %v", r, err)
	}

	// A wait streams the state at each change.
	c, _ = Dial(path, time.Second)
	defer c.Close()
	if err := c.Send(Request{Op: Wait, TimeoutMS: 5000}); err != nil {
		t.Fatal(err)
	}
	if r, err = c.Next(time.Now().Add(time.Second)); err != nil || r.State.Bound() {
		t.Fatalf("first wait reply %+v, %v", r, err)
	}
	s.Update(func(st *State) { st.State, st.Configured = "BOUND", true })
	if r, err = c.Next(time.Now().Add(time.Second)); err != nil || !r.State.Bound() {
		t.Fatalf("second wait reply %+v, %v", r, err)
	}
}

// TestServerMalformed: a malformed request closes that connection, and
// the server goes on.
func TestServerMalformed(t *testing.T) {
	_, path := startServer(t, 0)
	for _, b := range []string{`{"v":1,"op":"stop"}`, `garbage`, string(make([]byte, MaxRequest+1))} {
		c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(make([]byte, 64))
		c.Close()
		if n != 0 || (err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("%.20q: read %d, %v: want the connection closed", b, n, err)
		}
	}
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Do(Request{Op: Show}, time.Second); err != nil || r.Status != StatusOK {
		t.Fatalf("show after malformed requests: %+v, %v", r, err)
	}
}
