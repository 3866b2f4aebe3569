package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
)

// InfiniteLease is the lease duration of an infinite lease: a lease time
// option of 0xffffffff (RFC 2131 section 3.3). A lease of this duration never
// expires and is never renewed unless the server gave finite T1 and T2.
const InfiniteLease = time.Duration(math.MaxInt64)

// infiniteSeconds is the wire value of an infinite lease time.
const infiniteSeconds = math.MaxUint32

// MaxLeaseFile is the largest encoded lease [ParseLease] and
// [Lease.UnmarshalJSON] accept. A lease with every list full encodes in
// about 12 KiB.
const MaxLeaseFile = 64 << 10

// leaseVersion is the version field of the JSON encoding.
const leaseVersion = 1

// Lease is a DHCP lease: the address and the configuration a server granted
// (RFC 2131 section 3.1 step 5, RFC 2132) and when it was granted. It is what
// the engine sends to ifch and saves in the lease file.
//
// A Lease built by the client or decoded from JSON has passed
// [Lease.Validate]. The client never changes a Lease it has handed out in
// an action: it makes a new one.
type Lease struct {
	// Addr is the leased address (yiaddr) with the prefix length of the
	// subnet mask (RFC 2132 section 3.3).
	Addr netip.Prefix
	// Broadcast is the broadcast address (option 28, RFC 2132 section
	// 5.3); the zero Addr when the server sent none.
	Broadcast netip.Addr
	// Routers are the routers of option 3 (RFC 2132 section 3.5). They are
	// empty when Routes is not: a client that gets option 121 must ignore
	// option 3 (RFC 3442 section 2).
	Routers []netip.Addr
	// Routes are the classless static routes of option 121 (RFC 3442).
	Routes []dhcp.Route
	// DNS are the domain name servers of option 6 (RFC 2132 section 3.8).
	DNS []netip.Addr
	// Domain is the domain name of option 15 (RFC 2132 section 3.17).
	Domain dhcp.DomainName
	// Search is the domain search list of option 119 (RFC 3397).
	Search []dhcp.DomainName
	// MTU is the interface MTU of option 26 (RFC 2132 section 5.1); 0 when
	// absent.
	MTU uint16
	// Hostname is the host name of option 12 (RFC 2132 section 3.14).
	Hostname dhcp.Hostname
	// NTP are the NTP servers of option 42 (RFC 2132 section 8.3).
	NTP []netip.Addr
	// ServerID is the server identifier (option 54, RFC 2132 section 9.7):
	// where RENEWING requests and DHCPRELEASE go.
	ServerID netip.Addr
	// LeaseTime is the lease duration (option 51, RFC 2132 section 9.2) in
	// whole seconds, or InfiniteLease.
	LeaseTime time.Duration
	// T1 and T2 are the renewal and rebinding times (RFC 2131 section
	// 4.4.5) counted from Acquired, in whole seconds; InfiniteLease for
	// both when an infinite lease needs no renewal.
	T1, T2 time.Duration
	// Acquired is when the lease starts: the time the client sent the
	// request that the DHCPACK answered (RFC 2131 section 4.4.1).
	Acquired time.Time
	// RouterMAC is the hardware address the gateway answered ARP with
	// after the lease was bound (RFC 4436 section 2.2); zero when unknown.
	RouterMAC dhcp.MAC
}

// Gateway returns the default gateway of l: the gateway of a 0.0.0.0/0
// classless route if there is one, otherwise the first router of option 3,
// otherwise the zero Addr (RFC 3442 section 2).
func (l *Lease) Gateway() netip.Addr {
	if len(l.Routes) > 0 {
		for _, r := range l.Routes {
			if r.Dst.Bits() == 0 && !r.Gateway.IsUnspecified() {
				return r.Gateway
			}
		}
		return netip.Addr{}
	}
	if len(l.Routers) > 0 {
		return l.Routers[0]
	}
	return netip.Addr{}
}

// Infinite reports whether l never expires.
func (l *Lease) Infinite() bool { return l.LeaseTime == InfiniteLease }

