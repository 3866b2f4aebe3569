//go:build linux && containment

package logincontainment_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// liveFilter reads filter 0 of process pid with PTRACE_SECCOMP_GET_FILTER.
// A small copy of internal/containment's harness function of the same name
// (a test file of that package: sharing it would mean moving it into a
// package of its own). It seizes and interrupts one thread other than the
// leader when there is one; the filter is the same on every thread (the
// sandbox installs it with TSYNC).
func liveFilter(pid int) ([]bpf.Instruction, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := pid
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil && n != pid {
				tid = n
				break
			}
		}
	}
	if err := unix.PtraceSeize(tid); err != nil {
		return nil, fmt.Errorf("seize %d: %w", tid, err)
	}
	defer unix.PtraceDetach(tid)
	if err := unix.PtraceInterrupt(tid); err != nil {
		return nil, fmt.Errorf("interrupt %d: %w", tid, err)
	}
	if !waitStop(tid, 10*time.Second) {
		return nil, fmt.Errorf("thread %d of %d did not stop within 10 s of PTRACE_INTERRUPT", tid, pid)
	}
	const getFilter = 0x420c // PTRACE_SECCOMP_GET_FILTER
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(tid), 0, 0, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", e)
	}
	if n == 0 {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: an empty filter")
	}
	raw := make([]bpf.RawInstruction, n)
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(tid), 0, uintptr(unsafe.Pointer(&raw[0])), 0, 0); e != 0 {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", e)
	}
	// Raw instructions the package cannot name still run in its VM.
	prog, _ := bpf.Disassemble(raw)
	return prog, nil
}

// waitStop waits (bounded) for a traced thread's stop.
func waitStop(tid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil {
			return false
		}
		if wpid == tid && ws.Stopped() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

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
		if unix.PtraceInterrupt(tid) == nil && waitStop(tid, time.Second) {
			unix.PtraceDetach(tid)
		}
		ch <- ending{err: fmt.Errorf("thread %d did not end before the deadline", tid)}
	}()
	return ch
}
