// Package kit is what the containment test builds of ndhc
// (internal/containment) and netlogind (internal/login/logincontainment)
// share: a role's own seccomp filter evaluated inside the role, so that a
// battery makes only the calls the filter lets through and leaves the
// fatal ones to runs of their own; the memory bomb; and, for the
// harnesses, the live filter of a running process read with ptrace.
// Only code built with the tag containment and its tests import it
// (internal/deptest).
package kit

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Filter is a role's seccomp program as its policy compiles, evaluated in
// the role itself.
type Filter struct {
	prog []bpf.Instruction
	arch uint32
}

// NewFilter compiles p's allowlist.
func NewFilter(p *sandbox.Policy) (*Filter, error) {
	prog, _, err := sandbox.CompileSeccomp(p)
	if err != nil {
		return nil, err
	}
	arch, err := sandbox.AuditArch()
	if err != nil {
		return nil, err
	}
	return &Filter{prog: prog, arch: arch}, nil
}

// Call is one system call, by number, with its arguments.
type Call struct {
	Nr   int
	Args [6]uint64
}

// Lookup names a call for this architecture.
func Lookup(name string, args ...uint64) (Call, error) {
	nr, err := sandbox.SyscallNumber(name)
	if err != nil {
		return Call{}, err
	}
	c := Call{Nr: nr}
	copy(c.Args[:], args)
	return c, nil
}

// Kills reports whether the filter answers KILL_PROCESS for c.
func (f *Filter) Kills(c Call) bool {
	v, err := sandbox.EvalSeccomp(f.prog, sandbox.SeccompData{Nr: int32(c.Nr), Arch: f.arch, Args: c.Args})
	return err == nil && sandbox.SeccompAction(v) == sandbox.SeccompRetKillProcess
}

// Make makes the call.
func (c Call) Make() (uintptr, unix.Errno) {
	a := c.Args
	r1, _, errno := unix.Syscall6(uintptr(c.Nr), uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
	return r1, errno
}

// MapUntilRefused maps writable memory chunk bytes at a time until the
// kernel refuses or limit bytes are mapped, then unmaps it all; it
// returns how much it got and the refusal (nil at the limit).
func MapUntilRefused(chunk, limit int) (int, error) {
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			unix.Munmap(m)
		}
	}()
	total := 0
	for total < limit {
		m, err := unix.Mmap(-1, 0, chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return total, err
		}
		maps = append(maps, m)
		total += chunk
	}
	return total, nil
}

// LiveFilter reads filter 0 of process pid with PTRACE_SECCOMP_GET_FILTER
// (the harness holds CAP_SYS_ADMIN). It seizes and interrupts one thread
// other than the leader when there is one (the filter is the same on
// every thread: the sandbox installs it with TSYNC), and detaches.
func LiveFilter(pid int) ([]bpf.Instruction, error) {
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
	if !WaitStop(tid, 10*time.Second) {
		return nil, fmt.Errorf("thread %d of %d did not stop within 10 s of PTRACE_INTERRUPT", tid, pid)
	}
	const getFilter = 0x420c // PTRACE_SECCOMP_GET_FILTER
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(tid), 0, 0, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", e)
	}
	raw := make([]bpf.RawInstruction, n)
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(tid), 0, uintptr(unsafe.Pointer(&raw[0])), 0, 0); e != 0 {
		return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", e)
	}
	// Raw instructions bpf cannot name still run in its VM.
	prog, _ := bpf.Disassemble(raw)
	return prog, nil
}

// WaitStop waits, at most d, for a traced thread's stop.
func WaitStop(tid int, d time.Duration) bool {
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

// Caller makes a battery's system calls against the role's own filter:
// a call the filter would kill the role for is not made (the harness
// checks the live filter for it, and makes it in a run of its own) unless
// the battery forces it. Last is the most recent call, which a "killed"
// record names.
type Caller struct {
	Filter *Filter
	Last   Call
}

// Sys makes the named call, or reports killed without making it when the
// filter answers KILL_PROCESS and force is false.
func (k *Caller) Sys(force bool, name string, args ...uint64) (r1 uintptr, errno unix.Errno, killed bool) {
	c, err := Lookup(name, args...)
	if err != nil {
		return 0, unix.ENOSYS, false
	}
	k.Last = c
	if k.Filter.Kills(c) && !force {
		return 0, 0, true
	}
	r1, errno = c.Make()
	return r1, errno, false
}

// Allowed says whether the filter lets the call through, so that a
// dangerous call it allows is reported rather than made.
func (k *Caller) Allowed(name string, args ...uint64) bool {
	c, err := Lookup(name, args...)
	if err != nil {
		return false
	}
	k.Last = c
	return !k.Filter.Kills(c)
}

// ErrnoName names an errno as the kernel's headers do ("EPERM").
func ErrnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}
