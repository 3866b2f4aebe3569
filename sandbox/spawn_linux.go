//go:build linux

package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables through which Spawn tells a child what it is. They
// and TZ are the only variables a child gets, with GOMAXPROCS when its
// policy sets [Policy.GoMaxProcs].
const (
	envRole = "SANDBOX_ROLE"
	envFDs  = "SANDBOX_FDS"
	envPPID = "SANDBOX_PPID"
)

// maxSetupSize bounds the setup message (policy, degrade list,
// configuration) a child accepts from its parent.
const maxSetupSize = 64 << 10

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
	Ctl  *net.UnixConn
	path string
	argv []string
	attr *os.ProcAttr
	proc *os.Process

	done chan struct{}
	mu   sync.Mutex
	err  error
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.proc.Pid }

// Done is closed when the child process has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err returns how the child exited, once Done is closed.
func (c *Child) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Kill ends the child with SIGKILL.
func (c *Child) Kill() error { return c.proc.Kill() }

// Spec describes a child to start with [Spawn].
type Spec struct {
	// Role names the child; the binary learns it from [IsChild].
	Role string
	// Policy is the sandbox the child enters with [Inherited.Enter].
	Policy Policy
	// Files are handed to the child under their names.
	Files []File
	// Degrade lists the layers the child may start without (see
	// [Options.Degrade]); the child's Enter applies exactly this list, so
	// an operator's choice reaches every child and a child cannot widen it.
	Degrade []string
	// Config is the child's own configuration, sent as JSON in the setup
	// message and decoded strictly by [Inherited.Config]. Nil sends none.
	Config any
	// Stderr is the child's standard error; nil shares the parent's.
	Stderr *os.File
	// Program is the absolute path of the binary to execute, for a child
	// that cannot be the running binary (one linked with cgo for a C
	// library); empty re-executes the running binary (/proc/self/exe).
	// The program must call [Inherit] like any child.
	Program string
	// Privileged starts a child that keeps the parent's credentials and
	// capabilities and enters no sandbox (a login daemon's session
	// process, which must stay root to start commands as the user). Its
	// Policy must be empty but for Role; [Inherited.Ready] then reports
	// the child's credentials without applying anything. Such a child is
	// trusted like the parent: never hand it to untrusted input.
	Privileged bool
	// Hold makes the child wait, once its ready notice is sent, for the
	// parent's go before [Inherited.Ready] returns: the parent decides
	// when the child may begin its work (for example, not before the
	// parent itself is sandboxed). [Group.StartThen] sends it.
	Hold bool
}

// goMessage is the parent's go to a held child.
const goMessage = "G"

// setup is the first message on a child's control channel.
type setup struct {
	Policy     Policy          `json:"policy"`
	Privileged bool            `json:"privileged,omitempty"`
	Degrade    []string        `json:"degrade,omitempty"`
	Config     json.RawMessage `json:"config,omitempty"`
	Hold       bool            `json:"hold,omitempty"`
}

// Spawn re-executes the running binary (/proc/self/exe) as s.Role, with a
// clean environment, stdin on /dev/null and stderr shared. The child gets a
// control channel (a SOCK_SEQPACKET socketpair) whose first message is the
// setup: the policy, the degrade list and the configuration. The files are
// handed under their names. SIGKILL is delivered to the child if the
// spawning thread (kept locked for the call) or the parent dies; the child
// must call [Inherited.Enter] before anything else.
func Spawn(s Spec) (*Child, error) { return spawnOrdered(s, nil, nil) }

