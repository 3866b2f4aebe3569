package ifch

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Keywords of the grammar, in the order their lines must appear in a
// configure message.
const (
	kwAddress   = "address"
	kwBroadcast = "broadcast"
	kwRouter    = "router"
	kwRoute     = "route"
	kwDNS       = "dns"
	kwDomain    = "domain"
	kwSearch    = "search"
	kwMTU       = "mtu"
	kwHostname  = "hostname"
	kwLifetime  = "lifetime"
)

// fieldRank gives the position of each configure field; repeatable fields
// may appear several times in a row.
var fieldRank = map[string]struct {
	rank       int
	repeatable bool
}{
	kwAddress:   {1, false},
	kwBroadcast: {2, false},
	kwRouter:    {3, false},
	kwRoute:     {4, true},
	kwDNS:       {5, true},
	kwDomain:    {6, false},
	kwSearch:    {7, true},
	kwMTU:       {8, false},
	kwHostname:  {9, false},
	kwLifetime:  {10, false},
}

// Marshal encodes c; it is c.MarshalText.
func Marshal(c Command) ([]byte, error) {
	if c == nil {
		return nil, errors.New("ifch: marshal: nil command")
	}
	return c.MarshalText()
}

// Unmarshal decodes one message holding one command. Any deviation from the
// grammar, however small, is an error wrapping ErrSyntax (or ErrTooLarge),
// and the caller must then stop talking to its peer. Unmarshal checks the
// grammar only; Policy.Validate decides whether the command is acceptable.
func Unmarshal(b []byte) (Command, error) {
	lines, err := splitMessage(b)
	if err != nil {
		return nil, err
	}
	f := strings.Split(lines[0], " ")
	verb := f[0]
	if len(f) != 2 {
		return nil, synErr(1, "want a verb and an interface name")
	}
	name, err := parseIfname(f[1])
	if err != nil {
		return nil, synErr(1, err.Error())
	}
	if verb != "configure" && len(lines) != 1 {
		return nil, synErr(2, "unexpected line after "+quoteKeyword(verb))
	}
	switch verb {
	case "configure":
		c, err := parseConfigure(name, lines)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return c, nil
	case "deconfigure":
		return &Deconfigure{Interface: name}, nil
	case "carrier":
		return &Carrier{Interface: name}, nil
	case "up":
		return &Up{Interface: name}, nil
	default:
		return nil, synErr(1, "unknown verb "+quoteKeyword(verb))
	}
}

