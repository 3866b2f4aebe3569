package ifch

import (
	"errors"
	"fmt"
)

// Name limits (RFC 1035 section 2.3.4; Linux HOST_NAME_MAX for hostnames).
const (
	maxNameLen     = 253 // presentation form without the trailing dot
	maxLabelLen    = 63
	maxHostnameLen = 64
)

// CheckDomainName accepts a domain name in presentation form made of
// letter-digit-hyphen labels (RFC 1123 section 2.1): no empty label, no
// label over 63 bytes, no label starting or ending with a hyphen, at most 253
// bytes, no trailing dot. It is deliberately independent of the engine's own
// parser in package dhcp (which accepts what DNS allows on the wire): it is
// the rule for names that reach the system, applied by the engine before it
// asks (Policy.Sanitize), by ifch again on what it is sent, and by the
// hostname role.
func CheckDomainName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("name of %d bytes is over %d", len(s), maxNameLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !isAlnum(c) && c != '-' {
				return fmt.Errorf("byte %d (0x%02x) is not a letter, digit or hyphen", i, c)
			}
			continue
		}
		label := s[start:i]
		switch {
		case label == "":
			return errors.New("empty label")
		case len(label) > maxLabelLen:
			return fmt.Errorf("label of %d bytes is over %d", len(label), maxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return errors.New("label starts or ends with a hyphen")
		}
		start = i + 1
	}
	return nil
}

// CheckHostname accepts a hostname: a domain name (see CheckDomainName) of at
// most 64 bytes, the most sethostname(2) takes on Linux.
func CheckHostname(s string) error {
	if len(s) > maxHostnameLen {
		return fmt.Errorf("hostname of %d bytes is over %d", len(s), maxHostnameLen)
	}
	return CheckDomainName(s)
}
