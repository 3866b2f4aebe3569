package event

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Record is one line of the event stream (--event-fd): a JSON object
// whose Event field says which of the other fields are set.
//
//	ready       Role, Pid, Report: a role entered its sandbox
//	state       From, To, Cause, Address: the DHCP client changed state
//	configured  Address: ifch applied the lease
//	refused     Address, Cause: ifch refused the lease, with its code
//	exiting     Reason: the engine is about to exit
//	conflict    Address, MAC: another host answered for the offered address
//	gateway     Address, MAC: the gateway answered ARP after binding
//	gateway-same, gateway-changed
//	            Address, MAC: the gateway after the carrier came back
//	carrier-down, carrier-up
//	lease-expired
//	            Address
//	exit        Role, Pid, Status, Crash: a role's process ended (Crash:
//	            the first line of a Go runtime crash report)
//	signal      Signal: the supervisor got a signal
//	control     Cause: the command (renew, release, rebind) a control
//	            socket client had the supervisor hand to the engine
//	done        Code: the supervisor exits with this status
type Record struct {
	Time    time.Time       `json:"time"`
	Event   string          `json:"event"`
	Role    string          `json:"role,omitempty"`
	Pid     int             `json:"pid,omitempty"`
	From    string          `json:"from,omitempty"`
	To      string          `json:"to,omitempty"`
	Address string          `json:"address,omitempty"`
	Cause   string          `json:"cause,omitempty"`
	MAC     string          `json:"mac,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Status  string          `json:"status,omitempty"`
	Crash   string          `json:"crash,omitempty"`
	Signal  string          `json:"signal,omitempty"`
	Code    *int            `json:"code,omitempty"`
	Report  *sandbox.Report `json:"report,omitempty"`
}

// Stream writes records, one JSON object a line. A nil *Stream writes
// nothing. A write error (the reader went away) stops the stream and is
// reported once by Err; it never stops the daemon.
type Stream struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewStream returns a stream writing to w.
func NewStream(w io.Writer) *Stream { return &Stream{w: w} }

// Write stamps r with the time if it has none and writes it.
func (s *Stream) Write(r Record) {
	if s == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	_, s.err = s.w.Write(append(b, '\n'))
}

// Err returns the write error that stopped the stream, if any.
func (s *Stream) Err() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