// splitMessage checks the message as a whole (size, alphabet, framing) and
// returns its lines without their LFs.
func splitMessage(b []byte) ([]string, error) {
	if len(b) > MaxMessageSize {
		return nil, synErr(0, msgTooLarge)
	}
	if len(b) == 0 {
		return nil, synErr(0, "empty message")
	}
	if b[len(b)-1] != '\n' {
		return nil, synErr(0, "message does not end with LF")
	}
	line := 1
	for i, c := range b {
		switch {
		case c == '\n':
			if i == 0 || b[i-1] == '\n' {
				return nil, synErr(line, "empty line")
			}
			line++
		case c < 0x20 || c > 0x7e:
			return nil, synErr(line, fmt.Sprintf("byte 0x%02x is not printable ASCII", c))
		}
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	for i, l := range lines {
		if l[0] == ' ' || l[len(l)-1] == ' ' || strings.Contains(l, "  ") {
			return nil, synErr(i+1, "fields must be separated by exactly one space")
		}
	}
	return lines, nil
}

func parseConfigure(name string, lines []string) (*Configure, error) {
	c := &Configure{Interface: name}
	last, lastKW := 0, ""
	for i, l := range lines[1:] {
		ln := i + 2
		f := strings.Split(l, " ")
		kw, args := f[0], f[1:]
		fr, ok := fieldRank[kw]
		if !ok {
			return nil, synErr(ln, "unknown field "+quoteKeyword(kw))
		}
		if fr.rank < last || (fr.rank == last && !fr.repeatable) {
			return nil, synErr(ln, "field "+kw+" out of order or repeated")
		}
		if ln == 2 && kw != kwAddress {
			return nil, synErr(ln, "the first field must be address")
		}
		last, lastKW = fr.rank, kw
		want := 1
		if kw == kwRoute || kw == kwLifetime {
			want = 2
		}
		if len(args) != want {
			return nil, synErr(ln, fmt.Sprintf("field %s takes %d value(s)", kw, want))
		}
		var err error
		switch kw {
		case kwAddress:
			c.Address, err = parsePrefix(args[0])
		case kwBroadcast:
			c.Broadcast, err = parseIPv4(args[0])
		case kwRouter:
			c.Router, err = parseIPv4(args[0])
		case kwRoute:
			var r Route
			if r.Dst, err = parsePrefix(args[0]); err == nil {
				r.Gateway, err = parseIPv4(args[1])
			}
			c.Routes = append(c.Routes, r)
		case kwDNS:
			var a netip.Addr
			a, err = parseIPv4(args[0])
			c.DNS = append(c.DNS, a)
		case kwDomain:
			c.Domain = args[0]
		case kwSearch:
			c.Search = append(c.Search, args[0])
		case kwMTU:
			var n uint64
			n, err = parseNumber(args[0], 5)
			if err == nil && n == 0 {
				err = errors.New("mtu 0 is not written; omit the field")
			}
			c.MTU = uint32(n)
		case kwHostname:
			c.Hostname = args[0]
		case kwLifetime:
			if c.Valid, err = parseLifetime(args[0]); err == nil {
				c.Preferred, err = parseLifetime(args[1])
			}
		default:
			// fieldRank and this switch list the same keywords.
			panic("ifch: unhandled field " + kw)
		}
		if err != nil {
			return nil, synErr(ln, kw+": "+err.Error())
		}
	}
	if len(lines) < 2 {
		return nil, synErr(2, "configure needs an address field")
	}
	if lastKW != kwLifetime {
		return nil, synErr(len(lines), "the last field must be lifetime")
	}
	return c, nil
}

// MarshalText encodes c canonically: fields in grammar order, one per line.
func (c *Configure) MarshalText() ([]byte, error) {
	if err := checkIfname(c.Interface); err != nil {
		return nil, fmt.Errorf("ifch: marshal configure: %w", err)
	}
	var b strings.Builder
	w := func(kw string, vals ...string) {
		b.WriteString(kw)
		for _, v := range vals {
			b.WriteByte(' ')
			b.WriteString(v)
		}
		b.WriteByte('\n')
	}
	w("configure", c.Interface)
	if !isPrefix4(c.Address) {
		return nil, errors.New("ifch: marshal configure: address is not an IPv4 prefix")
	}
	w(kwAddress, c.Address.String())
	if c.Broadcast.IsValid() {
		if !c.Broadcast.Is4() {
			return nil, errors.New("ifch: marshal configure: broadcast is not IPv4")
		}
		w(kwBroadcast, c.Broadcast.String())
	}
	if c.Router.IsValid() {
		if !c.Router.Is4() {
			return nil, errors.New("ifch: marshal configure: router is not IPv4")
		}
		w(kwRouter, c.Router.String())
	}
	for i, r := range c.Routes {
		if !isPrefix4(r.Dst) || !r.Gateway.Is4() {
			return nil, fmt.Errorf("ifch: marshal configure: route %d is not IPv4", i+1)
		}
		w(kwRoute, r.Dst.String(), r.Gateway.String())
	}
	for i, a := range c.DNS {
		if !a.Is4() {
			return nil, fmt.Errorf("ifch: marshal configure: dns %d is not IPv4", i+1)
		}
		w(kwDNS, a.String())
	}
	if c.Domain != "" {
		if !isToken(c.Domain) {
			return nil, errors.New("ifch: marshal configure: domain is not a token")
		}
		w(kwDomain, c.Domain)
	}
	for i, s := range c.Search {
		if !isToken(s) {
			return nil, fmt.Errorf("ifch: marshal configure: search %d is not a token", i+1)
		}
		w(kwSearch, s)
	}
	if c.MTU != 0 {
		if c.MTU > 99999 {
			return nil, errors.New("ifch: marshal configure: mtu has more than 5 digits")
		}
		w(kwMTU, strconv.FormatUint(uint64(c.MTU), 10))
	}
	if c.Hostname != "" {
		if !isToken(c.Hostname) {
			return nil, errors.New("ifch: marshal configure: hostname is not a token")
		}
		w(kwHostname, c.Hostname)
	}
	w(kwLifetime, c.Valid.String(), c.Preferred.String())
	if b.Len() > MaxMessageSize {
		return nil, fmt.Errorf("ifch: marshal configure: %d bytes exceed %d", b.Len(), MaxMessageSize)
	}
	return []byte(b.String()), nil
}

// MarshalText encodes c.
func (c *Deconfigure) MarshalText() ([]byte, error) { return marshalSimple("deconfigure", c.Interface) }

// MarshalText encodes c.
func (c *Carrier) MarshalText() ([]byte, error) { return marshalSimple("carrier", c.Interface) }

// MarshalText encodes c.
func (c *Up) MarshalText() ([]byte, error) { return marshalSimple("up", c.Interface) }

func marshalSimple(verb, name string) ([]byte, error) {
	if err := checkIfname(name); err != nil {
		return nil, fmt.Errorf("ifch: marshal %s: %w", verb, err)
	}
	return []byte(verb + " " + name + "\n"), nil
}

// MarshalText encodes r.
func (r *Reply) MarshalText() ([]byte, error) {
	if r.Code == CodeOK {
		if r.Reason != "" {
			return nil, errors.New("ifch: marshal reply: ok with a reason")
		}
		switch r.Carrier {
		case CarrierNone:
			return []byte("ok\n"), nil
		case CarrierUp:
			return []byte("ok carrier up\n"), nil
		case CarrierDown:
			return []byte("ok carrier down\n"), nil
		}
		return nil, errors.New("ifch: marshal reply: unknown carrier state")
	}
	if r.Code >= numCodes {
		return nil, fmt.Errorf("ifch: marshal reply: unknown %v", r.Code)
	}
	if r.Carrier != CarrierNone {
		return nil, errors.New("ifch: marshal reply: error with a carrier state")
	}
	if !isReason(r.Reason) {
		return nil, errors.New("ifch: marshal reply: reason is empty, too long or not printable")
	}
	return []byte("error " + r.Code.String() + " " + r.Reason + "\n"), nil
}

// UnmarshalText decodes one reply, as strictly as Unmarshal decodes commands.
// r is written only when b is a valid reply.
func (r *Reply) UnmarshalText(b []byte) error {
	if len(b) > MaxMessageSize {
		return synErr(0, msgTooLarge)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return synErr(0, "reply does not end with LF")
	}
	s := string(b[:len(b)-1])
	switch s {
	case "ok":
		*r = Reply{}
		return nil
	case "ok carrier up":
		*r = Reply{Carrier: CarrierUp}
		return nil
	case "ok carrier down":
		*r = Reply{Carrier: CarrierDown}
		return nil
	}
	rest, ok := strings.CutPrefix(s, "error ")
	if !ok {
		return synErr(1, "reply is neither ok nor error")
	}
	tok, reason, ok := strings.Cut(rest, " ")
	if !ok {
		return synErr(1, "error reply without a reason")
	}
	c, ok := codeFromString(tok)
	if !ok || c == CodeOK {
		return synErr(1, "unknown error code")
	}
	if !isReason(reason) {
		return synErr(1, "reason is too long or not printable ASCII")
	}
	*r = Reply{Code: c, Reason: reason}
	return nil
}

func isReason(s string) bool {
	if len(s) == 0 || len(s) > MaxReasonLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty run of visible ASCII (no space).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isPrefix4(p netip.Prefix) bool { return p.IsValid() && p.Addr().Is4() }

func checkIfname(s string) error {
	_, err := parseIfname(s)
	return err
}

// parseIfname accepts 1*15( ALPHA / DIGIT / "-" / "_" / "." ), except "."
// and "..".
func parseIfname(s string) (string, error) {
	if s == "" || len(s) > MaxIfnameLen {
		return "", fmt.Errorf("interface name must be 1 to %d bytes", MaxIfnameLen)
	}
	if s == "." || s == ".." {
		return "", errors.New(`interface name cannot be "." or ".."`)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return "", errors.New("interface name has a character outside [A-Za-z0-9._-]")
		}
	}
	return s, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parseNumber accepts a canonical decimal (no sign, no leading zero) of at
// most maxDigits digits that fits in a uint64.
func parseNumber(s string, maxDigits int) (uint64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("number must have 1 to %d digits", maxDigits)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("number has a leading zero")
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, errors.New("number has a non-digit")
		}
		if n > (1<<64-1-uint64(d-'0'))/10 {
			return 0, errors.New("number overflows 64 bits")
		}
		n = n*10 + uint64(d-'0')
	}
	return n, nil
}

