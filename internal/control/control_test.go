package control

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/event"
)

func TestAuthorize(t *testing.T) {
	const grp = 120
	for _, c := range []struct {
		name  string
		cr    Creds
		group uint32
		want  Access
	}{
		{"root", Creds{Uid: 0, Gid: 0}, grp, Full},
		{"root, no group configured", Creds{Uid: 0, Gid: 5}, 0, Full},
		{"primary group", Creds{Uid: 1000, Gid: grp}, grp, Query},
		{"supplementary group", Creds{Uid: 1000, Gid: 100, Groups: []uint32{4, grp}}, grp, Query},
		{"other groups", Creds{Uid: 1000, Gid: 100, Groups: []uint32{4, 24}}, grp, None},
		{"group 0 is root only", Creds{Uid: 1000, Gid: 0, Groups: []uint32{0}}, 0, None},
		{"uid equal to the group id", Creds{Uid: grp, Gid: 100}, grp, None},
	} {
		if got := Authorize(c.cr, c.group); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		a    Access
		op   Op
		want bool
	}{
		{Full, Renew, true}, {Full, Release, true}, {Full, Rebind, true}, {Full, Show, true}, {Full, Wait, true},
		{Query, Show, true}, {Query, Wait, true}, {Query, Renew, false}, {Query, Release, false}, {Query, Rebind, false},
		{None, Show, false}, {None, Wait, false}, {None, Renew, false},
	} {
		if got := c.a.Permits(c.op); got != c.want {
			t.Errorf("%v permits %s: %v", c.a, c.op, got)
		}
	}
}

var goodRequests = []Request{
	{V: Version, Op: Show}, {V: Version, Op: Renew}, {V: Version, Op: Release}, {V: Version, Op: Rebind},
	{V: Version, Op: Wait, TimeoutMS: 30000},
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range goodRequests {
		b, err := MarshalRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRequest(b)
		if err != nil || got != r {
			t.Errorf("%s -> %+v, %v", b, got, err)
		}
	}
}

