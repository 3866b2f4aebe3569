//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// KillLog finds which system call made seccomp kill a process: the kernel
// logs each kill as an audit record (type=1326, with the pid and the
// syscall number) in its log, which a parent can read through /dev/kmsg
// when it opened it as root. Where the kernel log is not readable (no
// /dev/kmsg, an audit daemon taking the records, a container), the kill is
// still reported, without the name.
type KillLog struct {
	mu   sync.Mutex
	f    *os.File
	seen map[int]int // pid -> syscall number
}

// OpenKillLog opens the kernel log at its end. Call it before entering a
// sandbox: reading /dev/kmsg needs the permission checked at open.
func OpenKillLog() (*KillLog, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/kmsg", Err: err}
	}
	// Only records from now on: the log holds the whole boot's.
	if _, err := unix.Seek(fd, 0, io.SeekEnd); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "seek", Path: "/dev/kmsg", Err: err}
	}
	return &KillLog{f: os.NewFile(uintptr(fd), "/dev/kmsg"), seen: map[int]int{}}, nil
}

// Syscall returns the name of the system call seccomp killed pid for, if
// the kernel logged it. k may be nil.
func (k *KillLog) Syscall(pid int) (string, bool) {
	if k == nil {
		return "", false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// The kernel's audit thread writes the record shortly after the
	// kill: look for a while, bounded.
	var nr int
	var ok bool
	for try := 0; try < 25 && !ok; try++ {
		if try > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		k.drain()
		nr, ok = k.seen[pid]
	}
	if !ok {
		return "", false
	}
	a, err := nativeArch()
	if err != nil {
		return strconv.Itoa(nr), true
	}
	if name, ok := a.SyscallNumbers[nr]; ok {
		return name, true
	}
	return strconv.Itoa(nr), true
}

// drain reads the records available now: one per read, EAGAIN when none
// is left; bounded, in case the log is being flooded.
func (k *KillLog) drain() {
	buf := make([]byte, 8192)
	for range 4096 {
		n, err := syscall.Read(int(k.f.Fd()), buf)
		if errors.Is(err, syscall.EPIPE) {
			continue // records overwritten before they were read
		}
		if err != nil || n <= 0 {
			return
		}
		if p, nr, ok := ParseKillRecord(buf[:n]); ok {
			k.seen[p] = nr
		}
	}
}

// Close closes the kernel log.
func (k *KillLog) Close() error {
	if k == nil {
		return nil
	}
	return k.f.Close()
}

// ParseKillRecord reads one /dev/kmsg record ("PRI,SEQ,TIME,FLAGS;TEXT")
// and, when it is seccomp's audit record of a kill on the running
// architecture, returns the pid and the syscall number.
func ParseKillRecord(rec []byte) (pid, nr int, ok bool) {
	_, text, found := bytes.Cut(rec, []byte(";"))
	if !found || !bytes.Contains(text, []byte("type=1326 ")) {
		return 0, 0, false
	}
	text, _, _ = bytes.Cut(text, []byte("\n"))
	arch, _ := AuditArch()
	var gotPid, gotNr, gotArch bool
	for _, f := range bytes.Fields(text) {
		k, v, ok := bytes.Cut(f, []byte("="))
		if !ok {
			continue
		}
		switch string(k) {
		case "pid":
			n, err := strconv.Atoi(string(v))
			pid, gotPid = n, err == nil && n > 0
		case "syscall":
			n, err := strconv.Atoi(string(v))
			nr, gotNr = n, err == nil && n >= 0
		case "arch":
			a, err := strconv.ParseUint(string(v), 16, 32)
			gotArch = err == nil && uint32(a) == arch
		}
	}
	if !gotPid || !gotNr || !gotArch {
		return 0, 0, false
	}
	return pid, nr, true
}
