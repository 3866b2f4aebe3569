package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// notifySocket is a service manager's end of $NOTIFY_SOCKET: a datagram
// socket the test owns, whose messages are collected in order.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify")}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: n.path}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	// A receive timeout lets the reader see the test end: shutdown(2)
	// does not wake a datagram socket's reader.
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			k, _, err := unix.Recvfrom(fd, b, 0)
			if err == unix.EAGAIN || err == unix.EINTR {
				select {
				case <-stop:
					return
				default:
					continue
				}
			}
			if err != nil {
				t.Errorf("notify socket: %v", err)
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(b[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		unix.Close(fd)
		if t.Failed() {
			t.Logf("notifications: %q", n.all())
		}
	})
	return n
}

// all returns every assignment received so far, one per element.
func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, m := range n.msgs {
		out = append(out, strings.Split(m, "\n")...)
	}
	return out
}

func (n *notifySocket) index(match func(string) bool) int {
	return slices.IndexFunc(n.all(), match)
}

func eq(s string) func(string) bool { return func(x string) bool { return x == s } }

// TestLabNotify: under a service manager ($NOTIFY_SOCKET, Type=notify)
// the supervisor, sandboxed, says READY=1 once the lease is on the
// interface and not before, keeps STATUS= up to date (bound, renewing),
// and says STOPPING=1 on SIGTERM. The variable reaches no role.
func TestLabNotify(t *testing.T) {
	l := newLab(t, "notify")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	n := newNotifySocket(t)
	c := startClient(t, l, clientOpts{args: []string{"--arp-mode", "off"}, env: []string{"NOTIFY_SOCKET=" + n.path}})
	c.waitRec(20*time.Second, "the lease configured", 0, is("configured"))
	waitFor(t, 5*time.Second, "READY=1", func() bool { return n.index(eq("READY=1")) >= 0 })
	a := clientAddr(t, l)
	if !a.IsValid() {
		t.Fatal("READY=1 without an address on the interface")
	}
	all := n.all()
	if k := len(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s != "READY=1" })); k != 1 {
		t.Errorf("READY=1 sent more than once: %q", all)
	}
	if i := n.index(eq("STATUS=bound to " + a.String())); i < 0 {
		t.Errorf("no STATUS=bound to %v in %q", a, all)
	}
	if i := n.index(func(s string) bool { return strings.HasPrefix(s, "STATUS=no lease") }); i < 0 || i > slices.Index(all, "READY=1") {
		t.Errorf("no STATUS=no lease before READY=1: %q", all)
	}
	_, bi := c.waitRec(5*time.Second, "BOUND", 0, state("BOUND"))
	c.cmd.Process.Signal(syscall.SIGUSR1)
	c.waitRec(20*time.Second, "a renewal", bi+1, state("BOUND", "RENEWING"))
	waitFor(t, 5*time.Second, "STATUS=renewing", func() bool {
		return n.index(eq("STATUS=renewing "+a.String())) >= 0
	})
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	waitFor(t, 2*time.Second, "STOPPING=1", func() bool { return n.index(eq("STOPPING=1")) > slices.Index(n.all(), "READY=1") })
	// The roles' environment: none of them was handed the socket.
	for _, role := range []string{"engine", "sockd", "ifch"} {
		if r, ok := c.ready()[role]; !ok || r.Pid == 0 {
			t.Errorf("no ready record for %s", role)
		}
	}
}

// TestLabReadyFD: --ready-fd (s6's notification-fd) gets one newline once
// the one-shot client's lease is configured, then end of file; with
// $NOTIFY_SOCKET as well, READY=1 comes before the exit.
func TestLabReadyFD(t *testing.T) {
	l := newLab(t, "readyfd")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	n := newNotifySocket(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// inherit starts at fd 4 (3 is the event stream).
	c := startClient(t, l, clientOpts{args: []string{"-q", "--arp-mode", "off", "--ready-fd", "4"}, inherit: []*os.File{w},
		env: []string{"NOTIFY_SOCKET=" + n.path}})
	w.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	select {
	case b := <-got:
		if string(b) != "\n" {
			t.Errorf("ready fd carried %q, want one newline", b)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the ready fd was not written and closed")
	}
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !clientAddr(t, l).IsValid() {
		t.Error("exit 0 without an address")
	}
	waitFor(t, 2*time.Second, "READY=1", func() bool { return n.index(eq("READY=1")) >= 0 })
}
