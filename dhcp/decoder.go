package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// OptionDecoder iterates over a set of options and decodes their values
// with a sticky error: a getter that is applied to a value of the wrong size,
// or to one that does not validate, records an error, returns the zero value
// and stops the iteration. Check Err after the loop.
//
//	d := m.Options.Decoder()
//	for d.Next() {
//		switch d.Code() {
//		case dhcp.OptLeaseTime:
//			lease = d.Uint32()
//		}
//	}
//	if err := d.Err(); err != nil { ... }
//
// Slices returned by getters alias the option storage.
type OptionDecoder struct {
	opts *Options
	i    int
	code OptionCode
	val  []byte
	err  error
}

// NewOptionDecoder returns a decoder over the option instances in b, the
// contents of an options field after the magic cookie. Decoding stops at
// End or at the end of b; repeated codes are concatenated (RFC 3396). Option
// 52 is an ordinary option here: only [Message] decoding interprets it. A
// malformed b is reported by Err.
func NewOptionDecoder(b []byte) *OptionDecoder {
	o := new(Options)
	_, err := o.decode(b, nil, nil, false)
	return &OptionDecoder{opts: o, err: err}
}

// Decoder returns a decoder over the options in o. It does not allocate.
func (o *Options) Decoder() OptionDecoder {
	return OptionDecoder{opts: o}
}

// Next advances to the next option. It returns false at the end of the set
// or once an error has been recorded.
func (d *OptionDecoder) Next() bool {
	if d.err != nil || d.opts == nil || d.i >= int(d.opts.count) {
		return false
	}
	d.code = d.opts.order[d.i]
	d.val = d.opts.value(d.i)
	d.i++
	return true
}

// Code returns the code of the current option.
func (d *OptionDecoder) Code() OptionCode { return d.code }

// Bytes returns the raw value of the current option.
func (d *OptionDecoder) Bytes() []byte { return d.val }

// Err returns the first error recorded by the decoder, if any.
func (d *OptionDecoder) Err() error { return d.err }

// fail records err for the current option, unless an error is already set.
func (d *OptionDecoder) fail(err error) {
	if d.err == nil {
		d.err = &OptionError{Code: d.code, Err: err}
	}
}

// recover takes back the error recorded for the current option, if any,
// so that decoding goes on with the next option, and returns it.
func (d *OptionDecoder) recover() *OptionError {
	var oe *OptionError
	if d.err != nil {
		oe, _ = d.err.(*OptionError)
		if oe == nil || oe.Code != d.code {
			return nil
		}
		d.err = nil
	}
	return oe
}

// fixed returns the current value if it has exactly n octets.
func (d *OptionDecoder) fixed(n int) ([]byte, bool) {
	if d.err != nil {
		return nil, false
	}
	if len(d.val) != n {
		d.fail(errWrongLen(len(d.val), strconv.Itoa(n)))
		return nil, false
	}
	return d.val, true
}

// Uint8 returns a one-octet value.
func (d *OptionDecoder) Uint8() uint8 {
	v, ok := d.fixed(1)
	if !ok {
		return 0
	}
	return v[0]
}