func TestRequestRefused(t *testing.T) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"v":1}`,
		`{"v":2,"op":"show"}`,
		`{"v":1,"op":"stop"}`,
		`{"v":1,"op":"show","timeout_ms":5}`,
		`{"v":1,"op":"wait"}`,
		`{"v":1,"op":"wait","timeout_ms":-1}`,
		`{"v":1,"op":"wait","timeout_ms":86400001}`,
		`{"v":1,"op":"show","extra":1}`,
		`{"v":1,"op":"show"}{"v":1,"op":"show"}`,
		`{"v":1,"op":"show"} x`,
		`{"v":1,"op":"show"` + strings.Repeat(" ", MaxRequest) + `}`,
	} {
		if r, err := ParseRequest([]byte(s)); err == nil {
			t.Errorf("%q accepted as %+v", s, r)
		}
	}
}

func sampleState() *State {
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	return &State{
		Interface: "eth0", State: "BOUND", Configured: true,
		Address: netip.MustParsePrefix("10.0.0.5/24"), Server: netip.MustParseAddr("10.0.0.1"), Router: netip.MustParseAddr("10.0.0.1"),
		Obtained: at, T1: at.Add(30 * time.Minute), T2: at.Add(52 * time.Minute), Expiry: at.Add(time.Hour),
		Roles:     []Role{{Name: "engine", Pid: 42, Uid: 101, Caps: "none", NoNewPrivs: 1, Seccomp: 2, SeccompInstructions: 90, LandlockABI: 6}},
		LastError: &Failure{Event: "refused", Cause: "out-of-range", Time: at},
		Renewals:  2, Started: at.Add(-time.Hour), Seq: 7,
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, r := range []Reply{
		{V: Version, Status: StatusOK, State: sampleState()},
		{V: Version, Status: StatusOK, State: &State{Interface: "eth0", State: "SELECTING"}},
		{V: Version, Status: StatusAccepted},
		{V: Version, Status: StatusRefused, Error: "permission denied"},
		{V: Version, Status: StatusError, Error: "busy"},
	} {
		b, err := MarshalReply(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseReply(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("%s ->\n%+v, %v", b, got, err)
		}
	}
}

func TestReplyRefused(t *testing.T) {
	good, _ := json.Marshal(Reply{V: Version, Status: StatusOK, State: sampleState()})
	for _, s := range []string{
		``, `{}`, `{"v":1,"status":"ok"}`,
		`{"v":1,"status":"accepted","error":"x"}`,
		`{"v":1,"status":"refused"}`,
		`{"v":1,"status":"maybe"}`,
		`{"v":2,"status":"accepted"}`,
		`{"v":1,"status":"accepted","more":true}`,
		`{"v":1,"status":"ok","state":{"interface":"eth0","state":"DANCING"}}`,
		`{"v":1,"status":"ok","state":{"interface":"","state":"BOUND"}}`,
		`{"v":1,"status":"ok","state":{"interface":"eth0","state":"BOUND","address":"2001:db8::1/64"}}`,
		`{"v":1,"status":"ok","state":{"interface":"eth0","state":"BOUND","renewals":-1}}`,
		strings.Replace(string(good), `"seq":7`, `"seq":7,"x":0`, 1),
		string(good) + "{}",
	} {
		if r, err := ParseReply([]byte(s)); err == nil {
			t.Errorf("%q accepted as %+v", s, r)
		}
	}
}

// TestStateApply follows a bind, a renewal, a conflict, a refusal and a
// release through the state.
func TestStateApply(t *testing.T) {
	pfx := netip.MustParsePrefix("10.0.0.5/24")
	now := time.Now()
	st := State{Interface: "eth0", State: "INIT"}
	li := event.LeaseInfo{Acquired: now.UnixMilli(), Seconds: 3600, T1: 1800, T2: 3150, Server: netip.MustParseAddr("10.0.0.1")}
	for _, e := range []event.Event{
		{Kind: event.State, From: client.StateInit, To: client.StateSelecting},
		{Kind: event.State, From: client.StateRequesting, To: client.StateBound, Addr: pfx},
		{Kind: event.Leased, Addr: pfx, Lease: li},
		{Kind: event.Configured, Addr: pfx},
		{Kind: event.State, From: client.StateBound, To: client.StateRenewing, Addr: pfx},
		{Kind: event.State, From: client.StateRenewing, To: client.StateBound, Addr: pfx},
		{Kind: event.Noted, Note: client.NoteConflict, Addr: netip.MustParsePrefix("10.0.0.9/32")},
	} {
		st.Apply(e, now)
	}
	if !st.Bound() || st.Address != pfx || st.Renewals != 1 || st.Conflicts != 1 || st.Server != li.Server {
		t.Fatalf("after a bind and a renewal: %+v", st)
	}
	if !(st.Obtained.Before(st.T1) && st.T1.Before(st.T2) && st.T2.Before(st.Expiry)) {
		t.Fatalf("timers %v %v %v %v", st.Obtained, st.T1, st.T2, st.Expiry)
	}
	st.Apply(event.Event{Kind: event.Refused, Addr: pfx, Cause: "out-of-range"}, now)
	if st.Configured || st.LastError == nil || st.LastError.Cause != "out-of-range" {
		t.Fatalf("after a refusal: %+v", st)
	}
	st.Apply(event.Event{Kind: event.Exiting, Reason: event.ReasonStopped}, now)
	if st.LastError.Event != "refused" {
		t.Fatalf("a stop counted as an error: %+v", st.LastError)
	}
	st.Apply(event.Event{Kind: event.Exiting, Reason: event.ReasonSocketFailed}, now)
	if st.LastError.Event != "exiting" || st.LastError.Cause != "socket-failed" {
		t.Fatalf("exit reason not kept: %+v", st.LastError)
	}
	st.Apply(event.Event{Kind: event.State, From: client.StateBound, To: client.StateReleased, Addr: pfx}, now)
	if st.Bound() || st.State != "RELEASED" || !st.T1.IsZero() || st.Server.IsValid() {
		t.Fatalf("after a release: %+v", st)
	}
}

// FuzzRequest: the supervisor decodes requests from any local peer the
// socket's mode lets in. What decodes encodes back and decodes the same.
func FuzzRequest(f *testing.F) {
	for _, r := range goodRequests {
		b, _ := MarshalRequest(r)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"op":"show","extra":1}`))
	f.Add([]byte(`{"v":1,"op":"wait","timeout_ms":1e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		again, err := MarshalRequest(r)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		r2, err := ParseRequest(again)
		if err != nil || r2 != r {
			t.Fatalf("%s -> %+v, %v", again, r2, err)
		}
	})
}

// FuzzReply: the client decodes what the daemon sends.
func FuzzReply(f *testing.F) {
	for _, r := range []Reply{
		{V: Version, Status: StatusOK, State: sampleState()},
		{V: Version, Status: StatusAccepted},
		{V: Version, Status: StatusRefused, Error: "permission denied"},
	} {
		b, _ := MarshalReply(r)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"status":"ok","state":{"interface":"eth0","state":"BOUND","address":"10.0.0.5/33"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		again, err := MarshalReply(r)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		r2, err := ParseReply(again)
		if err != nil || !reflect.DeepEqual(r2, r) {
			t.Fatalf("%s -> %+v, %v", again, r2, err)
		}
	})
}