// parseIPv4 accepts dotted-quad IPv4 with canonical decimal octets.
func parseIPv4(s string) (netip.Addr, error) {
	var a [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, errors.New("address must be a dotted quad")
	}
	for i, p := range parts {
		n, err := parseNumber(p, 3)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("address octet %d: %w", i+1, err)
		}
		if n > 255 {
			return netip.Addr{}, fmt.Errorf("address octet %d over 255", i+1)
		}
		a[i] = byte(n)
	}
	return netip.AddrFrom4(a), nil
}

// parsePrefix accepts ipv4 "/" prefix length 0..32, canonical.
func parsePrefix(s string) (netip.Prefix, error) {
	as, ls, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, errors.New("prefix needs /length")
	}
	a, err := parseIPv4(as)
	if err != nil {
		return netip.Prefix{}, err
	}
	n, err := parseNumber(ls, 2)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("prefix length: %w", err)
	}
	if n > 32 {
		return netip.Prefix{}, errors.New("prefix length over 32")
	}
	return netip.PrefixFrom(a, int(n)), nil
}

func parseLifetime(s string) (Lifetime, error) {
	if s == "infinite" {
		return Forever, nil
	}
	n, err := parseNumber(s, 20)
	if err != nil {
		return 0, err
	}
	if Lifetime(n) == Forever {
		return 0, errors.New("lifetime 2^64-1 is written infinite")
	}
	return Lifetime(n), nil
}

// quoteKeyword renders an unknown keyword for an error message: short, and
// already printable ASCII because splitMessage checked the alphabet.
func quoteKeyword(s string) string {
	if len(s) > 24 {
		s = s[:24] + "..."
	}
	return strconv.Quote(s)
}

func synErr(line int, msg string) error { return &SyntaxError{Line: line, Msg: msg} }
