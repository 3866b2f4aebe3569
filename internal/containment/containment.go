//go:build linux && containment

package containment

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/sandbox"
)

// EnvSelect, in the supervisor's environment, names the one attack of a
// run that may end its role ("ROLE/ATTACK"); unset, no such attack runs.
// The supervisor hands each role the selection in a pipe named FileName:
// a role's environment is Spawn's alone, and its typed configuration is
// the release build's, decoded strictly, so neither can carry it.
const (
	EnvSelect = "NDHC_CONTAINMENT"
	FileName  = "containment"
)

// Outcomes of an attack.
const (
	// Blocked: the attack was made and failed.
	Blocked = "blocked"
	// GotThrough: the attack was made and worked.
	GotThrough = "got-through"
	// Kill: the role's own filter answers KILL_PROCESS for this call
	// and these arguments, so it was not made here: the harness checks
	// the live filter and makes some of them in runs of their own.
	Kill = "seccomp-kill"
	// Separate: the attack ends the role (or its peer) whatever happens;
	// it runs only in a run of its own.
	Separate = "separate"
	// Error: the battery could not make the attack at all.
	Error = "error"
	// ByDesign: the action worked, and is meant to: it is what any
	// unprivileged process of the role's user may do (a call on the bus
	// the dns role holds, a program the hook runs). The table shows it,
	// expected "allowed"; it fails nothing.
	ByDesign = "allowed-by-design"
)

// Record is one attack's result, one JSON object a line on the role's
// standard error (which the supervisor, with --log-format json, embeds
// as the "record" of its own line).
type Record struct {
	// Containment marks the record; always 1.
	Containment int    `json:"containment"`
	Role        string `json:"role"`
	Pid         int    `json:"pid"`
	Attack      string `json:"attack"`
	Outcome     string `json:"outcome"`
	Observed    string `json:"observed"`
	Layer       string `json:"layer,omitempty"`
	// Nr and Args are the system call a Kill outcome refers to.
	Nr   int       `json:"nr,omitempty"`
	Args [6]uint64 `json:"args,omitempty"`
	// End marks the last record of a role's battery.
	End bool `json:"end,omitempty"`
}

// Files is the supervisor's side: one pipe per role holding the
// selection.
func Files(role string) []sandbox.File {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	sel := os.Getenv(EnvSelect)
	if len(sel) > 200 {
		sel = ""
	}
	w.WriteString(sel)
	w.Close()
	return []sandbox.File{{Name: FileName, File: r}}
}

// Start runs in a role before its sandbox: it takes the selection, and
// returns the battery the role runs right after entering its sandbox.
func Start(in *sandbox.Inherited) func(int, map[string]syscall.Conn) {
	sel := ""
	if f, err := in.File(FileName); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 256))
		f.Close()
		sel = string(b)
	}
	role := in.Role
	p := in.Policy
	if role == "hook" {
		// The hook's powers are intentional: the generic battery would
		// fail it. It runs its own (hook.go).
		return hookStart(in, p, sel)
	}
	// The interfaces' hardware addresses, read now: inside its sandbox
	// the role cannot ask (no netlink socket).
	macs := map[int][6]byte{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifi := range ifs {
			var hw [6]byte
			copy(hw[:], ifi.HardwareAddr)
			macs[ifi.Index] = hw
		}
	}
	return func(ifindex int, ends map[string]syscall.Conn) {
		run(role, p, sel, ifindex, ends, macs[ifindex])
	}
}

// Supervisor runs the common battery in the sandboxed supervisor.
func Supervisor(p sandbox.Policy) {
	run("supervisor", p, os.Getenv(EnvSelect), 0, nil, [6]byte{})
}

// env is what an attack works with.
type env struct {
	role string
	kit.Caller
	sel     string // the attack this run may end the role with
	cur     string // the attack being made
	ifindex int
	mac     [6]byte // the interface's hardware address
	ends    map[string]syscall.Conn
}

func run(role string, p sandbox.Policy, sel string, ifindex int, ends map[string]syscall.Conn, mac [6]byte) {
	e := &env{role: role, ifindex: ifindex, ends: ends, mac: mac}
	if r, a, ok := strings.Cut(sel, "/"); ok && r == role {
		e.sel = a
	}
	f, err := kit.NewFilter(&p)
	if err != nil {
		emit(Record{Role: role, Attack: "(battery)", Outcome: Error, Observed: err.Error(), End: true})
		return
	}
	e.Filter = f
	for _, a := range attacks() {
		if !a.applies(role) {
			continue
		}
		e.cur = a.name
		var rec Record
		switch {
		case a.separate && e.sel != a.name:
			rec = Record{Outcome: Separate, Observed: "ends the role or its peer: made in a run of its own"}
		default:
			rec = a.do(e)
			if rec.Outcome == Kill {
				rec.Nr, rec.Args = e.Last.Nr, e.Last.Args
			}
		}
		rec.Role, rec.Attack = role, a.name
		emit(rec)
	}
	emit(Record{Role: role, Attack: "(end)", Outcome: Blocked, Observed: "battery done", End: true})
}

func emit(r Record) {
	r.Containment, r.Pid = 1, os.Getpid()
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	os.Stderr.Write(append(b, '\n'))
}

// sys makes the named system call unless the role's own filter would
// kill it for it (the call is then left to the harness), except for the
// attack selected for this run, which is made whatever the filter says.
func (e *env) sys(name string, args ...uint64) (r1 uintptr, errno unix.Errno, killed bool) {
	return e.Sys(e.sel == e.cur, name, args...)
}

// allowed says whether the role's filter lets the call through.
func (e *env) allowed(name string, args ...uint64) bool { return e.Allowed(name, args...) }

func killed() Record {
	return Record{Outcome: Kill, Observed: "the role's filter answers KILL_PROCESS", Layer: "seccomp"}
}

func errnoRec(errno unix.Errno, layer string) Record {
	if errno == 0 {
		return Record{Outcome: GotThrough, Observed: "succeeded"}
	}
	return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: layer}
}
