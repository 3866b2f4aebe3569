package hook

import (
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
)

// Input is the JSON object a hook reads on its standard input: the event
// and the lease it concerns. Names are strings checked by the DHCP
// decoder and escaped by the JSON encoder; addresses are dotted quads.
type Input struct {
	Event     string `json:"event"`
	Interface string `json:"interface"`
	// Time is when ndhc saw the event (RFC 3339, UTC).
	Time time.Time `json:"time"`
	// Address is the address the event concerns when there is one (the
	// conflicting address of a conflict, the lease's otherwise).
	Address string `json:"address,omitempty"`
	// Dropped counts the events dropped, since the previous run, because
	// the queue was full: the hook missed them.
	Dropped uint64 `json:"dropped,omitempty"`
	// Lease is the lease the event concerns: the new one for bound,
	// renewed and rebound, the last one ndhc held for the others; null
	// when there is none (or the lease file could not be read).
	Lease *LeaseInput `json:"lease"`
}

// LeaseInput is a lease as hooks see it.
type LeaseInput struct {
	Address   string       `json:"address"`
	Prefix    int          `json:"prefix"`
	Broadcast string       `json:"broadcast,omitempty"`
	Routers   []string     `json:"routers"`
	Routes    []RouteInput `json:"routes"`
	Server    string       `json:"server"`
	DNS       []string     `json:"dns"`
	Domain    string       `json:"domain"`
	Search    []string     `json:"search"`
	// NTP are the NTP servers of option 42.
	NTP      []string `json:"ntp"`
	MTU      uint16   `json:"mtu,omitempty"`
	Hostname string   `json:"hostname"`
	// LeaseSeconds, T1Seconds and T2Seconds count from Acquired;
	// 4294967295 is an infinite lease.
	LeaseSeconds uint32    `json:"lease_seconds"`
	T1Seconds    uint32    `json:"t1_seconds"`
	T2Seconds    uint32    `json:"t2_seconds"`
	Acquired     time.Time `json:"acquired"`
}

// RouteInput is one classless static route (option 121).
type RouteInput struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
}

func seconds(d time.Duration) uint32 {
	if d == client.InfiniteLease {
		return 1<<32 - 1
	}
	return uint32(d / time.Second)
}

// leaseInput is l as hooks see it; nil for nil.
func leaseInput(l *client.Lease) *LeaseInput {
	if l == nil {
		return nil
	}
	in := &LeaseInput{
		Address: l.Addr.Addr().String(), Prefix: l.Addr.Bits(), Server: l.ServerID.String(),
		Domain: l.Domain.String(), Hostname: l.Hostname.String(), MTU: l.MTU,
		Routers: []string{}, Routes: []RouteInput{}, DNS: []string{}, Search: []string{}, NTP: []string{},
		LeaseSeconds: seconds(l.LeaseTime), T1Seconds: seconds(l.T1), T2Seconds: seconds(l.T2), Acquired: l.Acquired.UTC(),
	}
	if l.Broadcast.IsValid() {
		in.Broadcast = l.Broadcast.String()
	}
	for _, a := range l.Routers {
		in.Routers = append(in.Routers, a.String())
	}
	for _, r := range l.Routes {
		in.Routes = append(in.Routes, RouteInput{Dst: r.Dst.String(), Gateway: r.Gateway.String()})
	}
	for _, a := range l.DNS {
		in.DNS = append(in.DNS, a.String())
	}
	for _, n := range l.Search {
		in.Search = append(in.Search, n.String())
	}
	for _, a := range l.NTP {
		in.NTP = append(in.NTP, a.String())
	}
	return in
}
