package dhcp

import (
	"errors"
	"fmt"
	"strconv"
)

// Limits on DNS names (RFC 1035 section 2.3.4; 253 is the longest name in
// dotted text whose wire form fits the 255-octet limit).
const (
	MaxNameLen  = 253
	MaxLabelLen = 63
)

// DomainName is a validated DNS domain name in dotted text form, as found
// in option 15 (RFC 2132 section 3.17) and option 119 (RFC 3397): one or
// more labels of 1 to 63 octets, each made of ASCII letters, digits, '-' and
// '_', not starting or ending with '-', at most 253 octets in all, without
// the trailing dot. It cannot hold control characters, spaces, quotes, ';',
// '\\' or empty labels, so it is safe to write into resolv.conf or an IPC
// message. Case is preserved.
//
// The zero value is the empty name, which is not valid on the wire: it means
// "absent". DomainName is a fixed-size value (no heap allocation) and
// comparable with ==.
type DomainName struct {
	n uint8
	b [MaxNameLen]byte
}

// Hostname is a validated host name (RFC 952, RFC 1123 section 2.1), as
// found in option 12 (RFC 2132 section 3.14): like [DomainName] but letters,
// digits and '-' only. It may be fully qualified. Linux limits the kernel
// host name to 64 octets; whoever calls sethostname must check that limit.
//
// The zero value means "absent". Hostname is comparable with ==.
type Hostname struct {
	n uint8
	b [MaxNameLen]byte
}

// ParseDomainName validates s as a [DomainName]. One trailing dot is
// accepted and removed.
func ParseDomainName(s string) (DomainName, error) {
	var n DomainName
	if err := n.set([]byte(s)); err != nil {
		return DomainName{}, fmt.Errorf("dhcp: invalid domain name: %w", err)
	}
	return n, nil
}

// ParseHostname validates s as a [Hostname]. One trailing dot is accepted
// and removed.
func ParseHostname(s string) (Hostname, error) {
	var h Hostname
	if err := h.set([]byte(s)); err != nil {
		return Hostname{}, fmt.Errorf("dhcp: invalid host name: %w", err)
	}
	return h, nil
}

// set validates v and stores it in n, which is left unchanged on error. It
// clears only the octets the previous value used, so that reusing a value
// costs no more than the name; the unused tail stays zero, which keeps ==
// meaningful.
func (n *DomainName) set(v []byte) error {
	v, err := checkName(v, false)
	if err != nil {
		return err
	}
	old := n.n
	n.n = uint8(copy(n.b[:], v))
	if old > n.n {
		clear(n.b[n.n:old])
	}
	return nil
}

func (h *Hostname) set(v []byte) error {
	v, err := checkName(v, true)
	if err != nil {
		return err
	}
	old := h.n
	h.n = uint8(copy(h.b[:], v))
	if old > h.n {
		clear(h.b[h.n:old])
	}
	return nil
}

func (n *DomainName) reset() {
	clear(n.b[:n.n])
	n.n = 0
}

func (h *Hostname) reset() {
	clear(h.b[:h.n])
	h.n = 0
}

// String returns the name in dotted form, or "" for the zero value.
func (n DomainName) String() string { return string(n.b[:n.n]) }

// IsZero reports whether n is the zero (absent) name.
func (n DomainName) IsZero() bool { return n.n == 0 }

// AppendText appends the dotted form of n to b. It implements
// encoding.TextAppender.
func (n DomainName) AppendText(b []byte) ([]byte, error) { return append(b, n.b[:n.n]...), nil }

// MarshalText returns the dotted form of n.
func (n DomainName) MarshalText() ([]byte, error) { return n.AppendText(nil) }

// UnmarshalText validates b as a domain name; empty text gives the zero
// value.
func (n *DomainName) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*n = DomainName{}
		return nil
	}
	var v DomainName
	if err := v.set(b); err != nil {
		return fmt.Errorf("dhcp: invalid domain name: %w", err)
	}
	*n = v
	return nil
}

// String returns the name in dotted form, or "" for the zero value.
func (h Hostname) String() string { return string(h.b[:h.n]) }

// IsZero reports whether h is the zero (absent) name.
func (h Hostname) IsZero() bool { return h.n == 0 }

// AppendText appends the dotted form of h to b. It implements
// encoding.TextAppender.
func (h Hostname) AppendText(b []byte) ([]byte, error) { return append(b, h.b[:h.n]...), nil }

// MarshalText returns the dotted form of h.
func (h Hostname) MarshalText() ([]byte, error) { return h.AppendText(nil) }

// UnmarshalText validates b as a host name; empty text gives the zero value.
func (h *Hostname) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*h = Hostname{}
		return nil
	}
	var v Hostname
	if err := v.set(b); err != nil {
		return fmt.Errorf("dhcp: invalid host name: %w", err)
	}
	*h = v
	return nil
}

// checkName validates a dotted name and returns it without its trailing dot.
func checkName(v []byte, host bool) ([]byte, error) {
	if len(v) > 0 && v[len(v)-1] == '.' {
		v = v[:len(v)-1]
	}
	if len(v) == 0 {
		return nil, errors.New("empty name")
	}
	if len(v) > MaxNameLen {
		return nil, errors.New("name of " + strconv.Itoa(len(v)) + " octets, longer than " + strconv.Itoa(MaxNameLen))
	}
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '.' {
			if err := checkLabel(v[start:i], host); err != nil {
				return nil, err
			}
			start = i + 1
		}
	}
	return v, nil
}

