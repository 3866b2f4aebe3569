package listener

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Event kinds in the listener's record stream.
const (
	EventConnection    = "connection"    // both processes of a connection are ready
	EventAuthenticated = "authenticated" // [session] says the user logged in
	EventClosed        = "closed"        // both processes of a connection have exited
	EventRefused       = "refused"       // a new connection was closed by a limit
)

// Record is one line of the listener's event stream (netlogind
// -event-fd): what happened to connections, as JSON, one object a line,
// for service managers, scripts, the demo and the tests. The log's
// wording may change; these fields do not without notice.
type Record struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Conn   uint64    `json:"conn,omitempty"`
	Source string    `json:"source,omitempty"`
	User   string    `json:"user,omitempty"`
	// Limit names the limit that refused a connection: rate, per-source,
	// connections, unauthenticated or uids.
	Limit string `json:"limit,omitempty"`
	// Net and Session are the connection's processes (connection only).
	Net     *Proc `json:"net,omitempty"`
	Session *Proc `json:"session,omitempty"`
	// NetExit and SessionExit say how each ended (closed only).
	NetExit     string `json:"net_exit,omitempty"`
	SessionExit string `json:"session_exit,omitempty"`
}

// Proc is one process of a connection: its pid and what its kernel said
// in its ready notice.
type Proc struct {
	Pid    int             `json:"pid"`
	Report *sandbox.Report `json:"report"`
}

// recorder writes records to the event stream, one at a time.
type recorder struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *recorder) emit(rec Record) {
	if r == nil || r.w == nil {
		return
	}
	rec.Time = time.Now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Write(append(b, '\n'))
}
