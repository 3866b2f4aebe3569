// Package control is ndhc's control socket: the protocol that `ndhc show`,
// `renew`, `release`, `rebind` and `wait` speak to a running client's
// supervisor, who may ask what (the authorisation table), the live state
// the supervisor keeps, and the server that accepts the connections.
//
// The protocol is one request and one reply, each a single message on a
// SOCK_SEQPACKET UNIX socket holding one JSON object, decoded strictly
// (no unknown field, nothing after the object, bounded size, version
// checked). A wait request is answered by a stream of replies, one per
// change of state, until the client closes or the wait's timeout passes.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
)

// Version is the protocol version every request and reply carries.
const Version = 1

// Bounds of the messages.
const (
	// MaxRequest is the largest request accepted.
	MaxRequest = 256
	// MaxReply is the largest reply sent or accepted.
	MaxReply = 16 << 10
	// MaxWait is the longest wait a request may ask for.
	MaxWait = 24 * time.Hour
)

// Op is what a request asks for.
type Op string

// Operations.
const (
	Show    Op = "show"    // the live state
	Renew   Op = "renew"   // renew the lease now (SIGUSR1)
	Release Op = "release" // release the lease (SIGUSR2)
	Rebind  Op = "rebind"  // REBINDING now: broadcast a request to any server
	Wait    Op = "wait"    // the state now and at each change
)

// ReadOnly reports whether op only reads: a member of the control group
// may ask for it.
func (op Op) ReadOnly() bool { return op == Show || op == Wait }

func (op Op) valid() bool {
	switch op {
	case Show, Renew, Release, Rebind, Wait:
		return true
	}
	return false
}

// Request is what a client asks.
type Request struct {
	V  int `json:"v"`
	Op Op  `json:"op"`
	// TimeoutMS bounds a wait, in milliseconds (1 to MaxWait); zero for
	// every other operation.
	TimeoutMS int64 `json:"timeout_ms,omitzero"`
}

func (r Request) check() error {
	if r.V != Version {
		return fmt.Errorf("control: request version %d, want %d", r.V, Version)
	}
	if !r.Op.valid() {
		return fmt.Errorf("control: unknown operation %q", r.Op)
	}
	if (r.Op == Wait) != (r.TimeoutMS > 0) || r.TimeoutMS > MaxWait.Milliseconds() {
		return fmt.Errorf("control: timeout %d ms for %s", r.TimeoutMS, r.Op)
	}
	return nil
}

// Timeout returns a wait's timeout.
func (r Request) Timeout() time.Duration { return time.Duration(r.TimeoutMS) * time.Millisecond }

// MarshalRequest checks and encodes r.
func MarshalRequest(r Request) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// ParseRequest decodes one request strictly.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) > MaxRequest {
		return r, fmt.Errorf("control: request of %d bytes", len(b))
	}
	if err := strict(b, &r); err != nil {
		return Request{}, fmt.Errorf("control: request: %w", err)
	}
	if err := r.check(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Reply statuses.
const (
	// StatusOK: State is the live state.
	StatusOK = "ok"
	// StatusAccepted: the command was handed to the engine (not that a
	// server answered).
	StatusAccepted = "accepted"
	// StatusRefused: the peer may not ask for this.
	StatusRefused = "refused"
	// StatusError: the request could not be carried out; Error says why.
	StatusError = "error"
)

// Reply is the daemon's answer.
type Reply struct {
	V      int    `json:"v"`
	Status string `json:"status"`
	Error  string `json:"error,omitzero"`
	State  *State `json:"state,omitzero"`
}

func (r *Reply) check() error {
	if r.V != Version {
		return fmt.Errorf("control: reply version %d, want %d", r.V, Version)
	}
	switch r.Status {
	case StatusOK:
		if r.State == nil || r.Error != "" {
			return errors.New("control: ok reply without a state, or with an error")
		}
		return r.State.check()
	case StatusAccepted:
		if r.State != nil || r.Error != "" {
			return errors.New("control: accepted reply with a state or an error")
		}
	case StatusRefused, StatusError:
		if r.State != nil || r.Error == "" || len(r.Error) > 200 {
			return errors.New("control: refusal or error without a reason")
		}
	default:
		return fmt.Errorf("control: reply status %q", r.Status)
	}
	return nil
}

// MarshalReply checks and encodes r, at most MaxReply bytes.
func MarshalReply(r Reply) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err == nil && len(b) > MaxReply {
		err = fmt.Errorf("control: reply of %d bytes", len(b))
	}
	return b, err
}

