//go:build linux

package supervisor

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/hook"
	"github.com/ndhc-go/ndhc/internal/roles"
)

// TestHookEvents: the engine's events become the hook's, in order.
func TestHookEvents(t *testing.T) {
	addr := netip.MustParsePrefix("192.0.2.10/24")
	st := func(from, to client.State) event.Event {
		return event.Event{Kind: event.State, From: from, To: to, Addr: addr}
	}
	conf := event.Event{Kind: event.Configured, Addr: addr}
	note := func(n client.NoteKind) event.Event { return event.Event{Kind: event.Noted, Note: n} }
	for _, c := range []struct {
		name          string
		releaseOnExit bool
		in            []event.Event
		want          []hook.Kind
	}{
		{"bind, renew, rebind, release, stop", false, []event.Event{
			st(client.StateRequesting, client.StateBound), conf,
			st(client.StateBound, client.StateRenewing), st(client.StateRenewing, client.StateBound), conf,
			st(client.StateBound, client.StateRenewing), st(client.StateRenewing, client.StateRebinding), st(client.StateRebinding, client.StateBound), conf,
			st(client.StateBound, client.StateReleased), {Kind: event.Exiting, Reason: event.ReasonStopped},
		}, []hook.Kind{hook.Bound, hook.Renewed, hook.Rebound, hook.Released, hook.Stopped}},
		{"refused lease: no bound", false, []event.Event{
			st(client.StateRequesting, client.StateBound), {Kind: event.Refused, Addr: addr, Cause: "range"},
		}, nil},
		{"conflict, then nak", false, []event.Event{
			note(client.NoteConflict), st(client.StateChecking, client.StateInit),
			st(client.StateRequesting, client.StateBound), conf, st(client.StateRenewing, client.StateInit),
		}, []hook.Kind{hook.Conflict, hook.Bound, hook.Lost}},
		{"expiry is one event", false, []event.Event{
			st(client.StateRequesting, client.StateBound), conf, note(client.NoteLeaseExpired), st(client.StateRebinding, client.StateInit),
		}, []hook.Kind{hook.Bound, hook.Expired}},
		{"release on exit", true, []event.Event{
			st(client.StateRebooting, client.StateBound), conf, st(client.StateBound, client.StateStopped), {Kind: event.Exiting, Reason: event.ReasonStopped},
		}, []hook.Kind{hook.Bound, hook.Released, hook.Stopped}},
		{"stop without release", false, []event.Event{
			st(client.StateRequesting, client.StateBound), conf, st(client.StateBound, client.StateStopped), {Kind: event.Exiting, Reason: event.ReasonStopped},
		}, []hook.Kind{hook.Bound, hook.Stopped}},
	} {
		h := hookState{releaseOnExit: c.releaseOnExit}
		var got []hook.Kind
		for _, e := range c.in {
			if k, ok := h.next(e); ok {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCheckHook: start-up refuses a root hook user and a hook file others
// could change, before any role starts.
func TestCheckHook(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the hook's directory must be root's")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "hook")
	if err := os.WriteFile(good, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "writable")
	os.WriteFile(bad, []byte("#!/bin/sh\n"), 0o755)
	os.Chmod(bad, 0o775)
	for _, c := range []struct {
		user, path string
		ok         bool
	}{
		{"61105", good, true},
		{"0", good, false},
		{"root", good, false},
		{"61105", bad, false},
		{"61105", "relative/hook", false},
	} {
		st := roles.DefaultSettings()
		st.Users[roles.Hook] = c.user
		s := &supervisor{Config: &Config{Settings: st, Hook: config.Hook{Path: c.path}}}
		if err := s.checkHook(); (err == nil) != c.ok {
			t.Errorf("user %s, hook %s: %v", c.user, c.path, err)
		}
	}
}
