//go:build linux

package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// Role is the role name under which Spawn starts probe children; a program
// that uses this package calls [Child] when sandbox.IsChild reports it.
const Role = "probe"

// Action is one thing a probe attempts inside the sandbox.
type Action struct {
	// Name says what is attempted, for the audit table.
	Name string
	// Allowed is true for control actions, which must succeed.
	Allowed bool
	// Prepare runs before the sandbox is entered, as root with the full
	// environment, and returns state for Do (for example a descriptor that
	// models one leaked into the role). May be nil.
	Prepare func() (any, error)
	// Do runs inside the sandbox and returns the outcome: nil means the
	// action succeeded.
	Do func(state any) error
	// LandlockABI, when set, is the Landlock ABI from which the kernel
	// refuses this action through Landlock alone. On an older kernel the
	// action is reported as a gap, covered by Covered (which the same
	// battery checks separately), instead of failing the audit.
	LandlockABI int
	Covered     string
}

// Result is the outcome of one action in one role.
type Result struct {
	Role     string `json:"role"`
	Action   string `json:"action"`
	Expected string `json:"expected"` // "denied" or "allowed"
	Observed string `json:"observed"` // "ok", an errno name, or "killed by SIGSYS"
	// Syscall names the system call seccomp killed the probe for, when
	// the kernel's log could be read (sandbox.KillLog).
	Syscall string `json:"syscall,omitempty"`
	Layer   string `json:"layer,omitempty"`
	Pass    bool   `json:"pass"`
}

// childReply is what the child sends after the action.
type childReply struct {
	Report *sandbox.Report `json:"report,omitempty"`
	Err    string          `json:"err,omitempty"`
	Errno  int             `json:"errno,omitempty"`
	Setup  string          `json:"setup,omitempty"`
}

const maxReply = 64 << 10

// parseReply decodes a probe child's message strictly: one JSON object
// with no unknown field and nothing after it, a report alone or an outcome
// (error text, an errno in the kernel's range, a setup failure).
func parseReply(b []byte) (childReply, error) {
	var r childReply
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return childReply{}, fmt.Errorf("probe: malformed reply: %w", err)
	}
	if dec.More() {
		return childReply{}, errors.New("probe: malformed reply: trailing data")
	}
	if r.Report != nil && (r.Err != "" || r.Errno != 0 || r.Setup != "") {
		return childReply{}, errors.New("probe: malformed reply: a report with an outcome")
	}
	if r.Errno < 0 || r.Errno > 4095 {
		return childReply{}, fmt.Errorf("probe: malformed reply: errno %d", r.Errno)
	}
	return r, nil
}

// Run spawns a probe that enters p and attempts the action named name from
// actions (looked up again in the child, which runs the same binary). It
// returns the result and, when the probe got that far, the sandbox report.
func Run(p sandbox.Policy, a Action, opts sandbox.Options) (Result, *sandbox.Report, error) {
	res := Result{Role: p.Role, Action: a.Name, Expected: "denied"}
	if a.Allowed {
		res.Expected = "allowed"
	}
	kills, _ := sandbox.OpenKillLog() // nil where the kernel log cannot be read
	defer kills.Close()
	c, err := sandbox.Spawn(sandbox.Spec{Role: Role, Policy: p, Degrade: opts.Degrade, Config: a.Name})
	if err != nil {
		return res, nil, err
	}
	defer c.Ctl.Close()
	c.Ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	var rep *sandbox.Report
	var reply childReply
	for {
		msg, err := sandbox.RecvUpTo(c.Ctl, maxReply)
		if err != nil {
			break // the child exited (or was killed) after its last message
		}
		r, err := parseReply(msg)
		if err != nil {
			c.Kill()
			return res, nil, err
		}
		if r.Report != nil {
			rep = r.Report
			continue
		}
		reply = r
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		c.Kill()
		<-c.Done()
		return res, rep, errors.New("probe: child did not exit")
	}
	var ee *sandbox.ExitError
	exitErr := c.Err()
	switch {
	case reply.Setup != "":
		return res, rep, fmt.Errorf("probe %s/%s: %s", p.Role, a.Name, reply.Setup)
	case errors.As(exitErr, &ee) && signalOf(ee) == syscall.SIGSYS:
		res.Observed, res.Layer = "killed by SIGSYS", "seccomp"
		res.Syscall, _ = kills.Syscall(c.Pid())
	case exitErr != nil:
		return res, rep, fmt.Errorf("probe %s/%s: child failed: %v", p.Role, a.Name, exitErr)
	case rep == nil:
		return res, rep, fmt.Errorf("probe %s/%s: no sandbox report", p.Role, a.Name)
	case reply.Err == "" && reply.Errno == 0:
		res.Observed = "ok"
	default:
		res.Observed = reply.Err
		if reply.Errno != 0 {
			res.Observed = unix.ErrnoName(syscall.Errno(reply.Errno))
			res.Layer = layerOf(syscall.Errno(reply.Errno))
		}
	}
	res.Pass = (res.Observed == "ok") == a.Allowed
	if !res.Pass && !a.Allowed && a.LandlockABI > 0 && rep != nil && rep.LandlockABI < a.LandlockABI {
		res.Pass = true
		res.Layer = fmt.Sprintf("gap: kernel Landlock ABI %d < %d; covered by %s", rep.LandlockABI, a.LandlockABI, a.Covered)
	}
	return res, rep, nil
}