// ParseReply decodes one reply strictly.
func ParseReply(b []byte) (Reply, error) {
	var r Reply
	if len(b) > MaxReply {
		return r, fmt.Errorf("control: reply of %d bytes", len(b))
	}
	if err := strict(b, &r); err != nil {
		return Reply{}, fmt.Errorf("control: reply: %w", err)
	}
	if err := r.check(); err != nil {
		return Reply{}, err
	}
	return r, nil
}

// State is the live state of a client, as the supervisor knows it.
type State struct {
	Interface string `json:"interface"`
	// State is the DHCP client's state (client.State's name).
	State string `json:"state"`
	// Configured: ifch applied the lease held now.
	Configured bool `json:"configured"`
	// Address is the lease's address and prefix.
	Address netip.Prefix `json:"address,omitzero"`
	Server  netip.Addr   `json:"server,omitzero"`
	Router  netip.Addr   `json:"router,omitzero"`
	// Obtained, T1, T2 and Expiry are the lease's times; zero for
	// none (no lease, or an infinite one).
	Obtained time.Time `json:"obtained,omitzero"`
	T1       time.Time `json:"t1,omitzero"`
	T2       time.Time `json:"t2,omitzero"`
	Expiry   time.Time `json:"expiry,omitzero"`
	Roles    []Role    `json:"roles"`
	// LastError is the last refusal by ifch or the engine's exit reason.
	LastError *Failure  `json:"last_error,omitzero"`
	Renewals  int       `json:"renewals"`
	Conflicts int       `json:"conflicts"`
	Started   time.Time `json:"started"`
	// DNS is where the lease's DNS servers go: file, resolved or none
	// (--dns, decided at start-up).
	DNS string `json:"dns,omitempty"`
	// Seq counts the changes of the state.
	Seq uint64 `json:"seq"`
}

// Bound reports whether the client holds a lease that ifch applied: what
// a wait waits for.
func (s *State) Bound() bool {
	return s.State == client.StateBound.String() && s.Configured
}

// Role is a role's process and a summary of its sandbox report.
type Role struct {
	Name       string `json:"name"`
	Pid        int    `json:"pid"`
	Uid        uint32 `json:"uid"`
	Caps       string `json:"caps"`
	NoNewPrivs int    `json:"no_new_privs"`
	// Seccomp is the kernel's mode: 2 is a filter.
	Seccomp             int      `json:"seccomp"`
	SeccompInstructions int      `json:"seccomp_instructions"`
	LandlockABI         int      `json:"landlock_abi"`
	Degraded            []string `json:"degraded,omitzero"`
}

// Failure is the last thing that went wrong.
type Failure struct {
	Event string    `json:"event"`
	Cause string    `json:"cause"`
	Time  time.Time `json:"time"`
}

const maxRoles = 16

func (s *State) check() error {
	valid := false
	for st := client.State(0); st.Valid(); st++ {
		valid = valid || st.String() == s.State
	}
	switch {
	case !valid:
		return fmt.Errorf("control: state %q", s.State)
	case s.Interface == "" || len(s.Interface) > 15:
		return errors.New("control: interface name")
	case s.Address.IsValid() && !s.Address.Addr().Is4(), s.Server.IsValid() && !s.Server.Is4(), s.Router.IsValid() && !s.Router.Is4():
		return errors.New("control: address not IPv4")
	case len(s.Roles) > maxRoles:
		return errors.New("control: too many roles")
	case s.Renewals < 0 || s.Conflicts < 0:
		return errors.New("control: negative counter")
	case s.DNS != "" && s.DNS != "file" && s.DNS != "resolved" && s.DNS != "none":
		return fmt.Errorf("control: dns %q", s.DNS)
	case s.LastError != nil && (len(s.LastError.Event) > 32 || len(s.LastError.Cause) > 64):
		return errors.New("control: last error too long")
	}
	// Every string is bounded, so that any state that checks encodes
	// within MaxReply.
	for _, r := range s.Roles {
		if len(r.Name) > 32 || len(r.Caps) > 256 || len(r.Degraded) > 8 {
			return errors.New("control: role too long")
		}
		for _, d := range r.Degraded {
			if len(d) > 32 {
				return errors.New("control: role too long")
			}
		}
	}
	return nil
}

// strict decodes exactly one JSON object into v: no unknown field, nothing
// after it.
func strict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}