// spawnOrdered is Spawn whose fork waits for after to be closed (when not
// nil) and then calls forked (when not nil) once the fork is done or has
// failed.
func spawnOrdered(s Spec, after <-chan struct{}, forked func()) (*Child, error) {
	p := s.Policy
	role := s.Role
	if s.Privileged {
		if !reflect.DeepEqual(p, Policy{Role: p.Role}) {
			return nil, fmt.Errorf("sandbox: privileged child %s with a policy", role)
		}
	} else if err := p.Validate(); err != nil {
		return nil, err
	}
	if s.Program != "" && !filepath.IsAbs(s.Program) {
		return nil, fmt.Errorf("sandbox: program %q of %s is not an absolute path", s.Program, role)
	}
	if role == "" || strings.ContainsAny(role, ",: =") {
		return nil, fmt.Errorf("sandbox: bad role name %q", role)
	}
	if _, err := ParseLayers(strings.Join(s.Degrade, ",")); err != nil {
		return nil, err
	}
	su := setup{Policy: p, Privileged: s.Privileged, Degrade: s.Degrade, Hold: s.Hold}
	if s.Config != nil {
		cj, err := json.Marshal(s.Config)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %s configuration: %w", role, err)
		}
		su.Config = cj
	}
	pj, err := json.Marshal(su)
	if err != nil {
		return nil, err
	}
	if len(pj) > maxSetupSize {
		return nil, fmt.Errorf("sandbox: setup of %s too large (%d bytes)", role, len(pj))
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
	for i, f := range s.Files {
		if f.Name == "" || f.Name == "ctl" || strings.ContainsAny(f.Name, ",: =") {
			ctl.Close()
			return nil, fmt.Errorf("sandbox: bad file name %q", f.Name)
		}
		extra = append(extra, f.File)
		names = append(names, fmt.Sprintf("%s:%d", f.Name, 4+i))
	}
	// os.StartProcess rather than os/exec: the framework never runs other
	// programs, and a package built on it (a role) should not pull in
	// the machinery to do so.
	null, err := os.Open(os.DevNull)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer null.Close()
	attr := &os.ProcAttr{
		Env:   childEnv(role, names, p.GoMaxProcs),
		Files: append([]*os.File{null, null, cmp.Or(s.Stderr, os.Stderr)}, extra...),
		Sys: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
		},
	}
	keep, _ := CapMask(p.Caps)
	keep |= setupCaps
	if s.Privileged {
		keep = ^uint64(0)
	}
	c := &Child{Role: role, Ctl: ctl, path: cmp.Or(s.Program, "/proc/self/exe"), argv: []string{os.Args[0] + "-" + role}, attr: attr, done: make(chan struct{})}
	started := make(chan error, 1)
	go c.parent(keep, after, forked, started)
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

