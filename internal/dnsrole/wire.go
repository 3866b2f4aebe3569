// Package dnsrole is the optional ndhc role that hands each link's DNS
// servers and search domains to systemd-resolved over the system bus
// (--dns resolved), and ifch's side of its channel.
//
// Why a role of its own: D-Bus authenticates a connection with the
// credentials of the process that called connect(2), and a connection
// authenticated as uid 0 may ask systemd for nearly anything. So neither
// ifch (root until its sandbox, CAP_NET_ADMIN after) nor the supervisor
// talks to the bus: the dns role connects only once it is its own
// unprivileged user (ndhc-dns) inside its sandbox, and what resolved lets
// it do is what polkit grants that user (contrib/polkit/ndhc.rules).
//
// The channel between ifch and the role is a SOCK_SEQPACKET pair made by
// the supervisor. ifch, which has validated the lease already, sends one
// request a message (see Request for the format); the role answers with
// one byte, OK or Failed. A malformed message ends the receiver: the role
// exits and the supervisor ends the group.
package dnsrole

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"

	"github.com/ndhc-go/ndhc/ifch"
)

// Bounds of a request. ifch's own policy allows fewer (8 and 8 by
// default); the wire keeps room for an operator's larger limits.
const (
	MaxServers = 32
	MaxDomains = 32
	// MaxDomainLen is the longest domain name in text form (RFC 1035).
	MaxDomainLen = 253
	// MaxLen is the longest request: op, ifindex, two counts and the
	// largest lists.
	MaxLen = 1 + 4 + 1 + 4*MaxServers + 1 + MaxDomains*(1+MaxDomainLen)
)

// Operations and answers on the wire.
const (
	OpSet    byte = 'S'
	OpRevert byte = 'R'
	OK       byte = 'K'
	Failed   byte = 'F'
)

// Request is one message from ifch: set a link's servers and search
// domains (Op OpSet), or give the link back to resolved's own
// configuration (Op OpRevert, no lists).
//
// On the wire: the op byte; the interface index, 4 bytes big-endian, 1
// to 2^31-1; then for OpSet only: a count byte and that many IPv4
// addresses of 4 bytes, a count byte and that many domains, each a length
// byte (1 to MaxDomainLen) and the name. Nothing may follow.
type Request struct {
	Op      byte
	Ifindex int
	Servers []netip.Addr
	Domains []string
}

// Validate checks what Marshal and Unmarshal both require.
func (r *Request) Validate() error {
	if r.Ifindex < 1 || r.Ifindex > math.MaxInt32 {
		return fmt.Errorf("dns: interface index %d out of range", r.Ifindex)
	}
	switch r.Op {
	case OpRevert:
		if len(r.Servers) != 0 || len(r.Domains) != 0 {
			return errors.New("dns: a revert carries no servers or domains")
		}
		return nil
	case OpSet:
	default:
		return fmt.Errorf("dns: unknown operation %#x", r.Op)
	}
	if len(r.Servers) > MaxServers || len(r.Domains) > MaxDomains {
		return fmt.Errorf("dns: %d servers and %d domains, at most %d and %d", len(r.Servers), len(r.Domains), MaxServers, MaxDomains)
	}
	for _, a := range r.Servers {
		// The engine and ifch take IPv4 unicast servers only; the
		// unspecified and broadcast addresses are never servers.
		if !a.Is4() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.IsMulticast() {
			return fmt.Errorf("dns: server %v is not an IPv4 unicast address", a)
		}
	}
	for _, d := range r.Domains {
		if len(d) == 0 || len(d) > MaxDomainLen {
			return fmt.Errorf("dns: domain of %d bytes", len(d))
		}
		if err := ifch.CheckDomainName(d); err != nil {
			return fmt.Errorf("dns: domain %q: %w", d, err)
		}
	}
	return nil
}

// Marshal encodes a valid request.
func (r *Request) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b := []byte{r.Op}
	b = binary.BigEndian.AppendUint32(b, uint32(r.Ifindex))
	if r.Op == OpRevert {
		return b, nil
	}
	b = append(b, byte(len(r.Servers)))
	for _, a := range r.Servers {
		a4 := a.As4()
		b = append(b, a4[:]...)
	}
	b = append(b, byte(len(r.Domains)))
	for _, d := range r.Domains {
		b = append(b, byte(len(d)))
		b = append(b, d...)
	}
	return b, nil
}

// Unmarshal decodes and validates one request; any deviation from the
// format is an error.
func Unmarshal(b []byte) (*Request, error) {
	if len(b) > MaxLen {
		return nil, fmt.Errorf("dns: message of %d bytes, at most %d", len(b), MaxLen)
	}
	if len(b) < 5 {
		return nil, fmt.Errorf("dns: message of %d bytes is too short", len(b))
	}
	r := &Request{Op: b[0], Ifindex: int(binary.BigEndian.Uint32(b[1:5]))}
	rest := b[5:]
	if r.Op == OpSet {
		take := func(n int) ([]byte, error) {
			if len(rest) < n {
				return nil, errors.New("dns: message cut short")
			}
			out := rest[:n]
			rest = rest[n:]
			return out, nil
		}
		cnt, err := take(1)
		if err != nil {
			return nil, err
		}
		if int(cnt[0]) > MaxServers {
			return nil, fmt.Errorf("dns: %d servers, at most %d", cnt[0], MaxServers)
		}
		for range int(cnt[0]) {
			a, err := take(4)
			if err != nil {
				return nil, err
			}
			r.Servers = append(r.Servers, netip.AddrFrom4([4]byte(a)))
		}
		if cnt, err = take(1); err != nil {
			return nil, err
		}
		if int(cnt[0]) > MaxDomains {
			return nil, fmt.Errorf("dns: %d domains, at most %d", cnt[0], MaxDomains)
		}
		for range int(cnt[0]) {
			l, err := take(1)
			if err != nil {
				return nil, err
			}
			d, err := take(int(l[0]))
			if err != nil {
				return nil, err
			}
			r.Domains = append(r.Domains, string(d))
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("dns: %d bytes after the request", len(rest))
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}