// Uint16 returns a two-octet value in network byte order.
func (d *OptionDecoder) Uint16() uint16 {
	v, ok := d.fixed(2)
	if !ok {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

// Uint32 returns a four-octet value in network byte order, such as a lease,
// renewal or rebinding time in seconds (RFC 2132 sections 9.2, 9.11, 9.12).
func (d *OptionDecoder) Uint32() uint32 {
	v, ok := d.fixed(4)
	if !ok {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// Addr returns a single IPv4 address, such as a server identifier
// (RFC 2132 section 9.7) or broadcast address (section 5.3).
func (d *OptionDecoder) Addr() netip.Addr {
	v, ok := d.fixed(4)
	if !ok {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(v))
}

// Addrs decodes a list of one or more IPv4 addresses (routers, DNS or NTP
// servers: RFC 2132 sections 3.5, 3.8, 8.3; minimum length 4, a multiple of
// 4) into dst and returns how many there are. More addresses than fit in dst
// is an error.
func (d *OptionDecoder) Addrs(dst []netip.Addr) int {
	if d.err != nil {
		return 0
	}
	v := d.val
	if len(v) == 0 || len(v)%4 != 0 {
		d.fail(errWrongLen(len(v), "a positive multiple of 4"))
		return 0
	}
	if len(v)/4 > len(dst) {
		d.fail(errors.New(strconv.Itoa(len(v)/4) + " addresses, at most " + strconv.Itoa(len(dst)) + " accepted"))
		return 0
	}
	n := 0
	for ; len(v) >= 4; v = v[4:] {
		dst[n] = netip.AddrFrom4([4]byte(v[:4]))
		n++
	}
	return n
}

// AddrsUpTo is Addrs for a list that may be longer than dst: it keeps the
// first len(dst) addresses and returns, besides how many it kept, how many
// it left out. A length that is not a positive multiple of 4 is still an
// error.
func (d *OptionDecoder) AddrsUpTo(dst []netip.Addr) (n, left int) {
	if d.err != nil {
		return 0, 0
	}
	v := d.val
	if len(v) == 0 || len(v)%4 != 0 {
		d.fail(errWrongLen(len(v), "a positive multiple of 4"))
		return 0, 0
	}
	for ; len(v) >= 4 && n < len(dst); v = v[4:] {
		dst[n] = netip.AddrFrom4([4]byte(v[:4]))
		n++
	}
	return n, len(v) / 4
}

// SubnetMask returns the subnet mask (RFC 2132 section 3.3). A mask whose
// one bits are not contiguous from the left is an error (RFC 4632 section
// 3.1 retired non-contiguous masks).
func (d *OptionDecoder) SubnetMask() netip.Addr {
	v, ok := d.fixed(4)
	if !ok {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(v))
	if _, ok := MaskBits(a); !ok {
		d.fail(errors.New("mask " + a.String() + " is not contiguous"))
		return netip.Addr{}
	}
	return a
}

// MaskBits returns the prefix length of a contiguous IPv4 subnet mask, and
// false if mask is not IPv4 or its one bits are not contiguous.
func MaskBits(mask netip.Addr) (int, bool) {
	if !mask.Is4() {
		return 0, false
	}
	a := mask.As4()
	m := binary.BigEndian.Uint32(a[:])
	inv := ^m
	if inv&(inv+1) != 0 { // the zero bits must be a run at the right
		return 0, false
	}
	bits := 0
	for m != 0 {
		m <<= 1
		bits++
	}
	return bits, true
}

// MinMTU is the smallest legal interface MTU (RFC 2132 section 5.1, RFC 791).
const MinMTU = 68

// MTU returns the interface MTU (RFC 2132 section 5.1): two octets, at
// least [MinMTU].
func (d *OptionDecoder) MTU() uint16 {
	m := d.Uint16()
	if d.err == nil && m < MinMTU {
		d.fail(errors.New("mtu " + strconv.Itoa(int(m)) + " below " + strconv.Itoa(MinMTU)))
		return 0
	}
	return m
}

// MinMaxMessageSize is the smallest legal maximum DHCP message size
// (RFC 2132 section 9.10).
const MinMaxMessageSize = 576

// MaxMessageSize returns the maximum DHCP message size (RFC 2132 section
// 9.10): two octets, at least [MinMaxMessageSize].
func (d *OptionDecoder) MaxMessageSize() uint16 {
	m := d.Uint16()
	if d.err == nil && m < MinMaxMessageSize {
		d.fail(errors.New("size " + strconv.Itoa(int(m)) + " below " + strconv.Itoa(MinMaxMessageSize)))
		return 0
	}
	return m
}

// MessageType returns the DHCP message type (RFC 2132 section 9.6): one
// octet, one of the eight types RFC 2132 defines.
func (d *OptionDecoder) MessageType() MessageType {
	t := MessageType(d.Uint8())
	if d.err == nil && (t < Discover || t > Inform) {
		d.fail(errors.New("unknown message type " + strconv.Itoa(int(t))))
		return 0
	}
	return t
}

// ParamRequestList decodes a parameter request list (RFC 2132 section 9.8:
// one or more option codes) into dst and returns its length. More codes than
// fit in dst is an error.
func (d *OptionDecoder) ParamRequestList(dst []OptionCode) int {
	if d.err != nil {
		return 0
	}
	if len(d.val) == 0 {
		d.fail(errWrongLen(0, "at least 1"))
		return 0
	}
	if len(d.val) > len(dst) {
		d.fail(errors.New(strconv.Itoa(len(d.val)) + " codes, at most " + strconv.Itoa(len(dst)) + " accepted"))
		return 0
	}
	for i, c := range d.val {
		dst[i] = OptionCode(c)
	}
	return len(d.val)
}

// Text returns an NVT ASCII value (RFC 2132 section 2) without its trailing
// NULs, which a receiver must be prepared to delete. An empty value is an
// error (every text option has a minimum length of 1).
func (d *OptionDecoder) Text() []byte {
	if d.err != nil {
		return nil
	}
	v := trimNUL(d.val)
	if len(v) == 0 {
		d.fail(errors.New("empty text"))
		return nil
	}
	return v
}

func trimNUL(v []byte) []byte {
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return v
}

// Hostname returns the host name (RFC 2132 section 3.14), validated as a
// [Hostname].
func (d *OptionDecoder) Hostname() Hostname {
	var h Hostname
	d.hostnameInto(&h)
	return h
}

func (d *OptionDecoder) hostnameInto(h *Hostname) {
	v := d.Text()
	if d.err != nil {
		return
	}
	if err := h.set(v); err != nil {
		d.fail(err)
	}
}

// DomainName returns the domain name (RFC 2132 section 3.17), validated as a
// [DomainName]. The value is ASCII text, not DNS wire format.
func (d *OptionDecoder) DomainName() DomainName {
	var n DomainName
	d.domainNameInto(&n)
	return n
}

func (d *OptionDecoder) domainNameInto(n *DomainName) {
	v := d.Text()
	if d.err != nil {
		return
	}
	if err := n.set(v); err != nil {
		d.fail(err)
	}
}

// DomainSearch decodes a domain search list (RFC 3397: DNS wire-format names
// with RFC 1035 section 4.1.4 compression) into dst and returns how many
// names there are. More names than fit in dst is an error.
func (d *OptionDecoder) DomainSearch(dst []DomainName) int {
	if d.err != nil {
		return 0
	}
	n, err := decodeSearchList(d.val, dst)
	if err != nil {
		d.fail(err)
		return 0
	}
	return n
}

// Routes decodes classless static routes (RFC 3442) into dst and returns how
// many there are. More routes than fit in dst is an error.
func (d *OptionDecoder) Routes(dst []Route) int {
	if d.err != nil {
		return 0
	}
	n, err := decodeRoutes(d.val, dst)
	if err != nil {
		d.fail(err)
		return 0
	}
	return n
}

// ClientID returns the client identifier (RFC 2132 section 9.14,
// RFC 4361 section 6.1), validated as a [ClientID].
func (d *OptionDecoder) ClientID() ClientID {
	if d.err != nil {
		return ClientID{}
	}
	id, err := parseClientID(d.val)
	if err != nil {
		d.fail(err)
		return ClientID{}
	}
	return id
}
