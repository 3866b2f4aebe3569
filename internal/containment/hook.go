//go:build linux && containment

package containment

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/sandbox"
)

// SuidName is the set-user-ID root copy of id(1) the harness puts next
// to the hook program: run from the hook runner, it must print the hook's
// uid (no_new_privs).
const SuidName = "suid-id"

// hookStart is Start for the hook role. Its sandbox is a default-allow
// seccomp deny list, no capability, no_new_privs, Landlock over the whole
// filesystem with signals and abstract sockets scoped: the battery
// checks each of those, and not what the hook may do on purpose (read
// files, run programs, open sockets: its user's rights).
func hookStart(in *sandbox.Inherited, p sandbox.Policy, sel string) func(int, map[string]syscall.Conn) {
	var cfg config.Hook
	prog := ""
	if err := in.Config(&cfg); err == nil {
		prog = cfg.Path
	}
	return func(int, map[string]syscall.Conn) { runHookBattery(p, prog) }
}

func runHookBattery(p sandbox.Policy, prog string) {
	const role = "hook"
	rec := func(attack string, r Record) {
		r.Role, r.Attack = role, attack
		emit(r)
	}
	// Every entry of the deny list answers ENOSYS, called with harmless
	// arguments (zeros, or an invalid request where zeros mean one).
	for _, s := range p.Seccomp {
		if len(s.Any) > 0 {
			continue // conditional: clone, below
		}
		nr, err := sandbox.SyscallNumber(s.Name)
		if err != nil {
			continue
		}
		var a [6]uint64
		switch s.Name {
		case "ptrace":
			a[0] = 0xffff // no such request: EIO, were it made
		case "unshare":
			a[0] = 0 // a no-op, were it made
		case "setns":
			a[0] = ^uint64(0) // fd -1
		case "reboot", "syslog", "vhangup", "acct", "swapoff", "swapon", "chroot":
			// zeros: an invalid magic, SYSLOG_ACTION_CLOSE, needs
			// CAP_SYS_TTY_CONFIG, NULL paths
		}
		_, _, errno := unix.Syscall6(uintptr(nr), uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
		rec("deny list: "+s.Name, denied(errno))
	}
	// clone with each namespace flag, as a process (SIGCHLD): the filter
	// checks the flags in the register; clone3 is on the deny list.
	for _, ns := range []struct {
		name string
		flag uintptr
	}{
		{"CLONE_NEWUSER", unix.CLONE_NEWUSER}, {"CLONE_NEWNS", unix.CLONE_NEWNS}, {"CLONE_NEWNET", unix.CLONE_NEWNET},
		{"CLONE_NEWPID", unix.CLONE_NEWPID}, {"CLONE_NEWIPC", unix.CLONE_NEWIPC}, {"CLONE_NEWUTS", unix.CLONE_NEWUTS},
		{"CLONE_NEWCGROUP", unix.CLONE_NEWCGROUP},
	} {
		pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD)|ns.flag, 0, 0, 0, 0, 0)
		if errno == 0 && pid == 0 {
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if errno == 0 {
			var ws unix.WaitStatus
			unix.Wait4(int(pid), &ws, 0, nil)
		}
		rec("clone(SIGCHLD|"+ns.name+")", denied(errno))
	}
	// A plain fork is a hook's daily work.
	rec("control: fork and execve /bin/true", func() Record {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
			return Record{Outcome: Error, Observed: "a hook could not run a program: " + err.Error()}
		}
		return Record{Outcome: ByDesign, Observed: "ran (the hook's job)", Layer: "policy"}
	}())

	// Capabilities and no_new_privs.
	rec("capget: any capability", func() Record {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return Record{Outcome: Error, Observed: err.Error()}
		}
		obs := fmt.Sprintf("effective %#x%08x permitted %#x%08x inheritable %#x%08x", data[1].Effective, data[0].Effective, data[1].Permitted, data[0].Permitted, data[1].Inheritable, data[0].Inheritable)
		for _, d := range data {
			if d.Effective|d.Permitted|d.Inheritable != 0 {
				return Record{Outcome: GotThrough, Observed: obs}
			}
		}
		amb := ambient()
		if amb != "0000000000000000" && amb != "" {
			return Record{Outcome: GotThrough, Observed: obs + " ambient " + amb}
		}
		return Record{Outcome: Blocked, Observed: obs + " ambient " + amb, Layer: "caps (dropped at Enter)"}
	}())
	rec("prctl(PR_GET_NO_NEW_PRIVS)", func() Record {
		v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
		if err != nil {
			return Record{Outcome: Error, Observed: err.Error()}
		}
		if v != 1 {
			return Record{Outcome: GotThrough, Observed: fmt.Sprintf("no_new_privs %d", v)}
		}
		return Record{Outcome: Blocked, Observed: "no_new_privs 1", Layer: "no_new_privs"}
	}())
	rec("execve a set-user-ID root id(1) next to the hook", suidRun(prog))

	// The engine's lease and the state directory: read-only to the hook
	// by their owners and modes.
	for _, r := range leaseAttacks() {
		rec(r.Attack, r)
	}

	// Signals to the other roles (other uids; Landlock's signal scope).
	pp := os.Getppid()
	rec("kill(supervisor, 0)", denied2(unix.Kill(pp, 0), "dac (another uid) and landlock (scope.signal)"))
	rec("kill(1, SIGCONT)", denied2(unix.Kill(1, unix.SIGCONT), "dac (another uid) and landlock (scope.signal)"))
	sibs := siblings(pp)
	if len(sibs) == 0 {
		rec("kill(each other role, 0)", Record{Outcome: Error, Observed: "no other role found under the supervisor"})
	}
	for _, sib := range sibs {
		rec(fmt.Sprintf("kill(%s, SIGCONT)", sib.name), denied2(unix.Kill(sib.pid, unix.SIGCONT), "dac (another uid) and landlock (scope.signal)"))
	}
	// ptrace and process_vm_readv of another role: on the deny list.
	for _, sib := range sibs {
		_, _, e := unix.Syscall(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(sib.pid), 0)
		rec(fmt.Sprintf("ptrace(PTRACE_ATTACH, %s)", sib.name), denied(e))
		break
	}
	rec("connect to the abstract UNIX socket @"+AbstractName+" (the harness listens on it)", func() Record {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return Record{Outcome: Error, Observed: err.Error()}
		}
		defer unix.Close(fd)
		sa, n := sockaddrUnix(AbstractName, true)
		_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), uintptr(n))
		switch e {
		case 0:
			return Record{Outcome: GotThrough, Observed: "connected"}
		case unix.EPERM:
			return Record{Outcome: Blocked, Observed: "EPERM", Layer: "landlock (scope.abstract_unix, ABI 6)"}
		}
		return Record{Outcome: Error, Observed: kit.ErrnoName(e) + ": the harness's listener was not reached, so the scope is unproved"}
	}())
	// The foreign architecture (i386 int 0x80 on amd64) is killed by the
	// filter's first instructions: not made here, it would kill the
	// runner mid-battery. The harness checks the live filter for it, and
	// sandbox's TestSeccompDefaultAllow the compiled one.
	emit(Record{Role: role, Attack: "(end)", Outcome: Blocked, Observed: "battery done", End: true})
}

