// Package hostile is the project's hostile DHCP server: a rogue that
// answers a client's DHCPDISCOVER and DHCPREQUEST with frames built byte by
// byte (Ethernet, IPv4, UDP, BOOTP, options), so that every layer can be
// made wrong, and the table of scenarios the lab runs the real daemon
// against (cmd/ndhc's TestHostile, `make hostile`).
//
// Nothing here uses the project's own codec to build what it sends: a
// rogue built on the parser it attacks would only send what that parser
// already accepts.
package hostile

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Opt is one option as it goes on the wire: Code, then a length octet,
// then Data, split into several options of the same code when longer than
// 255 octets (RFC 3396). Len, when not negative, is written instead of
// len(Data) (a lying length), and Data is not split. Raw, when set, is written as it is instead (PAD floods,
// an option cut in the middle).
type Opt struct {
	Code byte
	Data []byte
	Len  int
	Raw  []byte
}

// O is an option with its true length.
func O(code byte, data ...byte) Opt { return Opt{Code: code, Data: data, Len: -1} }

// Msg is a BOOTP message (RFC 951, RFC 2131 section 2) with every field
// settable, including ones a well-behaved server never gets wrong.
type Msg struct {
	Op, HType, HLen, Hops byte
	XID                   uint32
	Secs, Flags           uint16
	CIAddr, YIAddr        netip.Addr
	SIAddr, GIAddr        netip.Addr
	CHAddr                [16]byte
	SName                 [64]byte
	File                  [128]byte
	// NoCookie leaves the magic cookie out (a plain BOOTP reply).
	NoCookie bool
	// Opts are the options, in order; an END (255) is appended unless
	// NoEnd is set.
	Opts  []Opt
	NoEnd bool
	// Pad is appended after END (or after the last option).
	Pad []byte
}

// Set replaces the first option with code (or appends one) and removes
// any later ones with that code.
func (m *Msg) Set(o Opt) {
	for i := range m.Opts {
		if m.Opts[i].Raw == nil && m.Opts[i].Code == o.Code {
			m.Opts[i] = o
			m.Del(o.Code, i+1)
			return
		}
	}
	m.Opts = append(m.Opts, o)
}

// Del removes the options with code, from index from on.
func (m *Msg) Del(code byte, from int) {
	out := m.Opts[:from]
	for _, o := range m.Opts[from:] {
		if o.Raw == nil && o.Code == code {
			continue
		}
		out = append(out, o)
	}
	m.Opts = out
}

// Bytes encodes the message: the 236-octet header, the cookie, the
// options, END and the padding.
func (m *Msg) Bytes() []byte {
	b := make([]byte, 0, 576)
	b = append(b, m.Op, m.HType, m.HLen, m.Hops)
	b = binary.BigEndian.AppendUint32(b, m.XID)
	b = binary.BigEndian.AppendUint16(b, m.Secs)
	b = binary.BigEndian.AppendUint16(b, m.Flags)
	for _, a := range []netip.Addr{m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr} {
		b = append(b, addr4(a)...)
	}
	b = append(b, m.CHAddr[:]...)
	b = append(b, m.SName[:]...)
	b = append(b, m.File[:]...)
	if !m.NoCookie {
		b = append(b, 99, 130, 83, 99)
	}
	b = AppendOpts(b, m.Opts)
	if !m.NoEnd {
		b = append(b, 255)
	}
	return append(b, m.Pad...)
}

// AppendOpts appends the wire form of opts to b (for the options field, or
// for sname and file under option 52).
func AppendOpts(b []byte, opts []Opt) []byte {
	for _, o := range opts {
		if o.Raw != nil {
			b = append(b, o.Raw...)
			continue
		}
		if o.Len >= 0 {
			b = append(b, o.Code, byte(o.Len))
			b = append(b, o.Data...)
			continue
		}
		// Longer than one option holds: split, as RFC 3396 says.
		d := o.Data
		for {
			n := min(len(d), 255)
			b = append(b, o.Code, byte(n))
			b = append(b, d[:n]...)
			d = d[n:]
			if len(d) == 0 {
				break
			}
		}
	}
	return b
}

func addr4(a netip.Addr) []byte {
	if !a.Is4() {
		return []byte{0, 0, 0, 0}
	}
	v := a.As4()
	return v[:]
}

