//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The control channel of a child started by a [Group] carries, in order:
//
//  1. parent -> child: the setup (policy, degrade list, configuration),
//     sent by [Spawn];
//  2. child -> parent: the ready notice, readyTag then the child's
//     [Report] as JSON, sent by [Inherited.Ready] once the sandbox is in
//     place;
//  3. then messages both ways whose meaning belongs to the program:
//     commands to the child ([Member.Send]), events from it
//     ([Event.Msg]).
//
// End-of-file on the channel is the liveness signal both ways: the parent
// reports the child gone, and the child exits.
const readyTag = 'R'

// marshalReady builds a ready notice.
func marshalReady(rep *Report) ([]byte, error) {
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	return append([]byte{readyTag}, b...), nil
}

// ParseReady decodes a ready notice: the tag, then a [Report] as JSON with
// no unknown field and nothing after it. A child is not trusted to send
// anything else.
func ParseReady(b []byte) (*Report, error) {
	if len(b) == 0 || b[0] != readyTag {
		return nil, errors.New("sandbox: want a ready notice")
	}
	var rep Report
	if err := decodeStrict(b[1:], &rep); err != nil {
		return nil, fmt.Errorf("sandbox: ready notice: %w", err)
	}
	return &rep, nil
}

// ExitPolicy says what a child's exit means to its [Group].
type ExitPolicy uint8

const (
	// ExitFatal children are the fixed roles of a daemon: the exit of any
	// one ends the group (its [Event] has Fatal set), whatever its status.
	ExitFatal ExitPolicy = iota
	// ExitExpected children come and go (a login server's per-connection
	// children): an exit is reported and the group goes on.
	ExitExpected
)

// GroupOptions tune a [Group].
type GroupOptions struct {
	// Degrade is the operator's list of layers every child may start
	// without; it overrides the Degrade of each Spec.
	Degrade []string
	// Log receives the group's own lines; nil means slog.Default().
	Log *slog.Logger
	// ReadyTimeout bounds the time from spawn to ready notice; zero means
	// 10 seconds.
	ReadyTimeout time.Duration
	// MaxMessage bounds the messages children may send after their ready
	// notice; a longer one ends the child. Zero means 4096 bytes.
	MaxMessage int
	// Signals are delivered as events instead of their default action, so
	// that the program relays them (for example SIGTERM as a stop command
	// to one child).
	Signals []os.Signal
	// Output, when set, receives every line a child writes to its
	// standard error, which is then a pipe to the group rather than the
	// parent's stderr: no child holds the terminal or the log file, and
	// no limit of the child's (RLIMIT_FSIZE) applies to what it logs.
	// A child never blocks on its log: when Output falls behind by
	// MaxOutputLines lines of one child, that child's further lines are
	// dropped and counted. Output is called from one goroutine per child
	// and must be safe for concurrent use. A child's Exited event comes
	// after its last line.
	Output func(OutputLine)
	// Kills, when set, names the system call of a child that seccomp
	// killed (Event.Syscall).
	Kills *KillLog
}

// OutputLine is one line a child wrote to its standard error.
type OutputLine struct {
	Member *Member
	// Text is the line without its newline. It is only valid during the
	// call.
	Text []byte
	// Cut is set when the line was longer than MaxOutputLine bytes: Text
	// is its first part, and the rest comes as further lines.
	Cut bool
	// Dropped counts this child's lines dropped before this one.
	Dropped int
}

// Bounds of the output relay.
const (
	MaxOutputLine  = 4096
	MaxOutputLines = 256
)

// Group supervises children started from one parent: it spawns them, waits
// for each one's ready notice, then reports what they send, how they exit,
// and the signals the parent receives, as [Event] values in one channel.
type Group struct {
	opts   GroupOptions
	events chan Event
	sigs   chan os.Signal

	mu      sync.Mutex
	members []*Member
	closed  bool
}

// Member is one child of a group.
type Member struct {
	*Child
	// Report is what the child's kernel said after it entered its
	// sandbox, from its ready notice.
	Report *Report
	// Exit says whether the child's exit ends the group.
	Exit ExitPolicy

	// outputDone is closed when the child's last line was handed to
	// GroupOptions.Output (at once when there is no relay).
	outputDone chan struct{}
}

// Send sends the child one message on its control channel.
func (m *Member) Send(msg []byte) error { return Send(m.Ctl, msg) }

// Event is one thing that happened in a group: exactly one of Msg, Exited
// and Signal is set.
type Event struct {
	// Member is the child concerned (nil for a signal).
	Member *Member
	// Msg is a message the child sent after its ready notice.
	Msg []byte
	// Exited is set when the child has exited; Err is how (nil: status 0).
	Exited bool
	Err    error
	// Fatal is set on the exit of an ExitFatal child.
	Fatal bool
	// Syscall names the system call seccomp killed the child for, when
	// GroupOptions.Kills could find it in the kernel's log.
	Syscall string
	// Signal is a signal from GroupOptions.Signals that the parent got.
	Signal os.Signal
}