func signalOf(ee *sandbox.ExitError) syscall.Signal {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// layerOf names the layer that most likely produced errno, for people.
func layerOf(e syscall.Errno) string {
	switch e {
	case unix.EACCES:
		return "landlock"
	case unix.ENOENT:
		return "chroot"
	case unix.EPERM:
		return "capabilities"
	case unix.ENOSYS:
		return "seccomp"
	}
	return ""
}

// Child is the probe's side: it reads the action name, prepares, enters the
// inherited policy, reports, acts, reports again and exits. It never returns.
func Child(actions []Action) {
	in, err := sandbox.Inherit()
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(3)
	}
	fatal := func(format string, args ...any) {
		msg, _ := json.Marshal(childReply{Setup: fmt.Sprintf(format, args...)})
		sandbox.Send(in.Ctl, msg)
		os.Exit(3)
	}
	var name string
	if err := in.Config(&name); err != nil {
		fatal("%v", err)
	}
	var act *Action
	for i := range actions {
		if actions[i].Name == name {
			act = &actions[i]
		}
	}
	if act == nil {
		fatal("unknown action %q", name)
	}
	var state any
	if act.Prepare != nil {
		if state, err = act.Prepare(); err != nil {
			fatal("prepare: %v", err)
		}
	}
	// Warnings (degraded layers) still reach stderr; the informational
	// line about missing Landlock rights is in the report instead.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := in.Enter(sandbox.Options{Log: quiet})
	if err != nil {
		fatal("%v", err)
	}
	msg, _ := json.Marshal(childReply{Report: rep})
	if err := sandbox.Send(in.Ctl, msg); err != nil {
		os.Exit(3)
	}
	var out childReply
	if err := act.Do(state); err != nil {
		out.Err = err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			out.Errno = int(errno)
		}
	}
	msg, _ = json.Marshal(out)
	sandbox.Send(in.Ctl, msg)
	os.Exit(0)
}