// Expiry returns when l expires, or the zero Time for an infinite lease.
func (l *Lease) Expiry() time.Time {
	if l.Infinite() {
		return time.Time{}
	}
	return l.Acquired.Add(l.LeaseTime)
}

// RenewAt returns when the client moves to RENEWING (T1, RFC 2131 section
// 4.4.5), or the zero Time if never.
func (l *Lease) RenewAt() time.Time {
	if l.T1 == InfiniteLease {
		return time.Time{}
	}
	return l.Acquired.Add(l.T1)
}

// RebindAt returns when the client moves to REBINDING (T2, RFC 2131 section
// 4.4.5), or the zero Time if never.
func (l *Lease) RebindAt() time.Time {
	if l.T2 == InfiniteLease {
		return time.Time{}
	}
	return l.Acquired.Add(l.T2)
}

// Expired reports whether l has expired at now.
func (l *Lease) Expired(now time.Time) bool {
	return !l.Infinite() && !now.Before(l.Expiry())
}

// Remaining returns how long l is still valid at now: 0 once it has
// expired, InfiniteLease for an infinite lease.
func (l *Lease) Remaining(now time.Time) time.Duration {
	if l.Infinite() {
		return InfiniteLease
	}
	return max(l.Expiry().Sub(now), 0)
}

// Clone returns a deep copy of l.
func (l *Lease) Clone() *Lease {
	n := *l
	n.Routers = slices.Clone(l.Routers)
	n.Routes = slices.Clone(l.Routes)
	n.DNS = slices.Clone(l.DNS)
	n.Search = slices.Clone(l.Search)
	n.NTP = slices.Clone(l.NTP)
	return &n
}

// Equal reports whether l and m hold the same values. A nil and an empty
// list are equal, and so are the same instants in different locations.
func (l *Lease) Equal(m *Lease) bool {
	if l == nil || m == nil {
		return l == m
	}
	return l.sameConfig(m) && l.LeaseTime == m.LeaseTime && l.T1 == m.T1 && l.T2 == m.T2 &&
		l.Acquired.Equal(m.Acquired) && l.RouterMAC == m.RouterMAC
}

// sameConfig reports whether l and m configure the interface the same way,
// lifetimes aside.
func (l *Lease) sameConfig(m *Lease) bool {
	return l.Addr == m.Addr && l.Broadcast == m.Broadcast && slices.Equal(l.Routers, m.Routers) &&
		slices.Equal(l.Routes, m.Routes) && slices.Equal(l.DNS, m.DNS) && l.Domain == m.Domain &&
		slices.Equal(l.Search, m.Search) && l.MTU == m.MTU && l.Hostname == m.Hostname &&
		slices.Equal(l.NTP, m.NTP) && l.ServerID == m.ServerID
}

// usableUnicast reports whether a can be a host's IPv4 address: not
// 0.0.0.0/8, loopback, multicast, class E or the limited broadcast
// (RFC 1122 section 3.2.1.3, RFC 5735).
func usableUnicast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] != 0 && !a.IsLoopback() && !a.IsMulticast() && b[0] < 240
}

// checkAddrs validates a list of server addresses.
func checkAddrs(what string, as []netip.Addr) error {
	if len(as) > dhcp.MaxAddrs {
		return errors.New("dhcp: lease: " + strconv.Itoa(len(as)) + " " + what + ", at most " + strconv.Itoa(dhcp.MaxAddrs))
	}
	for _, a := range as {
		if !usableUnicast(a) {
			return errors.New("dhcp: lease: " + what + " address " + a.String() + " is not unicast IPv4")
		}
	}
	return nil
}

// checkSeconds validates a duration that must be a positive whole number of
// seconds that fits the 32-bit option field below the infinite value.
func checkSeconds(what string, d time.Duration) error {
	if d <= 0 || d%time.Second != 0 || d/time.Second >= infiniteSeconds {
		return errors.New("dhcp: lease: " + what + " " + d.String() + " is not a whole number of seconds in 1 to 4294967294")
	}
	return nil
}