// childEnv is a child's whole environment: what Spawn tells it, TZ, so
// that a role's log lines carry the same time zone as its parent's, and
// GOMAXPROCS when the policy sets it (read by the runtime before main).
func childEnv(role string, names []string, maxProcs int) []string {
	env := []string{envRole + "=" + role, envFDs + "=" + strings.Join(names, ","), envPPID + "=" + strconv.Itoa(os.Getpid())}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	if maxProcs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(maxProcs))
	}
	return env
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
func (c *Child) parent(keep uint64, after <-chan struct{}, forked func(), started chan<- error) {
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
	if after != nil {
		<-after
	}
	proc, err := os.StartProcess(c.path, c.argv, c.attr)
	if forked != nil {
		forked()
	}
	if err != nil {
		started <- err
		return
	}
	c.proc = proc
	started <- nil
	state, err := proc.Wait()
	if err == nil && !state.Success() {
		err = &ExitError{state}
	}
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

// ExitError reports a child that did not exit with status 0.
type ExitError struct{ *os.ProcessState }

func (e *ExitError) Error() string { return e.ProcessState.String() }

// parseFDs reads SANDBOX_FDS: comma-separated NAME:FD, each name once,
// each descriptor above stderr and once.
func parseFDs(s string) (map[string]int, error) {
	out := map[string]int{}
	seen := map[int]bool{}
	for item := range strings.SplitSeq(s, ",") {
		name, num, ok := strings.Cut(item, ":")
		fd, err := strconv.Atoi(num)
		if !ok || err != nil || fd < 3 || name == "" || strings.ContainsAny(name, ",: =") || seen[fd] {
			return nil, fmt.Errorf("sandbox: malformed %s entry %q", envFDs, item)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("sandbox: %s names %q twice", envFDs, name)
		}
		out[name], seen[fd] = fd, true
	}
	return out, nil
}

// Inherited is what a spawned child received from its parent.
type Inherited struct {
	Role   string
	Policy Policy
	// Ctl is the child's end of the control channel.
	Ctl       *net.UnixConn
	ParentPID int
	// Degrade is the parent's list of layers this child may miss.
	Degrade []string
	// Privileged says the parent started this child with
	// [Spec.Privileged]: it enters no sandbox.
	Privileged bool
	config     json.RawMessage
	hold       bool // wait for the parent's go after the ready notice
	files      map[string]*os.File
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
	fds, err := parseFDs(os.Getenv(envFDs))
	if err != nil {
		return nil, err
	}
	// Anything else that survived the exec came from further up (what the
	// parent itself inherited without close-on-exec): a child holds its
	// named descriptors and nothing else, whoever its parent is.
	if err := CloseInherited(slices.Collect(maps.Values(fds))...); err != nil {
		return nil, err
	}
	for name, fd := range fds {
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
	pj, err := RecvUpTo(in.Ctl, maxSetupSize)
	if err != nil {
		return nil, fmt.Errorf("sandbox: reading setup: %w", err)
	}
	su, err := parseSetup(pj)
	if err != nil {
		return nil, err
	}
	in.Policy, in.Degrade, in.Privileged, in.config, in.hold = su.Policy, su.Degrade, su.Privileged, su.Config, su.Hold
	ignoreGroupSignals()
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

// Config decodes the configuration the parent sent into v, strictly: an
// unknown field, trailing data or a missing configuration is an error.
func (in *Inherited) Config(v any) error {
	if in.config == nil {
		return fmt.Errorf("sandbox: role %s: no configuration from the parent", in.Role)
	}
	if err := decodeStrict(in.config, v); err != nil {
		return fmt.Errorf("sandbox: role %s: configuration: %w", in.Role, err)
	}
	return nil
}

// Enter applies the inherited policy with the parent's degrade list,
// checking that the parent still lives after the uid change. Descriptors
// that were passed but not taken with File are closed first: a role holds
// only what it uses. o.Degrade is ignored: only the parent says what may
// be missing.
func (in *Inherited) Enter(o Options) (*Report, error) {
	if in.Privileged {
		return nil, fmt.Errorf("sandbox: %s is a privileged child and has no policy to enter", in.Role)
	}
	in.closeUntaken()
	o.ParentPID = in.ParentPID
	o.Degrade = in.Degrade
	return Enter(in.Policy, o)
}

// closeUntaken closes the descriptors the child did not take.
func (in *Inherited) closeUntaken() {
	for name, f := range in.files {
		f.Close()
		delete(in.files, name)
	}
}

// privilegedReport is a privileged child's ready report: what the kernel
// says of its credentials, with no layer applied.
func privilegedReport(role string) (*Report, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	st, err := ParseStatus(b)
	if err != nil {
		return nil, err
	}
	abi, _ := LandlockABI()
	return &Report{Role: role, Status: st, ThreadsChecked: 1, LandlockABI: abi}, nil
}

// Ready enters the sandbox (as [Inherited.Enter]) and sends the parent the
// ready notice carrying the report. The parent's [Group] waits for it.
//
// A privileged child ([Spec.Privileged]) enters nothing: its notice
// reports its credentials and capabilities as the kernel shows them.
func (in *Inherited) Ready(o Options) (*Report, error) {
	var rep *Report
	var err error
	if in.Privileged {
		in.closeUntaken()
		rep, err = privilegedReport(in.Role)
	} else {
		rep, err = in.Enter(o)
	}
	if err != nil {
		return nil, err
	}
	b, err := marshalReady(rep)
	if err != nil {
		return nil, err
	}
	if err := Send(in.Ctl, b); err != nil {
		return nil, err
	}
	if in.hold {
		g, err := RecvUpTo(in.Ctl, len(goMessage))
		if err != nil {
			return nil, fmt.Errorf("sandbox: role %s: waiting for the parent's go: %w", in.Role, err)
		}
		if string(g) != goMessage {
			return nil, fmt.Errorf("sandbox: role %s: the parent sent %q instead of its go", in.Role, g)
		}
	}
	TrimWhenQuiet(o.TrimWhenQuiet)
	return rep, nil
}

// ExitWithParent makes the process exit when the parent goes away (the
// control channel reaches end-of-file: status 0) or sends anything (a
// child that takes no messages: status 1). For children that read their
// control channel themselves, end-of-file there means the same.
func (in *Inherited) ExitWithParent(log *slog.Logger) {
	go func() {
		_, err := RecvUpTo(in.Ctl, 1)
		if errors.Is(err, ErrPeerClosed) {
			log.Info("parent gone; exiting")
			os.Exit(0)
		}
		log.Error("unexpected message from the parent; exiting", "err", err)
		os.Exit(1)
	}()
}

// groupSignals are the signals a terminal or a service manager sends to
// every process of a group or cgroup (Ctrl-C, Ctrl-\, Ctrl-Z, hangup,
// systemctl stop). A child ignores them: its parent receives them too and
// decides, and the child ends when the parent closes the control channel
// or dies.
var groupSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU}

func ignoreGroupSignals() { signal.Ignore(groupSignals...) }

// parseSetup decodes and checks the setup message, the first message a
// child reads from its parent: strict JSON, a valid policy, a degrade list
// of known layers with no repeats.
func parseSetup(b []byte) (setup, error) {
	var su setup
	if err := decodeStrict(b, &su); err != nil {
		return setup{}, fmt.Errorf("sandbox: decoding setup: %w", err)
	}
	if su.Privileged {
		if !reflect.DeepEqual(su.Policy, Policy{Role: su.Policy.Role}) {
			return setup{}, errors.New("sandbox: setup: a privileged child with a policy")
		}
	} else if err := su.Policy.Validate(); err != nil {
		return setup{}, err
	}
	// Each entry exactly one layer, once: what ParseLayers produces.
	for i, d := range su.Degrade {
		if d != LayerLandlock && d != LayerSeccomp || slices.Contains(su.Degrade[:i], d) {
			return setup{}, fmt.Errorf("sandbox: setup: degrade entry %q: want %s or %s, each once", d, LayerLandlock, LayerSeccomp)
		}
	}
	return su, nil
}

// decodeStrict decodes one JSON value with no unknown field and nothing
// after it.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