// Battery returns the forbidden actions every role must be refused. The
// victims of ptrace, process_vm_readv and kill are the probe's parent, a
// process outside the role.
func Battery() []Action {
	return []Action{
		{Name: "read /etc/passwd by path", Do: func(any) error {
			return closeFD(unix.Open("/etc/passwd", unix.O_RDONLY|unix.O_CLOEXEC, 0))
		}},
		{Name: "read /etc/passwd via a leaked directory fd", Prepare: openDir("/etc"), Do: func(s any) error {
			return closeFD(unix.Openat(s.(int), "passwd", unix.O_RDONLY|unix.O_CLOEXEC, 0))
		}},
		{Name: "create a file in /tmp via a leaked directory fd", Prepare: openDir(os.TempDir()), Do: func(s any) error {
			name := "ndhc-probe-" + strconv.Itoa(os.Getpid())
			err := closeFD(unix.Openat(s.(int), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o600))
			if err == nil {
				unix.Unlinkat(s.(int), name, 0)
			}
			return err
		}},
		{Name: "execve /bin/sh", Do: func(any) error {
			return unix.Exec("/bin/sh", []string{"sh", "-c", "true"}, nil)
		}},
		{Name: "fork a new process", Do: func(any) error {
			pid, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
			if e != 0 {
				return e
			}
			if pid == 0 {
				unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
			}
			return nil
		}},
		{Name: "ptrace attach to parent", Prepare: parentPID, Do: func(s any) error {
			return unix.PtraceAttach(s.(int))
		}},
		{Name: "process_vm_readv of parent", Prepare: parentPID, Do: func(s any) error {
			var b [8]byte
			local := []unix.Iovec{{Base: &b[0], Len: 8}}
			remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&b[0])), Len: 8}}
			_, err := unix.ProcessVMReadv(s.(int), local, remote, 0)
			return err
		}},
		{Name: "kill(parent, 0)", Prepare: parentPID, Do: func(s any) error {
			return unix.Kill(s.(int), 0)
		}},
		{Name: "tgkill a thread of the parent", Prepare: parentPID, Do: func(s any) error {
			return unix.Tgkill(s.(int), s.(int), 0)
		}},
		{Name: "fcntl(F_SETOWN) on stderr, to aim SIGIO at the parent", Prepare: parentPID, Do: func(s any) error {
			_, err := unix.FcntlInt(2, unix.F_SETOWN, s.(int))
			return err
		}},
		{Name: "fcntl(F_SETSIG) on stderr", Do: func(any) error {
			_, err := unix.FcntlInt(2, unix.F_SETSIG, int(unix.SIGKILL))
			return err
		}},
		{Name: "clone a thread with CLONE_NEWNET besides the runtime's flags", Do: func(any) error {
			// Without CAP_SYS_ADMIN the kernel refuses it too, before any
			// thread exists; the row shows which layer answers first.
			flags := sandbox.CloneThreads[0].Value | unix.CLONE_NEWNET
			_, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(flags), 0, 0, 0, 0, 0)
			if e != 0 {
				return e
			}
			return nil
		}},
		{Name: "madvise(MADV_MERGEABLE), advice the runtime never gives", Do: func(any) error {
			b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				return err
			}
			defer unix.Munmap(b)
			return unix.Madvise(b, unix.MADV_MERGEABLE)
		}},
		{Name: "open /dev/tty", Do: func(any) error {
			return closeFD(unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0))
		}},
		{Name: "setuid(0)", Do: func(any) error {
			if _, _, e := unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0); e != 0 {
				return e
			}
			return nil
		}},
		{Name: "raise CAP_SYS_ADMIN with capset", Do: func(any) error {
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			data := [2]unix.CapUserData{{Effective: 1 << unix.CAP_SYS_ADMIN, Permitted: 1 << unix.CAP_SYS_ADMIN}}
			return unix.Capset(&hdr, &data[0])
		}},
		{Name: "unshare(CLONE_NEWNS|CLONE_NEWUSER)", Do: func(any) error {
			return unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWUSER)
		}},
		{Name: "mount tmpfs", Do: func(any) error {
			return unix.Mount("none", "/", "tmpfs", 0, "")
		}},
		{Name: "chroot(\"..\")", Do: func(any) error {
			return unix.Chroot("..")
		}},
		{Name: "map 1 GiB of writable memory", Do: func(any) error {
			// Refused by RLIMIT_DATA or the AS limit of
			// Policy.MemoryGrowth: a role's memory is bounded.
			b, err := unix.Mmap(-1, 0, 1<<30, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err == nil {
				unix.Munmap(b)
			}
			return err
		}},
		{Name: "socket(AF_INET, SOCK_STREAM)", Do: func(any) error {
			return closeFD(unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
		}},
		{Name: "socket(AF_INET6, SOCK_DGRAM)", Do: func(any) error {
			return closeFD(unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0))
		}},
		{Name: "socket(AF_NETLINK, NETLINK_ROUTE)", Do: func(any) error {
			return closeFD(unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE))
		}},
		{Name: "bind TCP port 8067 on a leaked socket", Prepare: tcpSocket, LandlockABI: 4, Covered: "seccomp: socket(AF_INET, SOCK_STREAM) refused", Do: func(s any) error {
			return unix.Bind(s.(int), &unix.SockaddrInet4{Port: 8067, Addr: [4]byte{127, 0, 0, 1}})
		}},
		{Name: "connect TCP 127.0.0.1:9 on a leaked socket", Prepare: tcpSocket, LandlockABI: 4, Covered: "seccomp: socket(AF_INET, SOCK_STREAM) refused", Do: func(s any) error {
			return unix.Connect(s.(int), &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
		}},
	}
}

// parentPID is read before the sandbox: getppid itself is not on every
// allowlist, and the probe must test the action, not the lookup.
func parentPID() (any, error) { return os.Getppid(), nil }

func closeFD(fd int, err error) error {
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

func openDir(path string) func() (any, error) {
	return func() (any, error) {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		return fd, err
	}
}

func tcpSocket() (any, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	return fd, err
}
