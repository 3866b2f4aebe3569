package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/sandbox"
)

// ConfigureFor is the ifch request that makes interface iface match the
// lease l at time now. It is the one place where the lease's options
// become interface state:
//
//   - the default route is the first router of option 3 only when the
//     lease has no classless static routes: with option 121 present,
//     option 3 is ignored (RFC 3442 section 2), and a default route, if
//     any, is one of the classless routes (with --classless-routes off
//     the client ignores option 121 instead, and the lease has none);
//   - a classless route (other than the default) that covers the DHCP
//     server, when the server is on the leased subnet, is dropped: it
//     would send the renewals elsewhere;
//   - the search list is option 119, or the domain name of option 15
//     when the server sent no option 119;
//   - the address's lifetimes are what remains of the lease, at least one
//     second, or forever for an infinite lease.
func ConfigureFor(iface string, l *client.Lease, now time.Time) *ifch.Configure {
	c := &ifch.Configure{
		Interface: iface,
		Address:   l.Addr,
		Broadcast: l.Broadcast,
		DNS:       l.DNS,
		MTU:       uint32(l.MTU),
		Hostname:  l.Hostname.String(),
		Domain:    l.Domain.String(),
	}
	if len(l.Routes) == 0 {
		c.Router = l.Gateway()
	}
	for _, r := range l.Routes {
		if r.Dst.Bits() > 0 && r.Dst.Contains(l.ServerID) && l.Addr.Masked().Contains(l.ServerID) {
			continue
		}
		c.Routes = append(c.Routes, ifch.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	for _, s := range l.Search {
		c.Search = append(c.Search, s.String())
	}
	if len(c.Search) == 0 && c.Domain != "" {
		c.Search = []string{c.Domain}
	}
	if l.Infinite() {
		c.Valid, c.Preferred = ifch.Forever, ifch.Forever
	} else {
		secs := ifch.Lifetime(max(l.Remaining(now)/time.Second, 1))
		c.Valid, c.Preferred = secs, secs
	}
	return c
}

// configure sends ifch the whole desired state for the lease, less the
// optional fields ifch would refuse, and tells the supervisor whether ifch
// applied it. A refused lease is handed back to the client (Refused) once
// the actions of this batch are done. A refusal (ifch's address
// ranges, prefix or MTU rules) leaves the interface as it was: it is
// logged as an error, and the client tries again at its next renewal.
func (e *Engine) configure(l *client.Lease) error {
	c := ConfigureFor(e.cfg.Link.Name, l, time.Now())
	// One bad optional field must not cost the address: what ifch would
	// refuse is dropped and logged, the rest is configured.
	for _, d := range e.cfg.Limits.Sanitize(c) {
		e.log.Warn("dropped from the lease", "address", l.Addr, "err", d)
	}
	err := e.ifchDo(c)
	if _, fatal := err.(*fatalError); fatal {
		return err
	}
	ev := event.Event{Kind: event.Configured, Addr: l.Addr}
	e.refused = err != nil
	if err == nil {
		e.client.Configured()
	} else {
		ev.Kind = event.Refused
		var re *ifch.ReplyError
		if errors.As(err, &re) && client.ValidCause(re.Code.String()) {
			ev.Cause = re.Code.String()
		}
		e.log.Error("lease not configured", "address", l.Addr, "err", err)
	}
	return e.report(ev)
}

// ifchDo sends one command. A refusal is returned as an ordinary error
// (the lease breaks ifch's rules); a broken channel or grammar is fatal.
func (e *Engine) ifchDo(c ifch.Command) error {
	sandbox.Busy()
	r, err := ifch.Exchange(e.ends.Ifch, c)
	if err != nil {
		return &fatalError{err}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("ifch refused: %w", err)
	}
	return nil
}

func (e *Engine) ifchCarrier() (bool, error) {
	r, err := ifch.Exchange(e.ends.Ifch, &ifch.Carrier{Interface: e.cfg.Link.Name})
	if err != nil {
		return false, err
	}
	if err := r.Err(); err != nil {
		return false, err
	}
	return r.Carrier == ifch.CarrierUp, nil
}
