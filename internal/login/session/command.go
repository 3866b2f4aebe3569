package session

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// outputGrace is how long a command's output is still read after the
// command exited: a background job that keeps stdout open must not hold
// the session forever, and what a command wrote just before exiting is
// still in the pipe.
const outputGrace = time.Second

// killWait bounds the wait for a killed command to be reaped.
const killWait = 5 * time.Second

// commander runs the authenticated client's commands.
type commander struct {
	s      *server
	acct   *Account
	groups []uint32
	env    []string
}

// chunk is a piece of a command's output; nil data means the stream ended.
type chunk struct {
	stream uint8
	data   []byte
}

// loop reads [net]'s messages until Finish (nil), or an error; each
// Command runs to its Exit.
func (c *commander) loop() error {
	for {
		m, err := c.s.accept(<-c.s.in)
		if err != nil {
			return err
		}
		if m.Type == wire.TypeFinish {
			return nil
		}
		// accept let only Command through besides Finish.
		finished, err := c.run(m.Text)
		if err != nil || finished {
			return err
		}
	}
}

// cmd builds the process for line.
func (c *commander) cmd(line string) *exec.Cmd {
	dir := "/"
	if fi, err := os.Stat(c.acct.Home); err == nil && fi.IsDir() {
		dir = c.acct.Home
	}
	cmd := &exec.Cmd{
		Path: c.acct.Shell,
		Args: []string{c.acct.Shell, "-c", line},
		Env:  c.env,
		Dir:  dir,
		SysProcAttr: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: c.acct.Uid, Gid: c.acct.Gid, Groups: c.groups},
			// A session and process group of its own: no terminal to
			// reach, and one kill(-pgid) ends the whole job.
			Setsid: true,
		},
	}
	return cmd
}

// run runs one command, streaming its output, and answers Exit. finished
// is set when [net] sent Finish meanwhile: the command was killed, and no
// Exit follows.
func (c *commander) run(line string) (finished bool, err error) {
	cmd := c.cmd(line)
	outR, outW, err := os.Pipe()
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrServer, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return false, fmt.Errorf("%w: %v", ErrServer, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	closeOnExecAll()
	// Start forks on this (the PAM) thread: the command inherits the
	// thread's login uid and what the session modules set on it.
	startErr := cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		msg := printable("netlogind: "+startErr.Error()+"\n", wire.MaxOutput)
		if err := c.s.send(&wire.Msg{Type: wire.TypeOutput, Stream: wire.Stderr, Data: []byte(msg)}); err != nil {
			return false, err
		}
		return false, c.s.send(&wire.Msg{Type: wire.TypeExit, Status: 127})
	}
	pid := cmd.Process.Pid

	stop := make(chan struct{})
	chunks := make(chan chunk)
	go pump(outR, wire.Stdout, chunks, stop)
	go pump(errR, wire.Stderr, chunks, stop)
	exited := make(chan uint16, 1)
	go func() {
		cmd.Wait()
		exited <- exitStatus(cmd.ProcessState)
	}()
	// cleanup stops the pumps and closes the read ends (which unblocks a
	// pump stuck in Read when a background job holds the pipe).
	cleanup := func() {
		close(stop)
		outR.Close()
		errR.Close()
	}
	kill := func() {
		syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(killWait):
			c.s.o.Log.Warn("killed command not reaped", "pid", pid)
		}
		cleanup()
	}

	open := 2
	var status uint16
	var grace <-chan time.Time
	ended := false
	for open > 0 || !ended {
		select {
		case ch := <-chunks:
			if ch.data == nil {
				open--
				continue
			}
			if err := c.s.send(&wire.Msg{Type: wire.TypeOutput, Stream: ch.stream, Data: ch.data}); err != nil {
				kill()
				return false, err
			}
		case status = <-exited:
			ended = true
			grace = time.After(outputGrace)
		case <-grace:
			open = 0
		case in := <-c.s.in:
			_, err := c.s.accept(in)
			kill()
			if err != nil {
				return false, err
			}
			// A Finish (the only message accept lets through while a
			// command runs): the client is leaving, the job ends.
			return true, nil
		}
	}
	cleanup()
	return false, c.s.send(&wire.Msg{Type: wire.TypeExit, Status: status})
}

// pump reads one of a command's output pipes into chunks of at most
// wire.MaxOutput bytes, then sends the end (nil data).
func pump(f *os.File, stream uint8, chunks chan<- chunk, stop <-chan struct{}) {
	for {
		buf := make([]byte, wire.MaxOutput)
		n, err := f.Read(buf)
		var ch chunk
		if n > 0 {
			ch = chunk{stream, buf[:n]}
		} else if err != nil {
			ch = chunk{stream, nil}
		} else {
			continue
		}
		select {
		case chunks <- ch:
		case <-stop:
			return
		}
		if ch.data == nil {
			return
		}
	}
}

// exitStatus is the wire's Exit status: the exit code, or 256 plus the
// signal that ended the command.
func exitStatus(ps *os.ProcessState) uint16 {
	if ps == nil {
		return 255
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return uint16(256 + int(ws.Signal()))
	}
	return uint16(ps.ExitCode() & 0xff)
}

// closeOnExecAll marks every descriptor above stderr close-on-exec before
// a command starts. Go opens its own that way, but a PAM module may not:
// what a module opened as root must not reach a command running as the
// user.
func closeOnExecAll() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