// NewGroup returns an empty group. It starts relaying o.Signals at once.
func NewGroup(o GroupOptions) *Group {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 4096
	}
	g := &Group{opts: o, events: make(chan Event, 16)}
	if len(o.Signals) > 0 {
		g.sigs = make(chan os.Signal, 4)
		signal.Notify(g.sigs, o.Signals...)
		go func() {
			for s := range g.sigs {
				g.events <- Event{Signal: s}
			}
		}()
	}
	return g
}

// Events returns the channel of the group's events.
func (g *Group) Events() <-chan Event { return g.events }

// Members returns the children that have not been reported exited.
func (g *Group) Members() []*Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Member(nil), g.members...)
}

// ReadyError says that a child did not reach its ready notice.
type ReadyError struct {
	Role string
	Pid  int
	// Exit describes how the child ended, when it did.
	Exit string
	Err  error
}

func (e *ReadyError) Error() string {
	if e.Exit != "" {
		return fmt.Sprintf("sandbox: %s failed to start (%s): %v", e.Role, e.Exit, e.Err)
	}
	return fmt.Sprintf("sandbox: %s sent no ready notice: %v", e.Role, e.Err)
}

func (e *ReadyError) Unwrap() error { return e.Err }

// Start spawns every spec, its forks in the order of specs, and waits for
// each ready notice. The members come back in the order of specs. The
// files of each spec are closed in the parent. On error, every child this
// call started is killed; children started before stay. A held child
// ([Spec.Hold]) gets its go once every fork is done.
func (g *Group) Start(exit ExitPolicy, specs ...Spec) ([]*Member, error) {
	return g.StartThen(exit, nil, specs...)
}

