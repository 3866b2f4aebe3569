package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Route is a static route: packets for Dst go through Gateway. A Gateway of
// 0.0.0.0 means that Dst is on the link (RFC 3442 section 2, "router address
// 0.0.0.0"). Both are IPv4; Dst is masked (no bits past its length).
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// String returns "dst via gateway".
func (r Route) String() string {
	return r.Dst.String() + " via " + r.Gateway.String()
}

// Valid reports whether r is an IPv4 route with a masked destination.
func (r Route) Valid() bool {
	return r.Dst.IsValid() && r.Dst.Addr().Is4() && r.Dst.Masked() == r.Dst && r.Gateway.Is4()
}

// decodeRoutes decodes the value of option 121 (RFC 3442 section 2): a
// sequence of (prefix length, significant octets of the destination,
// router). A prefix length over 32, destination bits set past the prefix
// length, a route cut short and an empty option are errors.
func decodeRoutes(v []byte, dst []Route) (int, error) {
	if len(v) == 0 {
		return 0, errors.New("no routes")
	}
	n := 0
	for i := 0; i < len(v); n++ {
		bits := int(v[i])
		if bits > 32 {
			return 0, errors.New("prefix length " + strconv.Itoa(bits) + " over 32")
		}
		sig := (bits + 7) / 8
		if i+1+sig+4 > len(v) {
			return 0, errShort("route")
		}
		if n == len(dst) {
			return 0, errors.New("more than " + strconv.Itoa(len(dst)) + " routes")
		}
		var a [4]byte
		copy(a[:], v[i+1:i+1+sig])
		p := netip.PrefixFrom(netip.AddrFrom4(a), bits)
		if binary.BigEndian.Uint32(a[:])&^(^uint32(0)<<(32-bits)) != 0 {
			return 0, errors.New("destination " + p.String() + " has bits set past its prefix length")
		}
		gw := [4]byte(v[i+1+sig : i+1+sig+4])
		dst[n] = Route{Dst: p, Gateway: netip.AddrFrom4(gw)}
		i += 1 + sig + 4
	}
	return n, nil
}

// AppendRoutes appends the option 121 encoding (RFC 3442 section 2) of
// routes to b. Every route must be [Route.Valid].
func AppendRoutes(b []byte, routes []Route) ([]byte, error) {
	if len(routes) == 0 {
		return b, errors.New("dhcp: no routes")
	}
	for _, r := range routes {
		if !r.Valid() {
			return b, errors.New("dhcp: invalid route " + r.String())
		}
		bits := r.Dst.Bits()
		a := r.Dst.Addr().As4()
		g := r.Gateway.As4()
		b = append(b, byte(bits))
		b = append(b, a[:(bits+7)/8]...)
		b = append(b, g[:]...)
	}
	return b, nil
}