// Validate checks every field of l as the engine and ifch need it: an IPv4
// unicast address with a prefix length of 1 to 32 that is neither the
// network nor the broadcast address of a prefix of 30 bits or less; unicast
// routers, DNS, NTP and server addresses, each list within the bounds of a
// [dhcp.Reply]; routes that are [dhcp.Route.Valid] and no routers beside them
// (RFC 3442 section 2); an MTU of 0 or at least [dhcp.MinMTU]; lease times in
// whole seconds with 0 < T1 < T2 < LeaseTime, or an infinite lease with T1
// and T2 both infinite or finite and ordered; an acquisition time in years
// 1 to 9999; and a unicast RouterMAC when one is set.
func (l *Lease) Validate() error {
	a := l.Addr.Addr()
	if !l.Addr.IsValid() || !usableUnicast(a) {
		return errors.New("dhcp: lease: address " + l.Addr.String() + " is not unicast IPv4")
	}
	bits := l.Addr.Bits()
	if bits < 1 {
		return errors.New("dhcp: lease: prefix length 0")
	}
	if bits <= 30 {
		p := l.Addr.Masked()
		if a == p.Addr() || a == lastAddr(p) {
			return errors.New("dhcp: lease: address " + l.Addr.String() + " is the network or broadcast address")
		}
	}
	if l.Broadcast.IsValid() && (!l.Broadcast.Is4() || l.Broadcast.IsUnspecified()) {
		return errors.New("dhcp: lease: broadcast " + l.Broadcast.String() + " is not IPv4")
	}
	if err := checkAddrs("router", l.Routers); err != nil {
		return err
	}
	if len(l.Routes) > dhcp.MaxRoutes {
		return errors.New("dhcp: lease: " + strconv.Itoa(len(l.Routes)) + " routes, at most " + strconv.Itoa(dhcp.MaxRoutes))
	}
	for _, r := range l.Routes {
		if !r.Valid() {
			return errors.New("dhcp: lease: invalid route " + r.String())
		}
	}
	if len(l.Routes) > 0 && len(l.Routers) > 0 {
		return errors.New("dhcp: lease: routers beside classless routes")
	}
	if err := checkAddrs("dns", l.DNS); err != nil {
		return err
	}
	if err := checkAddrs("ntp", l.NTP); err != nil {
		return err
	}
	if len(l.Search) > dhcp.MaxSearchDomains {
		return errors.New("dhcp: lease: " + strconv.Itoa(len(l.Search)) + " search domains, at most " + strconv.Itoa(dhcp.MaxSearchDomains))
	}
	for _, n := range l.Search {
		if n.IsZero() {
			return errors.New("dhcp: lease: empty search domain")
		}
	}
	if l.MTU != 0 && l.MTU < dhcp.MinMTU {
		return errors.New("dhcp: lease: mtu " + strconv.Itoa(int(l.MTU)) + " below " + strconv.Itoa(dhcp.MinMTU))
	}
	if !usableUnicast(l.ServerID) {
		return errors.New("dhcp: lease: server identifier " + l.ServerID.String() + " is not unicast IPv4")
	}
	if err := l.checkTimes(); err != nil {
		return err
	}
	if y := l.Acquired.Year(); l.Acquired.IsZero() || y < 1 || y > 9999 {
		return errors.New("dhcp: lease: acquisition time out of range")
	}
	if l.RouterMAC != (dhcp.MAC{}) && l.RouterMAC[0]&1 != 0 {
		return errors.New("dhcp: lease: router mac " + l.RouterMAC.String() + " is not unicast")
	}
	return nil
}

func (l *Lease) checkTimes() error {
	if l.Infinite() && l.T1 == InfiniteLease && l.T2 == InfiniteLease {
		return nil
	}
	if !l.Infinite() {
		if err := checkSeconds("lease time", l.LeaseTime); err != nil {
			return err
		}
	}
	if err := checkSeconds("t1", l.T1); err != nil {
		return err
	}
	if err := checkSeconds("t2", l.T2); err != nil {
		return err
	}
	if l.T1 >= l.T2 || l.T2 >= l.LeaseTime {
		return errors.New("dhcp: lease: want 0 < t1 < t2 < lease time, have " + l.T1.String() + ", " + l.T2.String() + ", " + l.LeaseTime.String())
	}
	return nil
}

