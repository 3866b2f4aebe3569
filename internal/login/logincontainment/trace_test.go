//go:build linux && containment

package logincontainment_test

import (
	"fmt"
	"runtime"
	"time"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"golang.org/x/sys/unix"
)

// ending is how a traced thread ended, as the kernel told its tracer.
type ending struct {
	status unix.WaitStatus
	how    string // "PTRACE_EVENT_EXIT" or "exit"
	err    error
}

func (e ending) String() string {
	if e.err != nil {
		return e.err.Error()
	}
	switch {
	case e.status.Signaled():
		return fmt.Sprintf("killed by %s (%s)", unix.SignalName(e.status.Signal()), e.how)
	case e.status.Exited():
		return fmt.Sprintf("exit %d (%s)", e.status.ExitStatus(), e.how)
	}
	return fmt.Sprintf("status %#x (%s)", uint32(e.status), e.how)
}

// traceExit seizes thread tid with PTRACE_O_TRACEEXIT, then calls trigger,
// and sends how the thread ended: its exit stop's status, or its exit
// itself when the kernel skips the stop (a SIGKILL). Signals the thread
// receives meanwhile (the Go runtime's preemption) are delivered on. It
// gives up at deadline and lets the thread go.
func traceExit(tid int, deadline time.Time, trigger func()) <-chan ending {
	ch := make(chan ending, 1)
	go func() {
		// ptrace binds the tracer's thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, unix.PTRACE_O_TRACEEXIT, 0, 0); e != 0 {
			trigger()
			ch <- ending{err: fmt.Errorf("seize %d: %w", tid, e)}
			return
		}
		trigger()
		for time.Now().Before(deadline) {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
			if err != nil {
				ch <- ending{err: fmt.Errorf("wait %d: %w", tid, err)}
				return
			}
			if wpid != tid {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			switch {
			case ws.Exited() || ws.Signaled():
				ch <- ending{status: ws, how: "exit"}
				return
			case ws.Stopped() && ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXIT:
				msg, err := unix.PtraceGetEventMsg(tid)
				unix.PtraceDetach(tid)
				ch <- ending{status: unix.WaitStatus(msg), how: "PTRACE_EVENT_EXIT", err: err}
				return
			case ws.Stopped() && int(ws)>>16 != 0:
				// Another event stop (a group stop): go on.
				unix.PtraceCont(tid, 0)
			case ws.Stopped():
				// A signal on its way to the thread: deliver it.
				unix.PtraceCont(tid, int(ws.StopSignal()))
			}
		}
		if unix.PtraceInterrupt(tid) == nil && kit.WaitStop(tid, time.Second) {
			unix.PtraceDetach(tid)
		}
		ch <- ending{err: fmt.Errorf("thread %d did not end before the deadline", tid)}
	}()
	return ch
}
