//go:build linux && containment

package logincontainment

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/sandbox"
)

// EnvDir, in the daemon's environment, names the harness's directory:
// SelectFile there holds the selection for the next connection, and
// RecordsFile, a FIFO the harness holds open for reading, receives every
// [net]'s records: a pipe, because [net]'s RLIMIT_FSIZE is 0 and a write
// to a regular file would fail with EFBIG. Unset, [net] gets neither,
// runs no attack that ends it, and writes its records on its standard
// error (which the listener relays into its log).
const (
	EnvDir      = "NETLOGIND_CONTAINMENT_DIR"
	SelectFile  = "select"
	RecordsFile = "records"
)

// Names of the descriptors the listener hands [net].
const (
	fileSelect  = "containment-select"
	fileRecords = "containment-records"
)

// maxSelection bounds the selection read, at both ends.
const maxSelection = 4096

// Outcomes of an attack.
const (
	// Blocked: the attack was made and failed.
	Blocked = "blocked"
	// GotThrough: the attack was made and worked.
	GotThrough = "got-through"
	// Kill: [net]'s own filter answers KILL_PROCESS for this call and
	// these arguments, so it was not made here: the harness checks the
	// live filter and makes some of them in connections of their own.
	Kill = "seccomp-kill"
	// Separate: the attack ends [net] or its connection whatever happens;
	// it runs only in a connection of its own.
	Separate = "separate"
	// Armed: the selected attack is about to be made by thread Tid, once
	// the client sends one byte (the harness traces Tid first, to see
	// how it ends).
	Armed = "armed"
	// Step: a step of a selected attack on its way (what came before the
	// part that ends [net]).
	Step = "step"
	// Error: the battery could not make the attack at all.
	Error = "error"
)

// Record is one attack's result, one JSON object a line.
type Record struct {
	// Containment marks the record; always 1.
	Containment int    `json:"containment"`
	Role        string `json:"role"`
	Pid         int    `json:"pid"`
	// Tid is the battery's thread, on the first record and on Armed.
	Tid      int    `json:"tid,omitempty"`
	Attack   string `json:"attack"`
	Outcome  string `json:"outcome"`
	Observed string `json:"observed"`
	Layer    string `json:"layer,omitempty"`
	// Nr and Args are the system call a Kill outcome refers to.
	Nr   int       `json:"nr,omitempty"`
	Args [6]uint64 `json:"args,omitempty"`
	// TLS, on a Separate record, says the attack needs a TLS connection
	// (the listener signs only there).
	TLS bool `json:"tls,omitempty"`
	// Selected, on the first record, is the selection this [net] got.
	Selected *Selection `json:"selected,omitempty"`
	// End marks the last record of a battery.
	End bool `json:"end,omitempty"`
}

// Selection is what the harness asks of one connection's [net].
type Selection struct {
	// Attack is the attack to make for real; empty for none.
	Attack string `json:"attack,omitempty"`
	// Target is another connection's [net], for the attacks on it.
	Target int `json:"target,omitempty"`
	// Tag lets the harness match the first record to its connection.
	Tag string `json:"tag,omitempty"`
}

// NetFiles is the listener's side, called once per [net] spawned: a pipe
// holding the current selection, and the records file. Each call opens
// fresh descriptors: the listener's group closes what it handed.
func NetFiles() []sandbox.File {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return nil
	}
	var fs []sandbox.File
	sel, err := readBounded(filepath.Join(dir, SelectFile))
	if err == nil {
		if r, w, err := os.Pipe(); err == nil {
			// Far below a pipe's capacity: the write does not block.
			w.Write(sel)
			w.Close()
			fs = append(fs, sandbox.File{Name: fileSelect, File: r})
		}
	}
	if f, err := os.OpenFile(filepath.Join(dir, RecordsFile), os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0); err == nil {
		fs = append(fs, sandbox.File{Name: fileRecords, File: f})
	}
	return fs
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSelection+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSelection {
		return nil, fmt.Errorf("selection longer than %d bytes", maxSelection)
	}
	return b, nil
}

