//go:build linux

package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Limits of the runner.
const (
	// QueueLen is how many events may wait for the run in progress; one
	// more is dropped, counted and logged.
	QueueLen = 32
	// MaxLine bounds a line of a hook's output in the log; a longer one
	// is cut.
	MaxLine = 512
	// MaxLines bounds the lines of one run in the log; the rest are
	// counted.
	MaxLines = 100
	// leaseWait bounds the wait for the engine to write the lease of a
	// bound, renewed or rebound event: it reports the configured lease
	// before it saves it.
	leaseWait = 2 * time.Second
)

// Env is a hook's whole environment besides NDHC_EVENT and
// NDHC_INTERFACE.
const Env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// Runner runs one hook program.
type Runner struct {
	// Path is the program, checked by CheckPath.
	Path      string
	Interface string
	Timeout   time.Duration
	// Lease is the engine's lease file, read-only; nil: no lease is ever
	// given.
	Lease *os.File
	Log   *slog.Logger

	dropped atomic.Uint64
	// last is the lease of the latest bound, renewed or rebound event.
	last *client.Lease
}

// Serve reads the supervisor's messages from conn and runs the hook for
// each, in order, one at a time, until the supervisor's last message or
// its end of the channel (nil: what was queued has run). A malformed
// message is an error: the supervisor is broken, and the role exits.
func (r *Runner) Serve(conn *net.UnixConn) error {
	// The hook's parent-death signal belongs to the thread that starts
	// it: every run starts from this one.
	runtime.LockOSThread()
	queue := make(chan Message, QueueLen)
	errc := make(chan error, 1)
	go func() {
		defer close(queue)
		for {
			b, err := sandbox.RecvUpTo(conn, Size)
			if errors.Is(err, sandbox.ErrPeerClosed) {
				return
			}
			if err != nil {
				errc <- err
				return
			}
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				errc <- err
				return
			}
			if m.IsEnd() {
				return
			}
			select {
			case queue <- m:
			default:
				n := r.dropped.Add(1)
				r.Log.Warn("hook queue full; event dropped", "event", m.Kind.String(), "queue", QueueLen, "dropped", n)
			}
		}
	}()
	for m := range queue {
		select {
		case err := <-errc:
			return err
		default:
		}
		r.Run(m)
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// Input builds the hook's input for m.
func (r *Runner) Input(m Message) Input {
	in := Input{Event: m.Kind.String(), Interface: r.Interface, Time: m.Time.UTC(), Dropped: r.dropped.Swap(0)}
	if m.Addr.IsValid() {
		in.Address = m.Addr.Addr().String()
	}
	in.Lease = leaseInput(r.leaseFor(m))
	return in
}

// Run runs the hook once for m and waits for it, bounded by the timeout.
// Its exit status is logged, never acted on.
func (r *Runner) Run(m Message) {
	in := r.Input(m)
	stdin, err := json.Marshal(in)
	if err != nil {
		r.Log.Error("hook input", "event", in.Event, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	out := &lineLog{log: r.Log, event: in.Event}
	cmd := exec.CommandContext(ctx, r.Path, in.Event, r.Interface)
	cmd.Env = []string{Env, "NDHC_EVENT=" + in.Event, "NDHC_INTERFACE=" + r.Interface}
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(append(stdin, '\n'))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A program left in the background holding the output open does not
	// hold the runner.
	cmd.WaitDelay = time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Log.Error("hook could not start", "event", in.Event, "err", err)
		return
	}
	err = cmd.Wait()
	// Whatever the hook left in its process group ends with the run.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out.flush()
	attrs := []any{"event", in.Event, "pid", cmd.Process.Pid, "status", cmd.ProcessState.String(), "duration", time.Since(start).Round(time.Millisecond)}
	switch {
	case ctx.Err() != nil:
		r.Log.Warn("hook timed out; its process group was killed", append(attrs, "timeout", r.Timeout)...)
	case err != nil:
		r.Log.Warn("hook failed", append(attrs, "err", err)...)
	default:
		r.Log.Info("hook ran", attrs...)
	}
}

// leaseFor is the lease m concerns: for bound, renewed and rebound the
// lease the engine saves right after it reports the event (waited for,
// bounded); for the others the file's lease, else the last one seen.
func (r *Runner) leaseFor(m Message) *client.Lease {
	if r.Lease == nil {
		return nil
	}
	switch m.Kind {
	case Bound, Renewed, Rebound:
		deadline := time.Now().Add(leaseWait)
		for {
			l, err := r.readLease()
			if err == nil && l != nil && r.fresh(l, m) {
				r.last = l
				return l
			}
			if time.Now().After(deadline) {
				if err != nil {
					r.Log.Warn("lease file malformed; the hook gets the event without a lease", "event", m.Kind.String(), "err", err)
				} else {
					r.Log.Warn("lease file not updated for the event; the hook gets it without a lease", "event", m.Kind.String())
				}
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	l, err := r.readLease()
	if err != nil {
		r.Log.Warn("lease file malformed; the hook gets the last lease seen", "event", m.Kind.String(), "err", err)
	}
	if l != nil {
		return l
	}
	return r.last
}

// fresh reports whether l is the lease of bind event m: its address, and
// acquired after the last lease handed to a hook and at most a minute
// before the event (a restart's old lease file is not the new lease).
func (r *Runner) fresh(l *client.Lease, m Message) bool {
	if l.Addr.Addr() != m.Addr.Addr() {
		return false
	}
	if r.last != nil && !l.Acquired.After(r.last.Acquired) {
		return false
	}
	return !l.Acquired.Before(m.Time.Add(-time.Minute))
}

// readLease reads the whole lease file from its start; nil for an empty
// file. The engine writes it: it is decoded strictly and bounded.
func (r *Runner) readLease() (*client.Lease, error) {
	if r.Lease == nil {
		return nil, nil
	}
	buf := make([]byte, client.MaxLeaseFile+1)
	n, err := r.Lease.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	if n > client.MaxLeaseFile {
		return nil, fmt.Errorf("lease file over %d bytes", client.MaxLeaseFile)
	}
	return client.ParseLease(buf[:n])
}

// lineLog logs a hook's output line by line, each line bounded, at most
// MaxLines a run.
type lineLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	event   string
	buf     []byte
	lines   int
	dropped int
}

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := MaxLine + 1 - len(w.buf)
			if room > 0 {
				w.buf = append(w.buf, p[:min(room, len(p))]...)
			}
			break
		}
		if room := MaxLine + 1 - len(w.buf); room > 0 {
			w.buf = append(w.buf, p[:min(room, i)]...)
		}
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineLog) emit() {
	line := w.buf
	w.buf = w.buf[:0]
	if w.lines >= MaxLines {
		w.dropped++
		return
	}
	w.lines++
	cut := len(line) > MaxLine
	if cut {
		line = line[:MaxLine]
	}
	w.log.Info("hook output", "event", w.event, "line", string(line), "cut", cut)
}

func (w *lineLog) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
	if w.dropped > 0 {
		w.log.Warn("hook output cut", "event", w.event, "lines_dropped", w.dropped)
	}
}