// denied is a deny-list call's record: ENOSYS from the filter.
func denied(errno unix.Errno) Record {
	if errno == sandbox.SeccompDenyErrno {
		return Record{Outcome: Blocked, Observed: "ENOSYS", Layer: "seccomp (deny list)"}
	}
	if errno == 0 {
		return Record{Outcome: GotThrough, Observed: "succeeded"}
	}
	return Record{Outcome: GotThrough, Observed: "reached the kernel: " + kit.ErrnoName(errno)}
}

func denied2(err error, layer string) Record {
	if err == nil {
		return Record{Outcome: GotThrough, Observed: "succeeded"}
	}
	if e, ok := err.(unix.Errno); ok {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(e), Layer: layer}
	}
	return Record{Outcome: Blocked, Observed: err.Error(), Layer: layer}
}

// ambient is the CapAmb line of /proc/self/status.
func ambient() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapAmb:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func suidRun(prog string) Record {
	if prog == "" {
		return Record{Outcome: Error, Observed: "no hook path in the role's configuration"}
	}
	bin := filepath.Join(filepath.Dir(prog), SuidName)
	fi, err := os.Stat(bin)
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		return Record{Outcome: Error, Observed: fmt.Sprintf("no set-user-ID %s: %v", bin, err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-u").Output()
	if err != nil {
		return Record{Outcome: Error, Observed: err.Error()}
	}
	euid := strings.TrimSpace(string(out))
	if euid == "0" {
		return Record{Outcome: GotThrough, Observed: "euid 0"}
	}
	if euid != strconv.Itoa(os.Getuid()) {
		return Record{Outcome: Error, Observed: "euid " + euid + ", not the hook's " + strconv.Itoa(os.Getuid())}
	}
	return Record{Outcome: Blocked, Observed: "euid " + euid + " (the hook's)", Layer: "no_new_privs"}
}

// leaseAttacks find the engine's lease file through the read-only
// descriptor the hook holds, then try to write it, reopen it for
// writing, and create files beside it and in the state directory.
func leaseAttacks() []Record {
	lease := ""
	fdPath := ""
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		p := "/proc/self/fd/" + e.Name()
		if t, err := os.Readlink(p); err == nil && filepath.Base(t) == "lease" {
			lease, fdPath = t, p
			break
		}
	}
	if lease == "" {
		return []Record{{Attack: "write the engine's lease file", Outcome: Error, Observed: "no lease descriptor among the hook's"}}
	}
	ifDir := filepath.Dir(lease)
	stateDir := filepath.Dir(ifDir)
	try := func(attack, path string, flags int) Record {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
		r := Record{Attack: attack}
		if err == nil {
			unix.Close(fd)
			if flags&unix.O_CREAT != 0 {
				os.Remove(path)
			}
			r.Outcome, r.Observed = GotThrough, "opened "+path
			return r
		}
		r.Outcome, r.Observed, r.Layer = Blocked, err.Error(), "dac (owner and mode)"
		if e, ok := err.(unix.Errno); ok {
			r.Observed = kit.ErrnoName(e)
		}
		return r
	}
	return []Record{
		try("open the engine's lease file for writing", lease, unix.O_WRONLY),
		try("reopen the read-only lease descriptor for writing (/proc/self/fd)", fdPath, unix.O_RDWR),
		try("create a file in the interface's state directory", filepath.Join(ifDir, "containment"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY),
		try("create a file in the state directory", filepath.Join(stateDir, "containment"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY),
		try("open the state directory's DUID for writing", filepath.Join(stateDir, "duid"), unix.O_WRONLY),
	}
}

type sibling struct {
	name string
	pid  int
}

// siblings are the supervisor's other children: the other roles, named
// by their command line's role argument when readable, else by pid.
func siblings(parent int) []sibling {
	var out []sibling
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		name := "the role of pid " + e.Name()
		if st, err := os.ReadFile("/proc/" + e.Name() + "/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "Uid:"); ok && len(strings.Fields(v)) > 0 {
					name = "the role of uid " + strings.Fields(v)[0]
				}
			}
		}
		out = append(out, sibling{name: name, pid: pid})
		if len(out) >= 16 {
			break
		}
	}
	return out
}
