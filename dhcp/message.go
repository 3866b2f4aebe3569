package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Message is a DHCP message (RFC 2131 section 2, figure 1): the fixed BOOTP
// header and the options. Addresses are IPv4 (0.0.0.0 when unset); chaddr,
// sname and file are kept as the raw fixed-size fields.
//
// A decoded message holds the options of every field that option 52 says
// carries options (RFC 2132 section 9.3), and those fields are cleared; see
// the package documentation. Message is large; pass it by pointer.
type Message struct {
	Op      Opcode
	HType   uint8
	HLen    uint8
	Hops    uint8
	XID     uint32
	Secs    uint16
	Flags   uint16
	CIAddr  netip.Addr // client address, when bound, renewing or rebinding
	YIAddr  netip.Addr // "your" (client) address
	SIAddr  netip.Addr // next server to use in bootstrap
	GIAddr  netip.Addr // relay agent address
	CHAddr  [16]byte   // client hardware address; HLen octets are used
	SName   [64]byte   // server host name, NUL terminated
	File    [128]byte  // boot file name, NUL terminated
	Options Options
}

// Offsets of the fixed header fields (RFC 2131 section 2).
const (
	offXID    = 4
	offSecs   = 8
	offFlags  = 10
	offCIAddr = 12
	offYIAddr = 16
	offSIAddr = 20
	offGIAddr = 24
	offCHAddr = 28
	offSName  = 44
	offFile   = 108
	offCookie = 236
	offOpts   = 240
)

// UnmarshalBinary decodes a DHCP message of either direction. It rejects a
// message shorter than [MinMessageLen], an op other than BOOTREQUEST or
// BOOTREPLY, an hlen over 16 (the size of chaddr), a wrong magic cookie, an
// and malformed option framing (an options field may end without End
// when its last option is whole) (RFC 2131 section
// 2 and 4.1, RFC 2132 section 2, RFC 3396). Option values are not
// interpreted; see [ParseReply] and [OptionDecoder]. On error the options of
// m are empty and the rest of m is unchanged.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < MinMessageLen {
		m.Options.Reset()
		return errTruncated("message: " + strconv.Itoa(len(b)) + " octets")
	}
	op := Opcode(b[0])
	if op != BootRequest && op != BootReply {
		m.Options.Reset()
		return errors.New("dhcp: invalid op " + strconv.Itoa(int(op)))
	}
	if b[2] > 16 {
		m.Options.Reset()
		return errors.New("dhcp: hlen " + strconv.Itoa(int(b[2])) + " over 16")
	}
	if binary.BigEndian.Uint32(b[offCookie:]) != MagicCookie {
		m.Options.Reset()
		return errors.New("dhcp: bad magic cookie")
	}
	overload, err := m.Options.decode(b[offOpts:], b[offFile:offCookie], b[offSName:offFile], true)
	if err != nil {
		return err
	}
	m.Op = op
	m.HType = b[1]
	m.HLen = b[2]
	m.Hops = b[3]
	m.XID = binary.BigEndian.Uint32(b[offXID:])
	m.Secs = binary.BigEndian.Uint16(b[offSecs:])
	m.Flags = binary.BigEndian.Uint16(b[offFlags:])
	m.CIAddr = netip.AddrFrom4([4]byte(b[offCIAddr:]))
	m.YIAddr = netip.AddrFrom4([4]byte(b[offYIAddr:]))
	m.SIAddr = netip.AddrFrom4([4]byte(b[offSIAddr:]))
	m.GIAddr = netip.AddrFrom4([4]byte(b[offGIAddr:]))
	m.CHAddr = [16]byte(b[offCHAddr:])
	m.SName = [64]byte(b[offSName:])
	m.File = [128]byte(b[offFile:])
	if overload&1 != 0 {
		m.File = [128]byte{}
	}
	if overload&2 != 0 {
		m.SName = [64]byte{}
	}
	return nil
}

// AppendBinary appends the encoding of m to b: the header, the magic cookie,
// every option in the options field (split as RFC 3396 says) and End. It
// never uses option overload. Unset (invalid) addresses are written as
// 0.0.0.0; an address that is not IPv4 or an hlen over 16 is an error. It
// implements encoding.BinaryAppender.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if m.HLen > 16 {
		return b, errors.New("dhcp: hlen " + strconv.Itoa(int(m.HLen)) + " over 16")
	}
	for _, a := range [...]netip.Addr{m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr} {
		if a.IsValid() && !a.Is4() {
			return b, errors.New("dhcp: address " + a.String() + " is not IPv4")
		}
	}
	b = append(b, byte(m.Op), m.HType, m.HLen, m.Hops)
	b = binary.BigEndian.AppendUint32(b, m.XID)
	b = binary.BigEndian.AppendUint16(b, m.Secs)
	b = binary.BigEndian.AppendUint16(b, m.Flags)
	b = appendAddr(b, m.CIAddr)
	b = appendAddr(b, m.YIAddr)
	b = appendAddr(b, m.SIAddr)
	b = appendAddr(b, m.GIAddr)
	b = append(b, m.CHAddr[:]...)
	b = append(b, m.SName[:]...)
	b = append(b, m.File[:]...)
	b = binary.BigEndian.AppendUint32(b, MagicCookie)
	return m.Options.AppendBinary(b)
}

// MarshalBinary returns the encoding of m; see AppendBinary.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, offOpts+int(m.Options.used)+3*int(m.Options.count)+8))
}

// appendAddr appends an IPv4 address, or 0.0.0.0 for the zero Addr. The
// caller has checked that a valid a is IPv4.
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, 0, 0, 0, 0)
	}
	v := a.As4()
	return append(b, v[:]...)
}

// HWAddr returns the first HLen octets of chaddr.
func (m *Message) HWAddr() []byte { return m.CHAddr[:min(int(m.HLen), len(m.CHAddr))] }

// ServerName returns sname up to its first NUL. Print it escaped: it comes
// from the server unvalidated.
func (m *Message) ServerName() []byte { return cstring(m.SName[:]) }

// BootFile returns file up to its first NUL. Print it escaped: it comes from
// the server unvalidated.
func (m *Message) BootFile() []byte { return cstring(m.File[:]) }

func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// Equal reports whether m and n have the same header fields and options.
func (m *Message) Equal(n *Message) bool {
	return m.Op == n.Op && m.HType == n.HType && m.HLen == n.HLen && m.Hops == n.Hops &&
		m.XID == n.XID && m.Secs == n.Secs && m.Flags == n.Flags &&
		m.CIAddr == n.CIAddr && m.YIAddr == n.YIAddr && m.SIAddr == n.SIAddr && m.GIAddr == n.GIAddr &&
		m.CHAddr == n.CHAddr && m.SName == n.SName && m.File == n.File &&
		m.Options.Equal(&n.Options)
}
