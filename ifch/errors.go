package ifch

import (
	"errors"
	"fmt"
)

// Code classifies a failure. It travels on the wire as a short lowercase
// token in an error reply, and it is an error itself, so that callers can
// write errors.Is(err, ifch.ErrNotUnicast) for any error this package or the
// applier returns.
type Code uint8

// The codes. CodeOK is success and never an error; every other value names
// one class of refusal. Their wire tokens are listed in the package
// documentation and never change meaning once published.
const (
	// CodeOK is the code of a successful reply.
	CodeOK Code = iota
	// ErrSyntax is a grammar violation. The receiver treats its peer as
	// broken or hostile and stops talking to it.
	ErrSyntax
	// ErrTooLarge is a message over MaxMessageSize. Fatal like ErrSyntax.
	ErrTooLarge
	// ErrWrongInterface is a command for an interface the policy does not
	// allow.
	ErrWrongInterface
	// ErrNotUnicast is an address that cannot be a host's unicast address:
	// 0/8, loopback, multicast, class E, the limited broadcast, or the
	// network or broadcast address of its own subnet.
	ErrNotUnicast
	// ErrLinkLocal is a 169.254/16 address when the policy forbids it.
	ErrLinkLocal
	// ErrOutOfRange is an address outside the policy's allowed ranges.
	ErrOutOfRange
	// ErrPrefixLength is a prefix length shorter than the policy's minimum.
	ErrPrefixLength
	// ErrBadBroadcast is a broadcast address other than the subnet's own, or
	// any broadcast address on a /31 or /32.
	ErrBadBroadcast
	// ErrNotOnLink is a router or gateway outside the address's subnet when
	// the policy requires it on-link.
	ErrNotOnLink
	// ErrBadRoute is a classless route whose destination has host bits set
	// or is not a unicast network.
	ErrBadRoute
	// ErrTooManyRoutes is more classless routes than the policy allows.
	ErrTooManyRoutes
	// ErrDefaultRoute is a classless default route when the policy forbids
	// it.
	ErrDefaultRoute
	// ErrDuplicate is the same route destination, DNS server or search
	// domain twice, or both a router and a classless default route.
	ErrDuplicate
	// ErrTooManyServers is more DNS servers than the policy allows.
	ErrTooManyServers
	// ErrBadName is a domain, search domain or hostname that is not a valid
	// DNS name or hostname.
	ErrBadName
	// ErrTooManyNames is a search list longer than the policy allows.
	ErrTooManyNames
	// ErrBadMTU is an MTU outside 68..65535 or below the policy's floor.
	ErrBadMTU
	// ErrBadLifetime is a zero or overflowing lifetime, or a preferred
	// lifetime longer than the valid one.
	ErrBadLifetime
	// ErrNoLink is a served interface that does not exist in the kernel.
	ErrNoLink
	// ErrApply is a kernel refusal while applying; the reason says what is
	// in place afterwards.
	ErrApply
	// ErrHostname is a failure to set the hostname after the interface was
	// configured.
	ErrHostname
	// ErrNotPermitted is a peer that is not allowed to talk to this ifch.
	ErrNotPermitted
	// ErrRoutePolicy is a classless route the policy does not take: option
	// 121 switched off, a prefix shorter than the policy's minimum, or a
	// destination overlapping another interface's connected subnet.
	ErrRoutePolicy

	numCodes // keep last
)

var codeNames = [numCodes]string{
	CodeOK:            "ok",
	ErrSyntax:         "syntax",
	ErrTooLarge:       "too-large",
	ErrWrongInterface: "wrong-interface",
	ErrNotUnicast:     "not-unicast",
	ErrLinkLocal:      "link-local",
	ErrOutOfRange:     "out-of-range",
	ErrPrefixLength:   "prefix-length",
	ErrBadBroadcast:   "bad-broadcast",
	ErrNotOnLink:      "not-on-link",
	ErrBadRoute:       "bad-route",
	ErrTooManyRoutes:  "too-many-routes",
	ErrDefaultRoute:   "default-route",
	ErrDuplicate:      "duplicate",
	ErrTooManyServers: "too-many-servers",
	ErrBadName:        "bad-name",
	ErrTooManyNames:   "too-many-names",
	ErrBadMTU:         "bad-mtu",
	ErrBadLifetime:    "bad-lifetime",
	ErrNoLink:         "no-link",
	ErrApply:          "apply-failed",
	ErrHostname:       "hostname-failed",
	ErrNotPermitted:   "not-permitted",
	ErrRoutePolicy:    "route-policy",
}

// String returns the wire token of c, or "code(N)" for an unknown value.
func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Error returns "ifch: " followed by the wire token.
func (c Code) Error() string { return "ifch: " + c.String() }

// Fatal reports whether a peer that sent a message earning this code must be
// dropped: the grammar or the size bound was violated.
func (c Code) Fatal() bool { return c == ErrSyntax || c == ErrTooLarge }

// codeFromString is the inverse of Code.String for known codes.
func codeFromString(s string) (Code, bool) {
	for i, n := range codeNames {
		if n == s {
			return Code(i), true
		}
	}
	return 0, false
}

// A SyntaxError is a grammar violation found while decoding a message.
type SyntaxError struct {
	Line int    // 1-based line of the message, 0 for the message as a whole
	Msg  string // what is wrong, never containing the offending bytes raw
}

// Error returns the message with its line.
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return "ifch: syntax: " + e.Msg
	}
	return fmt.Sprintf("ifch: syntax: line %d: %s", e.Line, e.Msg)
}

// Unwrap returns ErrSyntax, or ErrTooLarge for an oversized message.
func (e *SyntaxError) Unwrap() error {
	if e.Msg == msgTooLarge {
		return ErrTooLarge
	}
	return ErrSyntax
}

const msgTooLarge = "message too large"

// A PolicyError is a well-formed command that the policy refuses. Nothing was
// changed because of it.
type PolicyError struct {
	Code   Code   // why, on the wire
	Field  string // the field of the command, e.g. "router" or "route 2"
	Detail string // human detail, printable ASCII
}

// Error returns "ifch: CODE: FIELD: DETAIL".
func (e *PolicyError) Error() string {
	return fmt.Sprintf("ifch: %s: %s: %s", e.Code, e.Field, e.Detail)
}

// Unwrap returns the code, so errors.Is matches the Err* values.
func (e *PolicyError) Unwrap() error { return e.Code }

func refuse(c Code, field, format string, args ...any) *PolicyError {
	return &PolicyError{Code: c, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code carried by err: the Code it wraps, CodeOK for nil,
// and ErrApply for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var c Code
	if errors.As(err, &c) && c != CodeOK && c < numCodes {
		return c
	}
	return ErrApply
}
