//go:build linux

package notify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen makes a datagram socket at addr, as a service manager does.
func listen(t *testing.T, addr string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func recv(t *testing.T, fd int) string {
	t.Helper()
	b := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, b, 0)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(b[:n])
}

func TestOpenPathAndAbstract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	abstract := fmt.Sprintf("@ndhc-notify-test-%d", os.Getpid())
	for _, addr := range []string{path, abstract} {
		t.Run(addr[:1], func(t *testing.T) {
			l := listen(t, addr)
			t.Setenv(Env, addr)
			n, err := Open()
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if v, ok := os.LookupEnv(Env); ok {
				t.Errorf("%s still set to %q: children would inherit it", Env, v)
			}
			if err := n.Ready("bound to 192.0.2.10/24"); err != nil {
				t.Fatal(err)
			}
			if got, want := recv(t, l), "READY=1\nSTATUS=bound to 192.0.2.10/24"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			// A newline in a value cannot start an assignment.
			if err := n.Status("renewing\nREADY=1"); err != nil {
				t.Fatal(err)
			}
			got := recv(t, l)
			if lines := strings.Split(got, "\n"); len(lines) != 1 || lines[0] != "STATUS=renewing READY=1" {
				t.Errorf("got %q, want one STATUS line", got)
			}
			if err := n.Stopping("stopping"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, l); got != "STOPPING=1\nSTATUS=stopping" {
				t.Errorf("got %q", got)
			}
		})
	}
}

// TestSendIsWriteOnly: after Open, sending needs nothing but write(2) on
// the connected descriptor; the same descriptor works after the socket's
// path is gone (nothing is looked up again).
func TestSendAfterUnlink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	l := listen(t, path)
	n, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := n.Status("x"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, l); got != "STATUS=x" {
		t.Errorf("got %q", got)
	}
}

func TestNoSocket(t *testing.T) {
	t.Setenv(Env, "")
	n, err := Open()
	if n != nil || err != nil {
		t.Fatalf("Open without %s: %v, %v", Env, n, err)
	}
	// A nil notifier is silent.
	if err := n.Ready("x"); err != nil {
		t.Error(err)
	}
	if err := n.Close(); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"relative", filepath.Join(t.TempDir(), "absent")} {
		if _, err := Dial(bad); err == nil {
			t.Errorf("Dial(%q) succeeded", bad)
		}
	}
}
