//go:build linux

package supervisor

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/hook"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
)

// hookState turns the engine's events into hook events.
type hookState struct {
	// pending is the bind event (bound, renewed, rebound) of the last
	// change to BOUND: the hook runs once the lease is configured.
	pending hook.Kind
	// expired: the lease's expiry was reported; the change to INIT that
	// follows is no separate loss.
	expired bool
	// releaseOnExit (--release-on-exit): the engine releases the lease
	// it holds when it stops, going from that state to STOPPED directly.
	releaseOnExit bool
}

// holdsLease reports whether the client holds a lease in state st.
func holdsLease(st client.State) bool {
	switch st {
	case client.StateBound, client.StateRenewing, client.StateRebinding, client.StateRebooting:
		return true
	}
	return false
}

// next returns the hook event e makes, if any.
func (h *hookState) next(e event.Event) (hook.Kind, bool) {
	switch e.Kind {
	case event.State:
		switch {
		case e.To == client.StateBound:
			switch e.From {
			case client.StateRenewing:
				h.pending = hook.Renewed
			case client.StateRebinding:
				h.pending = hook.Rebound
			default:
				h.pending = hook.Bound
			}
		case e.To == client.StateReleased, e.To == client.StateStopped && h.releaseOnExit && holdsLease(e.From):
			h.pending = 0
			return hook.Released, true
		case (e.To == client.StateInit || e.To == client.StateInitReboot) && holdsLease(e.From):
			h.pending = 0
			if h.expired {
				h.expired = false
				return 0, false
			}
			return hook.Lost, true
		}
	case event.Configured:
		if k := h.pending; k != 0 {
			h.pending, h.expired = 0, false
			return k, true
		}
	case event.Noted:
		switch e.Note {
		case client.NoteLeaseExpired:
			h.expired = true
			return hook.Expired, true
		case client.NoteConflict:
			return hook.Conflict, true
		}
	case event.Exiting:
		return hook.Stopped, true
	}
	return 0, false
}

// hookEvent forwards the hook event e makes, if any, to the hook role.
// A hook role that cannot take it has exited or is about to: its exit
// ends the group.
func (s *supervisor) hookEvent(e event.Event) {
	if s.hook == nil {
		return
	}
	k, ok := s.hookState.next(e)
	if !ok {
		return
	}
	m := hook.Message{Kind: k, Time: time.Now()}
	if e.Addr.IsValid() {
		m.Addr = e.Addr
	}
	b, err := m.MarshalBinary()
	if err == nil {
		err = s.hook.Send(b)
	}
	if err != nil {
		s.log.Error("handing an event to the hook role", "event", k.String(), "err", err)
	}
}

// finishHook, once the engine finished, lets the hook role run what it
// has queued (the last event is stopped) and waits for it to exit: at
// most its timeout and three seconds, after which the group's end kills
// it. Exits seen meanwhile are recorded.
func (s *supervisor) finishHook() {
	if s.hook == nil {
		return
	}
	b, err := hook.End(time.Now()).MarshalBinary()
	if err == nil {
		err = s.hook.Send(b)
	}
	if err != nil {
		return
	}
	deadline := time.After(s.Hook.Timeout + 3*time.Second)
	for {
		select {
		case ev := <-s.group.Events():
			if !ev.Exited {
				continue
			}
			s.Events.Write(event.Record{Event: "exit", Role: ev.Member.Role, Pid: ev.Member.Pid(), Status: describe(ev)})
			if ev.Member == s.hook {
				return
			}
		case <-deadline:
			s.log.Warn("the hook role is still running its queue; ending it", "waited", s.Hook.Timeout+3*time.Second)
			return
		}
	}
}

// checkHook refuses, before anything runs, a hook user that is root and
// a hook program someone other than root or that user could change.
func (s *supervisor) checkHook() error {
	if s.Hook.Path == "" {
		return nil
	}
	p, err := s.Settings.Policy(roles.Hook)
	if err != nil {
		return err
	}
	uid, _, err := sandbox.ResolveIDs(p.User, p.Group)
	if err != nil {
		return fmt.Errorf("hook-user %s: %w (hooks never run as root; create the user with `make install-users`)", p.User, err)
	}
	real, err := hook.CheckPath(s.Hook.Path, uid)
	if err != nil {
		return err
	}
	s.Hook.Path = real
	return nil
}

// openLease opens the engine's lease file read-only for the hook role,
// with the thread's filesystem uid set to the engine's: the file is the
// engine's, mode 0600, and root would need CAP_DAC_READ_SEARCH to read it,
// which the systemd unit leaves out of the bounding set (setfsuid needs
// CAP_SETUID, which the supervisor keeps to start its roles). Going back
// to fsuid 0 gives the thread its file capabilities back.
func (s *supervisor) openLease() (*os.File, error) {
	p, err := s.Settings.Policy(roles.Engine)
	if err != nil {
		return nil, err
	}
	uid, _, err := sandbox.ResolveIDs(p.User, p.Group)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	unix.Setfsuid(int(uid))
	if now, _ := unix.SetfsuidRetUid(-1); now != int(uid) {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("setfsuid(%d) left %d", uid, now)
	}
	f, err := os.OpenFile(s.leasePath, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	unix.Setfsuid(0)
	if now, _ := unix.SetfsuidRetUid(-1); now != 0 {
		// The thread stays locked, so no other goroutine runs with that
		// fsuid; the caller exits on this error.
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("setfsuid(0) left %d", now)
	}
	runtime.UnlockOSThread()
	return f, err
}
