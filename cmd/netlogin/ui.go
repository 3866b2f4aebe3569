package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// termUI is client.UI on the process's standard streams.
type termUI struct {
	in     *os.File
	tty    bool // in is a terminal
	lines  *lineReader
	stdout io.Writer
	stderr io.Writer
	// commands from -c; fromArgs says whether there were any (then
	// standard input only answers prompts).
	commands []string
	fromArgs bool
}

func newTermUI(in *os.File, stdout, stderr io.Writer, commands []string) *termUI {
	return &termUI{
		in:       in,
		tty:      term.IsTerminal(int(in.Fd())),
		lines:    &lineReader{r: in},
		stdout:   stdout,
		stderr:   stderr,
		commands: commands,
		fromArgs: len(commands) > 0,
	}
}

func (u *termUI) Stdout() io.Writer { return u.stdout }
func (u *termUI) Stderr() io.Writer { return u.stderr }

// Text shows the server's message as it is: the wire allows no control
// characters but newline and tab, so it cannot drive the terminal.
func (u *termUI) Text(s string) { fmt.Fprint(u.stderr, s) }

// Prompt shows text and reads one line. With echo off on a terminal the
// line is read with the terminal's echo off.
func (u *termUI) Prompt(text string, echo bool) ([]byte, error) {
	fmt.Fprint(u.stderr, text)
	if echo || !u.tty {
		return u.lines.readLine(wire.MaxReply)
	}
	return u.readSecret()
}

// readSecret reads a line with echo off, keeping the terminal's line
// editing, and puts the terminal back however the read ends, a signal
// included (otherwise an interrupted password prompt would leave the
// user's shell without echo).
func (u *termUI) readSecret() ([]byte, error) {
	fd := int(u.in.Fd())
	saved, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("reading the terminal's state: %w", err)
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("reading the terminal's state: %w", err)
	}
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case s := <-sigs:
			_ = term.Restore(fd, saved)
			fmt.Fprintln(u.stderr)
			os.Exit(128 + int(s.(syscall.Signal)))
		case <-done:
		}
	}()
	defer func() {
		close(done)
		<-exited
		signal.Stop(sigs)
	}()

	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, fmt.Errorf("turning the terminal's echo off: %w", err)
	}
	line, err := u.lines.readLine(wire.MaxReply)
	rerr := term.Restore(fd, saved)
	// The newline the user typed was not echoed either.
	fmt.Fprintln(u.stderr)
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		wire.Scrub(line)
		return nil, fmt.Errorf("restoring the terminal: %w", rerr)
	}
	return line, nil
}

// NextCommand returns the next -c command or, without -c, the next
// non-blank line of standard input. On a terminal a bad line is
// explained and the user asked again; from a file or pipe it ends the
// session, since nobody is there to fix it.
func (u *termUI) NextCommand() (string, bool, error) {
	if u.fromArgs {
		if len(u.commands) == 0 {
			return "", false, nil
		}
		c := u.commands[0]
		u.commands = u.commands[1:]
		return c, true, nil
	}
	// Bounded: each pass reads a line or ends (EOF, an error, or a bad
	// line from a non-terminal); the input is finite or a user.
	for {
		if u.tty {
			fmt.Fprint(u.stderr, "netlogin> ")
		}
		b, err := u.lines.readLine(wire.MaxCommand)
		if errors.Is(err, io.EOF) {
			if u.tty {
				fmt.Fprintln(u.stderr)
			}
			return "", false, nil
		}
		if err == nil {
			line := string(b)
			if strings.TrimSpace(line) == "" {
				continue
			}
			err = wire.ValidCommand(line)
			if err == nil {
				return line, true, nil
			}
		}
		if !u.tty || !errors.Is(err, errLineTooLong) && !errors.Is(err, wire.ErrFrame) {
			return "", false, err
		}
		fmt.Fprintln(u.stderr, "netlogin:", err)
	}
}

// errLineTooLong: a line longer than the protocol carries.
var errLineTooLong = errors.New("line too long")

// lineReader reads bounded lines through a buffer of its own, so that a
// secret read through it can be wiped from there too (bufio's buffer is
// out of reach).
type lineReader struct {
	r    io.Reader
	buf  [4096]byte
	i, n int // buf[i:n] is read but not yet consumed
	err  error
}

// readLine returns the next line without its "\n" (or "\r\n"), at most
// max bytes; a longer line is consumed and refused with errLineTooLong,
// never cut short. A last line without a newline counts as a line; after
// it, the reader's error (io.EOF at the end of input).
func (l *lineReader) readLine(max int) ([]byte, error) {
	line := make([]byte, 0, max+1)
	tooLong := false
	defer func() { clear(l.buf[:l.i]) }()
	for idle := 0; ; {
		if l.i == l.n {
			if l.err != nil {
				if len(line) == 0 && !tooLong {
					return nil, l.err
				}
				break
			}
			clear(l.buf[:l.n])
			l.i = 0
			l.n, l.err = l.r.Read(l.buf[:])
			if l.n == 0 && l.err == nil {
				if idle++; idle > 100 {
					l.err = io.ErrNoProgress
				}
			}
			continue
		}
		c := l.buf[l.i]
		l.i++
		if c == '\n' {
			break
		}
		if tooLong {
			continue
		}
		// One byte over max is kept, as a possible '\r' before '\n'.
		if len(line) > max {
			tooLong = true
			wire.Scrub(line)
			line = line[:0]
			continue
		}
		line = append(line, c)
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line[n-1] = 0
		line = line[:n-1]
	}
	if tooLong || len(line) > max {
		wire.Scrub(line)
		return nil, fmt.Errorf("%w (at most %d bytes)", errLineTooLong, max)
	}
	return line, nil
}