// lastAddr returns the last address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// leaseJSON is the JSON encoding of a Lease. Addresses are text, durations
// whole seconds (4294967295: infinite, as on the wire).
type leaseJSON struct {
	Version   int         `json:"version"`
	Address   string      `json:"address"`
	Broadcast string      `json:"broadcast,omitempty"`
	Routers   []string    `json:"routers,omitempty"`
	Routes    []routeJSON `json:"routes,omitempty"`
	DNS       []string    `json:"dns,omitempty"`
	Domain    string      `json:"domain,omitempty"`
	Search    []string    `json:"search,omitempty"`
	MTU       uint16      `json:"mtu,omitempty"`
	Hostname  string      `json:"hostname,omitempty"`
	NTP       []string    `json:"ntp,omitempty"`
	ServerID  string      `json:"server_id"`
	LeaseTime uint32      `json:"lease_seconds"`
	T1        uint32      `json:"t1_seconds"`
	T2        uint32      `json:"t2_seconds"`
	Acquired  string      `json:"acquired"`
	RouterMAC string      `json:"router_mac,omitempty"`
}

type routeJSON struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
}

func seconds(d time.Duration) uint32 {
	if d == InfiniteLease {
		return infiniteSeconds
	}
	return uint32(d / time.Second)
}

func fromSeconds(s uint32) time.Duration {
	if s == infiniteSeconds {
		return InfiniteLease
	}
	return time.Duration(s) * time.Second
}

func addrStrings(as []netip.Addr) []string {
	if len(as) == 0 {
		return nil
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return s
}

// MarshalJSON encodes a valid lease as a JSON object (the lease file
// format). The acquisition time is written in UTC with nanoseconds
// (RFC 3339).
func (l Lease) MarshalJSON() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	w := leaseJSON{
		Version:   leaseVersion,
		Address:   l.Addr.String(),
		Routers:   addrStrings(l.Routers),
		DNS:       addrStrings(l.DNS),
		Domain:    l.Domain.String(),
		MTU:       l.MTU,
		Hostname:  l.Hostname.String(),
		NTP:       addrStrings(l.NTP),
		ServerID:  l.ServerID.String(),
		LeaseTime: seconds(l.LeaseTime),
		T1:        seconds(l.T1),
		T2:        seconds(l.T2),
		Acquired:  l.Acquired.UTC().Format(time.RFC3339Nano),
	}
	if l.Broadcast.IsValid() {
		w.Broadcast = l.Broadcast.String()
	}
	for _, r := range l.Routes {
		w.Routes = append(w.Routes, routeJSON{Dst: r.Dst.String(), Gateway: r.Gateway.String()})
	}
	for _, n := range l.Search {
		w.Search = append(w.Search, n.String())
	}
	if l.RouterMAC != (dhcp.MAC{}) {
		w.RouterMAC = l.RouterMAC.String()
	}
	return json.Marshal(&w)
}

// ParseLease decodes a lease file (see [Lease.UnmarshalJSON]). It is the
// function to call on untrusted bytes: it rejects input over [MaxLeaseFile]
// before looking at it.
func ParseLease(b []byte) (*Lease, error) {
	l := new(Lease)
	if err := l.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return l, nil
}

// UnmarshalJSON decodes a lease strictly: at most [MaxLeaseFile] octets,
// exactly one JSON object with a known version, no unknown fields, every
// address, route and name parsed again and the whole lease checked with
// [Lease.Validate]. On error l is unchanged.
func (l *Lease) UnmarshalJSON(b []byte) error {
	if len(b) > MaxLeaseFile {
		return errors.New("dhcp: lease: " + strconv.Itoa(len(b)) + " octets, more than " + strconv.Itoa(MaxLeaseFile))
	}
	var w leaseJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("dhcp: lease: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("dhcp: lease: data after the object")
	}
	if w.Version != leaseVersion {
		return errors.New("dhcp: lease: unknown version " + strconv.Itoa(w.Version))
	}
	n, err := w.lease()
	if err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return err
	}
	*l = *n
	return nil
}

func parseAddr(what, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("dhcp: lease: %s %q is not an IPv4 address", what, s)
	}
	return a, nil
}

