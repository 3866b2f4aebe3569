//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables through which Spawn tells a child what it is. They
// are the only variables a child gets.
const (
	envRole = "SANDBOX_ROLE"
	envFDs  = "SANDBOX_FDS"
	envPPID = "SANDBOX_PPID"
)

// maxPolicySize bounds the policy message a child accepts from its parent.
const maxPolicySize = 64 << 10

// File is a descriptor handed to a child under a name.
type File struct {
	Name string
	File *os.File
}

// Child is a running role started by Spawn.
type Child struct {
	Role string
	// Ctl is the parent's end of the control channel, a SOCK_SEQPACKET
	// socket: reading end-of-file from it means the child is gone.
	Ctl *net.UnixConn
	cmd *exec.Cmd

	done chan struct{}
	mu   sync.Mutex
	err  error
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed when the child process has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err returns how the child exited, once Done is closed.
func (c *Child) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Kill ends the child with SIGKILL.
func (c *Child) Kill() error { return c.cmd.Process.Kill() }

// Spawn re-executes the running binary (/proc/self/exe) as role, with a
// clean environment, stdin on /dev/null and stderr shared. The child gets a
// control channel (a SOCK_SEQPACKET socketpair) on which the first message
// is the policy p, and the files under their names. SIGKILL is delivered to
// the child if the spawning thread (kept locked for the call) or the parent
// dies; the child must call [Inherited.Enter] before anything else.
func Spawn(role string, p Policy, files ...File) (*Child, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if role == "" || strings.ContainsAny(role, ",: =") {
		return nil, fmt.Errorf("sandbox: bad role name %q", role)
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if len(pj) > maxPolicySize {
		return nil, fmt.Errorf("sandbox: policy %s too large (%d bytes)", p.Role, len(pj))
	}
	mine, theirs, err := SeqpacketPair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	ctl, err := UnixConn(mine)
	if err != nil {
		theirs.Close()
		return nil, err
	}
	extra := []*os.File{theirs}
	names := []string{"ctl:3"}
	for i, f := range files {
		if f.Name == "" || f.Name == "ctl" || strings.ContainsAny(f.Name, ",: =") {
			ctl.Close()
			return nil, fmt.Errorf("sandbox: bad file name %q", f.Name)
		}
		extra = append(extra, f.File)
		names = append(names, fmt.Sprintf("%s:%d", f.Name, 4+i))
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{os.Args[0] + "-" + role},
		Env:        []string{envRole + "=" + role, envFDs + "=" + strings.Join(names, ","), envPPID + "=" + strconv.Itoa(os.Getpid())},
		Stderr:     os.Stderr,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
		},
	}
	keep, _ := CapMask(p.Caps)
	c := &Child{Role: role, Ctl: ctl, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go c.parent(keep|setupCaps, started)
	if err := <-started; err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sandbox: spawn %s: %w", role, err)
	}
	if err := Send(ctl, pj); err != nil {
		c.Kill()
		ctl.Close()
		return nil, err
	}
	return c, nil
}

// setupCaps are the capabilities a child needs to enter its sandbox:
// chroot, setgroups/setgid/setuid, securebits and bounding-set changes,
// and opening the files it holds before the drop.
var setupCaps = func() uint64 {
	m, _ := CapMask([]string{"CAP_SYS_CHROOT", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"})
	return m
}()

// parent runs on an OS thread of its own for the child's whole life: the
// parent-death signal fires when the thread that forked the child exits,
// so the thread stays locked until the child is gone (Go ends a thread
// whose goroutine exits locked). Before forking, it narrows its own
// bounding set to what the child may keep plus what the child needs to
// enter its sandbox: the child inherits that set, so Enter drops a handful
// of capabilities on every thread instead of nearly all of them (each
// all-thread call stops the world; measured, the full loop took 10 ms of a
// role's 15 ms start-up).
func (c *Child) parent(keep uint64, started chan<- error) {
	runtime.LockOSThread()
	if last, err := readLastCap(); err == nil {
		for i := 0; i <= last; i++ {
			if keep&(1<<i) == 0 {
				// Best effort: an unprivileged parent cannot, and its
				// child then fails in Enter with a clear error anyway.
				unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0)
			}
		}
	}
	if err := c.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	err := c.cmd.Wait()
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

// Inherited is what a spawned child received from its parent.
type Inherited struct {
	Role   string
	Policy Policy
	// Ctl is the child's end of the control channel.
	Ctl       *net.UnixConn
	ParentPID int
	files     map[string]*os.File
}

// IsChild reports whether this process was started by Spawn, and as which
// role.
func IsChild() (string, bool) {
	r := os.Getenv(envRole)
	return r, r != ""
}

// Inherit collects what Spawn handed to this process: the role, the named
// descriptors and the policy (the first message on the control channel).
// Any inconsistency is an error: the process must exit.
func Inherit() (*Inherited, error) {
	role, ok := IsChild()
	if !ok {
		return nil, errors.New("sandbox: not started by Spawn")
	}
	ppid, err := strconv.Atoi(os.Getenv(envPPID))
	if err != nil || ppid != os.Getppid() {
		return nil, fmt.Errorf("sandbox: parent pid %q does not match %d", os.Getenv(envPPID), os.Getppid())
	}
	in := &Inherited{Role: role, ParentPID: ppid, files: map[string]*os.File{}}
	for item := range strings.SplitSeq(os.Getenv(envFDs), ",") {
		name, num, ok := strings.Cut(item, ":")
		fd, err := strconv.Atoi(num)
		if !ok || err != nil || fd < 3 || in.files[name] != nil {
			return nil, fmt.Errorf("sandbox: malformed %s entry %q", envFDs, item)
		}
		syscall.CloseOnExec(fd)
		in.files[name] = os.NewFile(uintptr(fd), name)
	}
	ctlFile := in.files["ctl"]
	if ctlFile == nil {
		return nil, errors.New("sandbox: no control channel")
	}
	delete(in.files, "ctl")
	if in.Ctl, err = UnixConn(ctlFile); err != nil {
		return nil, err
	}
	if err := CheckPeer(in.Ctl, uint32(os.Getuid()), ppid); err != nil {
		return nil, fmt.Errorf("sandbox: control channel: %w", err)
	}
	pj, err := RecvUpTo(in.Ctl, maxPolicySize)
	if err != nil {
		return nil, fmt.Errorf("sandbox: reading policy: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(pj)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in.Policy); err != nil {
		return nil, fmt.Errorf("sandbox: decoding policy: %w", err)
	}
	if err := in.Policy.Validate(); err != nil {
		return nil, err
	}
	return in, nil
}

// File returns the descriptor passed under name; each can be taken once.
func (in *Inherited) File(name string) (*os.File, error) {
	f := in.files[name]
	if f == nil {
		return nil, fmt.Errorf("sandbox: role %s: no file %q from the parent", in.Role, name)
	}
	delete(in.files, name)
	return f, nil
}

// Enter applies the inherited policy, checking that the parent still lives
// after the uid change. Descriptors that were passed but not taken with File
// are closed first: a role holds only what it uses.
func (in *Inherited) Enter(o Options) (*Report, error) {
	for name, f := range in.files {
		f.Close()
		delete(in.files, name)
	}
	o.ParentPID = in.ParentPID
	return Enter(in.Policy, o)
}
