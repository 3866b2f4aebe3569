package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/exitcode"
)

// readyChildFD is where the detached client gets the ready pipe.
const readyChildFD = 3

// detach is `ndhc -w`: it starts the client again, detached (a session of
// its own, stdin and stdout on /dev/null, stderr too when it is a
// terminal; kept when it is a file, pipe or socket: a log destination),
// with --ready-fd on a pipe, and exits 0 once the client writes the
// newline: its first lease is configured, like dhcpcd -w. EOF without
// the newline means the client failed: its exit status if it has
// exited, else 1. After timeout (0: none) it exits 5 and leaves the
// client running, still trying.
func detach(args []string, timeout time.Duration) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc: %v\n", err)
		return exitcode.Failure
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc: %v\n", err)
		return exitcode.Failure
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		fmt.Fprintf(os.Stderr, "ndhc: %v\n", err)
		return exitcode.Failure
	}
	defer null.Close()
	stderr := os.Stderr
	if _, err := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS); err == nil {
		stderr = null
	}
	// Flags parsed later win: the child does not detach again.
	cmd := exec.Command(self, append(append([]string(nil), args...), "--wait=false", fmt.Sprintf("--ready-fd=%d", readyChildFD))...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc: starting the client: %v\n", err)
		return exitcode.Failure
	}
	got := make(chan bool, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		got <- err == nil && line == "\n"
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case ok := <-got:
		if ok {
			// Not waited for: the client runs on, detached.
			_ = cmd.Process.Release()
			return exitcode.OK
		}
	case <-expired:
		fmt.Fprintf(os.Stderr, "ndhc: no lease configured within %v; the client (pid %d) goes on trying\n", timeout, cmd.Process.Pid)
		_ = cmd.Process.Release()
		return exitcode.NoLease
	}
	// EOF: the client closed the pipe without the newline, so it is
	// exiting or failed; its status if it ends within a moment.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return ee.ExitCode()
		}
		if err == nil {
			return exitcode.OK // a one-shot client that bound and exited
		}
	case <-time.After(2 * time.Second):
	}
	fmt.Fprintln(os.Stderr, "ndhc: the client failed before its first lease")
	return exitcode.Failure
}