// StartThen is [Start] that calls then, when not nil, once every child is
// forked and before any is let go: the held children ([Spec.Hold]) get
// their go only after then returned, and none at all if it failed (the
// children are killed and its error returned). A parent that enters its
// own sandbox in then is sandboxed before a held child begins its work,
// while the children's start-up and its own run in parallel.
func (g *Group) StartThen(exit ExitPolicy, then func() error, specs ...Spec) ([]*Member, error) {
	var started []*Member
	fail := func(err error) ([]*Member, error) {
		for _, m := range started {
			m.Ctl.Close()
			m.Kill()
		}
		return nil, err
	}
	// Each on a goroutine of its own, so that what precedes a fork (the
	// setup message, the pipes, the forking thread and its bounding set)
	// overlaps the others'. The forks themselves are serial whatever
	// is done (the runtime's fork lock, and each waits for its child's
	// exec), so they are made to happen in the order of specs: a caller
	// lists first what its critical path needs first.
	members := make([]*Member, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	prev := make(chan struct{})
	close(prev)
	for i, s := range specs {
		after, forked := prev, make(chan struct{})
		wg.Go(func() { members[i], errs[i] = g.spawn(exit, s, after, forked) })
		prev = forked
	}
	wg.Wait()
	for _, m := range members {
		if m != nil {
			started = append(started, m)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if then != nil {
		if err := then(); err != nil {
			return fail(err)
		}
	}
	for i, m := range started {
		// A child that is already gone cannot take its go: its ready
		// notice, read below, says what happened.
		if specs[i].Hold {
			Send(m.Ctl, []byte(goMessage))
		}
	}
	for _, m := range started {
		m.Ctl.SetReadDeadline(time.Now().Add(g.opts.ReadyTimeout))
		b, err := RecvUpTo(m.Ctl, maxSetupSize)
		if err == nil {
			m.Report, err = ParseReady(b)
		}
		if err != nil {
			re := &ReadyError{Role: m.Role, Pid: m.Pid(), Err: err}
			// The child may be on its way out: its status says why.
			select {
			case <-m.Done():
				re.Exit = DescribeExit(m.Err())
				// And its last lines, which say why.
				select {
				case <-m.outputDone:
				case <-time.After(time.Second):
				}
			case <-time.After(time.Second):
			}
			return fail(re)
		}
		m.Ctl.SetReadDeadline(time.Time{})
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return fail(errors.New("sandbox: group closed"))
	}
	g.members = append(g.members, started...)
	g.mu.Unlock()
	for _, m := range started {
		go g.watch(m)
	}
	return started, nil
}

// spawn starts one child of Start, with its output relayed when the group
// has an Output. The spec's files are closed in the parent.
func (g *Group) spawn(exit ExitPolicy, s Spec, after <-chan struct{}, forked chan<- struct{}) (*Member, error) {
	var once sync.Once
	done := func() { once.Do(func() { close(forked) }) }
	defer done() // on every path, even one that never forks
	if g.opts.Degrade != nil {
		s.Degrade = g.opts.Degrade
	}
	var out *os.File
	if g.opts.Output != nil {
		r, w, err := os.Pipe()
		if err != nil {
			for _, f := range s.Files {
				f.File.Close()
			}
			return nil, err
		}
		s.Stderr, out = w, r
	}
	c, err := spawnOrdered(s, after, done)
	for _, f := range s.Files {
		f.File.Close()
	}
	if s.Stderr != nil {
		s.Stderr.Close()
	}
	if err != nil {
		if out != nil {
			out.Close()
		}
		return nil, err
	}
	m := &Member{Child: c, Exit: exit, outputDone: make(chan struct{})}
	if out != nil {
		go g.relay(m, out)
	} else {
		close(m.outputDone)
	}
	return m, nil
}

// watch turns a member's messages and its exit into events. A message
// over the bound, or any receive error, ends the child: a parent does not
// guess what a broken child meant.
func (g *Group) watch(m *Member) {
	for {
		msg, err := RecvUpTo(m.Ctl, g.opts.MaxMessage)
		if err != nil {
			if !errors.Is(err, ErrPeerClosed) && !errors.Is(err, net.ErrClosed) {
				g.opts.Log.Error("child broke its control channel; killing it", "child", m.Role, "pid", m.Pid(), "err", err)
				m.Kill()
			}
			break
		}
		g.events <- Event{Member: m, Msg: msg}
	}
	// End-of-file: the child is exiting. One that closed its channel and
	// lingers is killed.
	select {
	case <-m.Done():
	case <-time.After(2 * time.Second):
		m.Kill()
		<-m.Done()
	}
	// Its last lines first; a child cannot hand its stderr to anyone
	// else, so the pipe ends with it.
	select {
	case <-m.outputDone:
	case <-time.After(2 * time.Second):
	}
	g.mu.Lock()
	for i, x := range g.members {
		if x == m {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	g.mu.Unlock()
	ev := Event{Member: m, Exited: true, Err: m.Err(), Fatal: m.Exit == ExitFatal}
	if killedBySIGSYS(ev.Err) {
		ev.Syscall, _ = g.opts.Kills.Syscall(m.Pid())
	}
	g.events <- ev
}

// killedBySIGSYS reports an exit by SIGSYS: seccomp's kill.
func killedBySIGSYS(err error) bool {
	var ee *ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGSYS
}

// relay reads a child's stderr line by line into a bounded queue, which a
// second goroutine hands to GroupOptions.Output, so that a slow Output
// never makes the child block on a write.
func (g *Group) relay(m *Member, r *os.File) {
	type line struct {
		text    []byte
		cut     bool
		dropped int
	}
	q := make(chan line, MaxOutputLines)
	go func() {
		defer close(m.outputDone)
		for l := range q {
			g.opts.Output(OutputLine{Member: m, Text: l.text, Cut: l.cut, Dropped: l.dropped})
		}
	}()
	defer close(q)
	defer r.Close()
	br := bufio.NewReaderSize(r, MaxOutputLine)
	dropped := 0
	for {
		b, err := br.ReadSlice('\n')
		cut := errors.Is(err, bufio.ErrBufferFull)
		if len(b) > 0 {
			l := line{text: bytes.Clone(bytes.TrimSuffix(b, []byte("\n"))), cut: cut, dropped: dropped}
			select {
			case q <- l:
				dropped = 0
			default:
				dropped++
			}
		}
		if err != nil && !cut {
			if dropped > 0 {
				// The child is gone: waiting for room is fine now.
				q <- line{dropped: dropped}
			}
			return
		}
	}
}

// Close ends every child: closing a control channel makes the child exit,
// and the parent-death signal covers the rest when the parent exits. It
// stops relaying signals. Events already queued can still be read.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	ms := append([]*Member(nil), g.members...)
	g.mu.Unlock()
	for _, m := range ms {
		m.Ctl.Close()
	}
	if g.sigs != nil {
		signal.Stop(g.sigs)
	}
}

// Wait waits up to d for every child to be reported exited, discarding
// other events, and kills those still running after that.
func (g *Group) Wait(d time.Duration) {
	deadline := time.After(d)
	for len(g.Members()) > 0 {
		select {
		case <-g.events:
		case <-deadline:
			for _, m := range g.Members() {
				m.Kill()
			}
			return
		}
	}
}

// DescribeExit says how a child ended, for logs: "exit 0", "exit status
// 3", "killed by SIGSEGV", and for SIGSYS that a system call outside the
// seccomp allowlist killed it.
func DescribeExit(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee interface{ Sys() any }
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if ws.Signal() == syscall.SIGSYS {
				return "killed by SIGSYS: a system call outside its seccomp allowlist"
			}
			return "killed by " + unix.SignalName(ws.Signal())
		}
	}
	return err.Error()
}

// Prewarm starts, in the background, the one-time checks the os package
// makes on a process's first os.StartProcess, so that a daemon's first
// [Spawn] or [Group.Start] does not wait for them. On Linux, Go probes
// whether pidfds work by forking a throwaway child and reaping it: 3 ms
// measured on a machine slow to fork, on the critical path of every
// start-up. Call it first thing, while the daemon does its other
// preparations; it is harmless to call more than once, and it runs
// nothing but the probe (os.FindProcess of the process itself). [Enter]
// waits for it to finish: its system calls are not on any allowlist.
func Prewarm() {
	prewarming.Go(func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Release()
		}
	})
}

// prewarming is Prewarm's work in progress.
var prewarming sync.WaitGroup