// Wire is the framing around a BOOTP message: Ethernet, IPv4 and UDP, with
// every field that a scenario may want wrong.
type Wire struct {
	DstMAC, SrcMAC net.HardwareAddr
	Src, Dst       netip.Addr
	SrcPort        uint16
	DstPort        uint16
	TTL            byte
	ID             uint16
	// FragField is the IPv4 flags and fragment offset word.
	FragField uint16
	// IPOptions go between the fixed IPv4 header and UDP (padded to a
	// multiple of four octets by the caller).
	IPOptions []byte
	// Proto is the IPv4 protocol; 0 means UDP.
	Proto byte
	// TotalLenDelta and UDPLenDelta are added to the true IPv4 total
	// length and UDP length (lying lengths).
	TotalLenDelta, UDPLenDelta int
	// BadIPSum and BadUDPSum flip the computed checksums; ZeroUDPSum
	// sends none (RFC 768 allows it).
	BadIPSum, BadUDPSum, ZeroUDPSum bool
	// Cut, when positive, keeps only the first Cut octets of the frame
	// (after the Ethernet header) once built: truncation.
	Cut int
}

// Frame builds the Ethernet frame carrying payload as UDP in IPv4.
func (w *Wire) Frame(payload []byte) []byte {
	ip := w.IP(payload)
	b := make([]byte, 0, 14+len(ip))
	b = append(b, w.DstMAC...)
	b = append(b, w.SrcMAC...)
	b = append(b, 0x08, 0x00)
	return append(b, ip...)
}

// IP builds the IPv4 packet carrying payload as UDP.
func (w *Wire) IP(payload []byte) []byte {
	ihl := 20 + len(w.IPOptions)
	ulen := 8 + len(payload)
	total := ihl + ulen
	proto := w.Proto
	if proto == 0 {
		proto = 17
	}
	b := make([]byte, 0, total)
	b = append(b, byte(0x40|(ihl/4)&0x0f), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(total+w.TotalLenDelta))
	b = binary.BigEndian.AppendUint16(b, w.ID)
	b = binary.BigEndian.AppendUint16(b, w.FragField)
	b = append(b, w.TTL, proto, 0, 0)
	b = append(b, addr4(w.Src)...)
	b = append(b, addr4(w.Dst)...)
	b = append(b, w.IPOptions...)
	sum := ^fold(sum16(b[:ihl], 0))
	if w.BadIPSum {
		sum ^= 0x5a5a
	}
	binary.BigEndian.PutUint16(b[10:], sum)

	u := len(b)
	b = binary.BigEndian.AppendUint16(b, w.SrcPort)
	b = binary.BigEndian.AppendUint16(b, w.DstPort)
	b = binary.BigEndian.AppendUint16(b, uint16(ulen+w.UDPLenDelta))
	b = append(b, 0, 0)
	b = append(b, payload...)
	if !w.ZeroUDPSum {
		pseudo := sum16(addr4(w.Src), 0)
		pseudo = sum16(addr4(w.Dst), pseudo)
		pseudo += uint32(proto) + uint32(ulen)
		c := ^fold(sum16(b[u:], pseudo))
		if c == 0 {
			c = 0xffff
		}
		if w.BadUDPSum {
			c ^= 0x0101
		}
		binary.BigEndian.PutUint16(b[u+6:], c)
	}
	if w.Cut > 0 && w.Cut < len(b) {
		b = b[:w.Cut]
	}
	return b
}

// Fragment splits the IPv4 packet ip (without options) into two fragments
// at payload offset off (a multiple of 8), with their own header checksums.
func Fragment(ip []byte, off int) [][]byte {
	hdr := ip[:20]
	data := ip[20:]
	if off <= 0 || off >= len(data) {
		return [][]byte{ip}
	}
	mk := func(part []byte, fragOff int, more bool) []byte {
		b := append([]byte(nil), hdr...)
		binary.BigEndian.PutUint16(b[2:], uint16(20+len(part)))
		f := uint16(fragOff / 8)
		if more {
			f |= 0x2000
		}
		binary.BigEndian.PutUint16(b[6:], f)
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], ^fold(sum16(b, 0)))
		return append(b, part...)
	}
	return [][]byte{mk(data[:off], 0, true), mk(data[off:], off, false)}
}

func sum16(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
