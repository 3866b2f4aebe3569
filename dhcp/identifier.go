package dhcp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// ClientID is a validated client identifier, the value of option 61
// (RFC 2132 section 9.14): a type octet and at least one more octet, at most
// 255 in all. Type 255 is the RFC 4361 section 6.1 form: IAID (4 octets) and
// DUID (RFC 8415 section 11: a 2-octet type and 1 to 128 more octets). The
// zero value means "no client identifier". ClientID is comparable with ==.
type ClientID struct {
	s string
}

// Client identifier types used by this package.
const (
	ClientIDTypeEthernet = 1   // RFC 2132 section 9.14: htype 1 + MAC
	ClientIDTypeDUID     = 255 // RFC 4361 section 6.1: IAID + DUID
)

// ParseClientID validates b as the value of option 61.
func ParseClientID(b []byte) (ClientID, error) {
	id, err := parseClientID(b)
	if err != nil {
		return ClientID{}, &OptionError{Code: OptClientID, Err: err}
	}
	return id, nil
}

func parseClientID(b []byte) (ClientID, error) {
	if err := checkClientID(b); err != nil {
		return ClientID{}, err
	}
	return ClientID{s: string(b)}, nil
}

func checkClientID(b []byte) error {
	if len(b) < 2 || len(b) > 255 {
		return errWrongLen(len(b), "2 to 255")
	}
	if b[0] == ClientIDTypeDUID {
		// type, IAID (4), DUID type (2), at least 1 and at most 128 octets.
		if len(b) < 1+4+2+1 || len(b) > 1+4+2+128 {
			return errors.New("rfc 4361 identifier of " + strconv.Itoa(len(b)) + " octets, want 8 to 135")
		}
	}
	return nil
}

// NewClientIDDUID returns the RFC 4361 section 6.1 client identifier for an
// IAID and a DUID (RFC 8415 section 11).
func NewClientIDDUID(iaid uint32, duid []byte) (ClientID, error) {
	b := make([]byte, 0, 5+len(duid))
	b = append(b, ClientIDTypeDUID)
	b = binary.BigEndian.AppendUint32(b, iaid)
	b = append(b, duid...)
	return ParseClientID(b)
}

// NewClientIDMAC returns the client identifier made of hardware type 1
// (Ethernet) and mac (RFC 2132 section 9.14).
func NewClientIDMAC(mac MAC) ClientID {
	return ClientID{s: string(append([]byte{ClientIDTypeEthernet}, mac[:]...))}
}

// IsZero reports whether id is the zero (absent) identifier.
func (id ClientID) IsZero() bool { return id.s == "" }

// Len returns the length of the identifier in octets.
func (id ClientID) Len() int { return len(id.s) }

// AppendBinary appends the option value of id to b.
func (id ClientID) AppendBinary(b []byte) ([]byte, error) { return append(b, id.s...), nil }

// Matches reports whether id has the value b, such as the option 61 echoed
// by a server (RFC 6842 section 3).
func (id ClientID) Matches(b []byte) bool { return id.s == string(b) }

// IAID returns the IAID of an RFC 4361 identifier.
func (id ClientID) IAID() (uint32, bool) {
	if len(id.s) < 5 || id.s[0] != ClientIDTypeDUID {
		return 0, false
	}
	return binary.BigEndian.Uint32([]byte(id.s[1:5])), true
}

// DUID returns the DUID of an RFC 4361 identifier.
func (id ClientID) DUID() ([]byte, bool) {
	if len(id.s) < 5 || id.s[0] != ClientIDTypeDUID {
		return nil, false
	}
	return []byte(id.s[5:]), true
}

// MarshalText returns the identifier as colon-separated hex octets, the
// form String returns.
func (id ClientID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses colon-separated (or plain) hex octets and validates
// them as a client identifier; empty text gives the zero value.
func (id *ClientID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = ClientID{}
		return nil
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(string(b), ":", ""))
	if err != nil {
		return errors.New("dhcp: client identifier is not hex")
	}
	v, err := ParseClientID(raw)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// String returns the identifier as colon-separated hex octets.
func (id ClientID) String() string {
	if id.s == "" {
		return ""
	}
	h := hex.EncodeToString([]byte(id.s))
	out := make([]byte, 0, len(h)+len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, h[i:i+2]...)
	}
	return string(out)
}