// Start runs in [net] before its sandbox: it takes the selection and the
// records channel, and returns the battery [net] runs right after
// entering its sandbox.
func Start(in *sandbox.Inherited) func(client, session net.Conn, ctl *net.UnixConn) {
	var sel Selection
	selErr := ""
	if f, err := in.File(fileSelect); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, maxSelection+1))
		f.Close()
		switch {
		case err != nil:
			selErr = err.Error()
		case len(b) > maxSelection:
			selErr = "selection too long"
		case len(b) > 0:
			if err := json.Unmarshal(b, &sel); err != nil {
				selErr = "selection: " + err.Error()
				sel = Selection{}
			}
		}
	}
	out := os.Stderr
	if f, err := in.File(fileRecords); err == nil {
		out = f
	}
	p := in.Policy
	parent := in.ParentPID
	return func(client, session net.Conn, ctl *net.UnixConn) {
		e := &env{out: out, sel: sel, parent: parent, client: client, session: session, ctl: ctl}
		if selErr != "" {
			e.emit(Record{Attack: "(selection)", Outcome: Error, Observed: selErr})
		}
		e.run(p)
		if out != os.Stderr {
			out.Close()
		}
	}
}

// env is what an attack works with.
type env struct {
	out    *os.File
	sel    Selection
	cur    string // the attack being made
	parent int    // the listener
	kit.Caller

	client, session net.Conn
	ctl             *net.UnixConn
}

// selected says whether the attack being made is the one this
// connection's [net] makes for real.
func (e *env) selected() bool { return e.sel.Attack != "" && e.sel.Attack == e.cur }

func (e *env) run(p sandbox.Policy) {
	// One thread for the whole battery: the harness traces the thread an
	// armed attack names.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sel := e.sel
	e.emit(Record{Attack: "(start)", Outcome: Blocked, Observed: "battery started", Tid: unix.Gettid(), Selected: &sel})
	f, err := kit.NewFilter(&p)
	if err != nil {
		e.emit(Record{Attack: "(battery)", Outcome: Error, Observed: err.Error(), End: true})
		return
	}
	e.Filter = f
	for _, a := range attacks() {
		e.cur = a.name
		var rec Record
		switch {
		case e.selected():
			if !e.arm() {
				rec = Record{Outcome: Error, Observed: "no go byte from the client within 20 s"}
				break
			}
			rec = a.do(e)
		case a.separate:
			rec = Record{Outcome: Separate, Observed: "ends [net] or its connection: made in a connection of its own", TLS: a.tls}
		default:
			rec = a.do(e)
		}
		if rec.Outcome == Kill {
			rec.Nr, rec.Args = e.Last.Nr, e.Last.Args
		}
		rec.Attack = a.name
		e.emit(rec)
	}
	e.emit(Record{Attack: "(end)", Outcome: Blocked, Observed: "battery done", End: true})
}

// arm names the thread that makes the selected attack and waits for the
// client's go byte: the harness traces the thread in between.
func (e *env) arm() bool {
	e.emit(Record{Attack: e.cur, Outcome: Armed, Observed: "waiting for the client's go byte", Tid: unix.Gettid()})
	e.client.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer e.client.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := e.client.Read(b[:])
	return n == 1 && err == nil
}

func (e *env) emit(r Record) {
	r.Containment, r.Role, r.Pid = 1, "net", os.Getpid()
	if len(r.Observed) > 2048 {
		r.Observed = r.Observed[:2048] + "..."
	}
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	// One write a record, shorter than PIPE_BUF: the FIFO is shared by
	// every [net], and such writes do not interleave.
	e.out.Write(append(b, '\n'))
}

// sys makes the named system call unless the role's own filter would
// kill it for it (the call is then left to the harness), except for the
// attack selected for this run, which is made whatever the filter says.
func (e *env) sys(name string, args ...uint64) (r1 uintptr, errno unix.Errno, killed bool) {
	return e.Sys(e.selected(), name, args...)
}

// allowed says whether the role's filter lets the call through.
func (e *env) allowed(name string, args ...uint64) bool { return e.Allowed(name, args...) }

func killed() Record {
	return Record{Outcome: Kill, Observed: "[net]'s filter answers KILL_PROCESS", Layer: "seccomp"}
}

func errnoRec(errno unix.Errno, layer string) Record {
	if errno == 0 {
		return Record{Outcome: GotThrough, Observed: "succeeded"}
	}
	return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: layer}
}
