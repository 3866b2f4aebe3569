package control

import (
	"net/netip"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Apply folds one engine event, already checked by the supervisor, into
// s. at is when the supervisor received it.
func (s *State) Apply(e event.Event, at time.Time) {
	switch e.Kind {
	case event.State:
		s.State = e.To.String()
		if e.From == client.StateRenewing || e.From == client.StateRebinding {
			if e.To == client.StateBound {
				s.Renewals++
			}
		}
		switch e.To {
		case client.StateBound, client.StateRenewing, client.StateRebinding:
			if e.Addr != s.Address {
				s.Configured = false
			}
			s.Address = e.Addr
		default:
			// No lease held: nothing of the last one stays.
			s.Configured = false
			s.Address, s.Server, s.Router = e.Addr, netip.Addr{}, netip.Addr{}
			s.Obtained, s.T1, s.T2, s.Expiry = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		}
	case event.Leased:
		l := e.Lease
		s.Address, s.Server, s.Router = e.Addr, l.Server, l.Router
		s.Obtained = time.UnixMilli(l.Acquired).UTC()
		s.T1, s.T2, s.Expiry = utc(l.Time(l.T1)), utc(l.Time(l.T2)), utc(l.Time(l.Seconds))
	case event.Configured:
		s.Configured = e.Addr == s.Address
	case event.Refused:
		s.Configured = false
		s.LastError = &Failure{Event: e.Kind.String(), Cause: e.Cause, Time: at.UTC()}
	case event.Exiting:
		// A stop or a one-shot bind is not an error.
		if e.Reason != event.ReasonStopped && e.Reason != event.ReasonOneShot {
			s.LastError = &Failure{Event: e.Kind.String(), Cause: e.Reason.String(), Time: at.UTC()}
		}
	case event.Noted:
		if e.Note == client.NoteConflict {
			s.Conflicts++
		}
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// RoleOf summarises a role's sandbox report.
func RoleOf(name string, pid int, rep *sandbox.Report) Role {
	r := Role{Name: name, Pid: pid}
	if rep != nil {
		st := rep.Status
		r.Uid, r.Caps, r.NoNewPrivs, r.Seccomp = st.Uid[1], sandbox.FormatCaps(st.CapEff), st.NoNewPrivs, st.Seccomp
		r.SeccompInstructions, r.LandlockABI, r.Degraded = rep.SeccompInstructions, rep.LandlockABI, rep.Degraded
	}
	return r
}