func parseAddrs(what string, ss []string) ([]netip.Addr, error) {
	if len(ss) > dhcp.MaxAddrs {
		return nil, errors.New("dhcp: lease: " + strconv.Itoa(len(ss)) + " " + what + ", at most " + strconv.Itoa(dhcp.MaxAddrs))
	}
	var as []netip.Addr
	for _, s := range ss {
		a, err := parseAddr(what, s)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, nil
}

func (w *leaseJSON) lease() (*Lease, error) {
	l := new(Lease)
	var err error
	if l.Addr, err = netip.ParsePrefix(w.Address); err != nil || !l.Addr.Addr().Is4() {
		return nil, fmt.Errorf("dhcp: lease: address %q is not an IPv4 prefix", w.Address)
	}
	if w.Broadcast != "" {
		if l.Broadcast, err = parseAddr("broadcast", w.Broadcast); err != nil {
			return nil, err
		}
	}
	if l.Routers, err = parseAddrs("routers", w.Routers); err != nil {
		return nil, err
	}
	if len(w.Routes) > dhcp.MaxRoutes {
		return nil, errors.New("dhcp: lease: " + strconv.Itoa(len(w.Routes)) + " routes, at most " + strconv.Itoa(dhcp.MaxRoutes))
	}
	for _, r := range w.Routes {
		dst, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			return nil, fmt.Errorf("dhcp: lease: route destination %q is not a prefix", r.Dst)
		}
		gw, err := parseAddr("route gateway", r.Gateway)
		if err != nil {
			return nil, err
		}
		l.Routes = append(l.Routes, dhcp.Route{Dst: dst, Gateway: gw})
	}
	if l.DNS, err = parseAddrs("dns", w.DNS); err != nil {
		return nil, err
	}
	if w.Domain != "" {
		if l.Domain, err = dhcp.ParseDomainName(w.Domain); err != nil {
			return nil, err
		}
		if l.Domain.String() != w.Domain {
			return nil, fmt.Errorf("dhcp: lease: domain %q is not in canonical form", w.Domain)
		}
	}
	if len(w.Search) > dhcp.MaxSearchDomains {
		return nil, errors.New("dhcp: lease: " + strconv.Itoa(len(w.Search)) + " search domains, at most " + strconv.Itoa(dhcp.MaxSearchDomains))
	}
	for _, s := range w.Search {
		n, err := dhcp.ParseDomainName(s)
		if err != nil {
			return nil, err
		}
		if n.String() != s {
			return nil, fmt.Errorf("dhcp: lease: search domain %q is not in canonical form", s)
		}
		l.Search = append(l.Search, n)
	}
	l.MTU = w.MTU
	if w.Hostname != "" {
		if l.Hostname, err = dhcp.ParseHostname(w.Hostname); err != nil {
			return nil, err
		}
		if l.Hostname.String() != w.Hostname {
			return nil, fmt.Errorf("dhcp: lease: host name %q is not in canonical form", w.Hostname)
		}
	}
	if l.NTP, err = parseAddrs("ntp", w.NTP); err != nil {
		return nil, err
	}
	if l.ServerID, err = parseAddr("server identifier", w.ServerID); err != nil {
		return nil, err
	}
	l.LeaseTime, l.T1, l.T2 = fromSeconds(w.LeaseTime), fromSeconds(w.T1), fromSeconds(w.T2)
	if l.Acquired, err = time.Parse(time.RFC3339Nano, w.Acquired); err != nil {
		return nil, fmt.Errorf("dhcp: lease: acquisition time %q is not RFC 3339", w.Acquired)
	}
	l.Acquired = l.Acquired.UTC()
	if w.RouterMAC != "" {
		if err := l.RouterMAC.UnmarshalText([]byte(w.RouterMAC)); err != nil {
			return nil, fmt.Errorf("dhcp: lease: router mac %q is not an ethernet address", w.RouterMAC)
		}
		if l.RouterMAC.String() != w.RouterMAC {
			return nil, fmt.Errorf("dhcp: lease: router mac %q is not in canonical form", w.RouterMAC)
		}
	}
	return l, nil
}
