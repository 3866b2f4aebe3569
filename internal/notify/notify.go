//go:build linux

// Package notify sends a service manager the sd_notify(3) messages
// (READY=1, STATUS=..., STOPPING=1) on the datagram socket named by
// $NOTIFY_SOCKET. The socket is opened and connected once, by [Open],
// while the process may still create sockets; afterwards [Notifier.Send]
// only calls write(2) on it, which the supervisor's sandbox allows (no
// socket, connect or sendmsg after it enters its sandbox).
package notify

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Env is the variable a service manager sets to its socket's address.
const Env = "NOTIFY_SOCKET"

// Notifier is a connected notification socket. A nil *Notifier sends
// nothing.
type Notifier struct {
	fd int
}

// Open connects to the socket named by $NOTIFY_SOCKET and removes the
// variable from the environment, so that no child inherits it (the
// service manager listens to the main process only: NotifyAccess=main).
// Without the variable it returns nil and no error. The address is a
// path or, with a leading '@', an abstract socket.
func Open() (*Notifier, error) {
	addr, ok := os.LookupEnv(Env)
	if !ok || addr == "" {
		return nil, nil
	}
	os.Unsetenv(Env)
	return Dial(addr)
}

// Dial connects to the notification socket at addr.
func Dial(addr string) (*Notifier, error) {
	if addr == "" || (addr[0] != '/' && addr[0] != '@') {
		return nil, fmt.Errorf("%s %q: want an absolute path or @abstract", Env, addr)
	}
	// Non-blocking: a service manager that stops reading costs a lost
	// status line, never a stuck supervisor.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Env, err)
	}
	// x/sys/unix turns a leading '@' into the abstract namespace's NUL.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s %q: %w", Env, addr, err)
	}
	return &Notifier{fd: fd}, nil
}

// Send sends one datagram of newline-separated VAR=VALUE assignments.
// A value may not hold a newline (it would start an assignment of its
// own): those are replaced by spaces.
func (n *Notifier) Send(assignments ...string) error {
	if n == nil || len(assignments) == 0 {
		return nil
	}
	var b strings.Builder
	for i, a := range assignments {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.ReplaceAll(a, "\n", " "))
	}
	for {
		_, err := unix.Write(n.fd, []byte(b.String()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", Env, err)
		}
		return nil
	}
}

// Ready says the service is up.
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", "STATUS="+status) }

// Status sets the one-line status systemctl shows.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + status) }

// Stopping says the service is shutting down.
func (n *Notifier) Stopping(status string) error { return n.Send("STOPPING=1", "STATUS="+status) }

// Close closes the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	return unix.Close(n.fd)
}
