//go:build linux

package roles

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/hook"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// fileLease names the read-only descriptor of the engine's lease file
// the supervisor hands the hook role.
const fileLease = "lease"

// runHook is the hook role: the lease file, the sandbox, then one run of
// the operator's program per event from the supervisor.
func runHook(in *sandbox.Inherited) int {
	var cfg config.Hook
	c, code := start(in, &cfg)
	if c == nil {
		return code
	}
	lease, err := c.in.File(fileLease)
	if err != nil {
		c.log.Error("lease file descriptor", "err", err)
		return exitcode.Failure
	}
	c.ends = map[string]syscall.Conn{}
	if code := c.ready(true); code != 0 {
		return code
	}
	r := &hook.Runner{Path: cfg.Path, Interface: cfg.Interface, Timeout: cfg.Timeout, Lease: lease, Log: c.log}
	if err := r.Serve(in.Ctl); err != nil {
		c.log.Error("the supervisor broke the hook protocol; exiting", "err", err)
		return exitcode.Failure
	}
	c.log.Info("no more events; exiting")
	return exitcode.OK
}

func sysErr(e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

// hookActions are the hook role's whole audit, in place of the generic
// battery: the programs it runs must be free to do what its user may (so
// reading files, running programs and opening sockets are controls that
// must work), while the capabilities, the deny list and Landlock's scopes
// must hold. Each row says which.
func hookActions() []probe.Action {
	return []probe.Action{
		{Name: "hook control: fork and execve /bin/true, as a hook does", Allowed: true, Do: func(any) error {
			return exec.Command("/bin/true").Run()
		}},
		{Name: "hook control: read /etc/passwd, as its user may", Allowed: true, Do: func(any) error {
			return closeFD(unix.Open("/etc/passwd", unix.O_RDONLY|unix.O_CLOEXEC, 0))
		}},
		{Name: "hook control: socket(AF_INET, SOCK_STREAM), as its user may", Allowed: true, Do: func(any) error {
			return closeFD(unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
		}},
		{Name: "hook: setuid(0)", Do: func(any) error {
			_, _, e := unix.RawSyscall(unix.SYS_SETUID, 0, 0, 0)
			return sysErr(e)
		}},
		{Name: "hook: raise CAP_SYS_ADMIN with capset", Do: func(any) error {
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			data := [2]unix.CapUserData{{Effective: 1 << unix.CAP_SYS_ADMIN, Permitted: 1 << unix.CAP_SYS_ADMIN}}
			return unix.Capset(&hdr, &data[0])
		}},
		{Name: "hook: unshare(CLONE_NEWUSER)", Do: func(any) error { return unix.Unshare(unix.CLONE_NEWUSER) }},
		{Name: "hook: clone a process with CLONE_NEWUSER", Do: func(any) error {
			pid, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD|unix.CLONE_NEWUSER), 0, 0, 0, 0, 0)
			if e == 0 && pid == 0 {
				unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
			}
			return sysErr(e)
		}},
		{Name: "hook: clone3", Do: func(any) error {
			_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
			return sysErr(e)
		}},
		{Name: "hook: bpf(BPF_PROG_LOAD)", Do: func(any) error {
			_, _, e := unix.RawSyscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, 0, 0)
			return sysErr(e)
		}},
		{Name: "hook: io_uring_setup", Do: func(any) error {
			_, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)
			return sysErr(e)
		}},
		{Name: "hook: userfaultfd", Do: func(any) error {
			fd, _, e := unix.RawSyscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
			if e == 0 {
				unix.Close(int(fd))
			}
			return sysErr(e)
		}},
		{Name: "hook: keyctl", Do: func(any) error {
			_, _, e := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, 0, 0)
			return sysErr(e)
		}},
		{Name: "hook: ptrace attach to parent", Prepare: func() (any, error) { return os.Getppid(), nil }, Do: func(s any) error {
			return unix.PtraceAttach(s.(int))
		}},
		{Name: "hook: kill(parent, 0)", Prepare: func() (any, error) { return os.Getppid(), nil }, Do: func(s any) error {
			return unix.Kill(s.(int), 0)
		}},
		{Name: "hook: mount tmpfs", Do: func(any) error { return unix.Mount("none", "/mnt", "tmpfs", 0, "") }},
	}
}

func closeFD(fd int, err error) error {
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