// checkLabel validates one label: 1 to 63 octets of letters, digits, '-'
// (not first or last) and, unless host, '_'.
func checkLabel(l []byte, host bool) error {
	if len(l) == 0 {
		return errors.New("empty label")
	}
	if len(l) > MaxLabelLen {
		return errors.New("label of " + strconv.Itoa(len(l)) + " octets, longer than " + strconv.Itoa(MaxLabelLen))
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errors.New("label starts or ends with '-'")
	}
	want := labelDomain
	if host {
		want = labelHost
	}
	for _, c := range l {
		if labelChars[c]&want == 0 {
			return errors.New("invalid character " + strconv.QuoteRune(rune(c)) + " in label")
		}
	}
	return nil
}

// labelChars classifies each octet for checkLabel: a table lookup per
// octet instead of a chain of comparisons (the search list's labels are
// the largest part of a typical reply's parsing time).
var labelChars = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			t[c] = labelHost | labelDomain
		case c == '_':
			t[c] = labelDomain
		}
	}
	return t
}()

// The classes of labelChars.
const (
	labelHost   uint8 = 1 << iota // allowed in a host name's label
	labelDomain                   // allowed in a domain name's label
)

// decodeSearchList decodes the value of option 119 (RFC 3397 section 2): a
// sequence of names in DNS wire format, compressed as in RFC 1035 section
// 4.1.4 with pointers that are offsets into the (concatenated) option value.
// Every pointer must point before the start of the run of labels that
// contains it, which rules out loops and forward references; pointers out of
// the value, label types other than 0 and 3 (RFC 1035 section 4.1.4, RFC 6891
// section 5), labels or names too long, and the root name are errors.
func decodeSearchList(v []byte, dst []DomainName) (int, error) {
	if len(v) == 0 {
		return 0, errors.New("empty search list")
	}
	n := 0
	for pos := 0; pos < len(v); n++ {
		if n == len(dst) {
			return 0, errors.New("more than " + strconv.Itoa(len(dst)) + " names")
		}
		next, err := readName(v, pos, &dst[n])
		if err != nil {
			return 0, err
		}
		pos = next
	}
	return n, nil
}

// readName decodes the name at v[start:] into out and returns the offset
// just after it in the sequence. On error out is zeroed.
func readName(v []byte, start int, out *DomainName) (int, error) {
	old := out.n
	out.n = 0
	next, err := readLabels(v, start, out)
	if err != nil {
		*out = DomainName{}
		return 0, err
	}
	if old > out.n {
		clear(out.b[out.n:old])
	}
	return next, nil
}

func readLabels(v []byte, start int, out *DomainName) (int, error) {
	i, floor, next := start, start, -1
	for {
		if i >= len(v) {
			return 0, errShort("name")
		}
		c := v[i]
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if out.n == 0 {
					return 0, errors.New("empty name")
				}
				if next < 0 {
					next = i + 1
				}
				return next, nil
			}
			l := int(c)
			if i+1+l > len(v) {
				return 0, errShort("label")
			}
			label := v[i+1 : i+1+l]
			if err := checkLabel(label, false); err != nil {
				return 0, err
			}
			need := l
			if out.n > 0 {
				need++
			}
			if int(out.n)+need > MaxNameLen {
				return 0, errors.New("name longer than " + strconv.Itoa(MaxNameLen) + " octets")
			}
			if out.n > 0 {
				out.b[out.n] = '.'
				out.n++
			}
			copy(out.b[out.n:], label)
			out.n += uint8(l)
			i += 1 + l
		case 0xC0:
			if i+2 > len(v) {
				return 0, errShort("compression pointer")
			}
			ptr := int(c&0x3F)<<8 | int(v[i+1])
			if next < 0 {
				next = i + 2
			}
			if ptr >= len(v) {
				return 0, errors.New("compression pointer " + strconv.Itoa(ptr) + " out of range")
			}
			if ptr >= floor {
				return 0, errors.New("compression pointer " + strconv.Itoa(ptr) + " does not point backwards")
			}
			i, floor = ptr, ptr
		default:
			return 0, errors.New("unsupported label type " + strconv.Itoa(int(c>>6)))
		}
	}
}

// AppendDomainSearch appends the option 119 encoding (RFC 3397) of names to
// b, without compression. The value may exceed 255 octets; the encoder of the
// message splits it (RFC 3396).
func AppendDomainSearch(b []byte, names []DomainName) ([]byte, error) {
	if len(names) == 0 {
		return b, errors.New("dhcp: empty search list")
	}
	for _, n := range names {
		if n.n == 0 {
			return b, errors.New("dhcp: empty name in search list")
		}
		s := n.b[:n.n]
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == '.' {
				b = append(b, byte(i-start))
				b = append(b, s[start:i]...)
				start = i + 1
			}
		}
		b = append(b, 0)
	}
	return b, nil
}
