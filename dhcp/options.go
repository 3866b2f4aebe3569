package dhcp

import (
	"bytes"
	"errors"
	"iter"
	"strconv"
)

// MaxOptionsLen is the capacity of an [Options] value: the total size of
// all option values, after concatenation. It bounds what a decoded message
// may carry; a message whose options need more is rejected. A message that
// fits a 1500-octet Ethernet frame, sname and file overloaded, needs at most
// 1424.
const MaxOptionsLen = 2048

// maxCodes is the number of option codes that can carry a value (1..254).
const maxCodes = 254

type optEntry struct {
	off, n uint16
}

// Options is a set of DHCP options (RFC 2132) held in fixed-size storage:
// one value per code, in the order in which each code first appeared, with
// the instances of a code concatenated (RFC 3396). The zero value is an
// empty set. Codes 0 (pad), 255 (end) and, in a decoded [Message], 52
// (overload) are framing and never stored.
//
// Options is large (a few KiB); pass it by pointer. Values returned by Get
// and by an [OptionDecoder] alias the storage and are valid until the set is
// changed or decoded into again.
type Options struct {
	count uint16
	used  uint16
	order [maxCodes]OptionCode
	pos   [256]uint8 // 1 + index into order and ent; 0 = absent
	ent   [maxCodes]optEntry
	buf   [MaxOptionsLen]byte
}

// Reset empties o.
func (o *Options) Reset() {
	for _, c := range o.order[:o.count] {
		o.pos[c] = 0
	}
	o.count, o.used = 0, 0
}

// Len returns the number of distinct option codes in o.
func (o *Options) Len() int { return int(o.count) }

// Has reports whether o holds code.
func (o *Options) Has(code OptionCode) bool { return o.pos[code] != 0 }

// Get returns the value of code and whether it is present. A present option
// may have an empty value.
func (o *Options) Get(code OptionCode) ([]byte, bool) {
	p := o.pos[code]
	if p == 0 {
		return nil, false
	}
	return o.value(int(p) - 1), true
}

func (o *Options) value(i int) []byte {
	e := o.ent[i]
	return o.buf[e.off : e.off+e.n : e.off+e.n]
}

// All iterates over the options in o in order of first appearance.
func (o *Options) All() iter.Seq2[OptionCode, []byte] {
	return func(yield func(OptionCode, []byte) bool) {
		for i := 0; i < int(o.count); i++ {
			if !yield(o.order[i], o.value(i)) {
				return
			}
		}
	}
}

// Equal reports whether o and p hold the same codes, in the same order, with
// the same values.
func (o *Options) Equal(p *Options) bool {
	if o.count != p.count {
		return false
	}
	for i := 0; i < int(o.count); i++ {
		if o.order[i] != p.order[i] || !bytes.Equal(o.value(i), p.value(i)) {
			return false
		}
	}
	return true
}

// Set stores v as the value of code, replacing (and moving to the end) any
// previous value. Codes 0, 52 and 255 are framing and cannot be set.
func (o *Options) Set(code OptionCode, v []byte) error {
	switch code {
	case OptPad, OptEnd, OptOverload:
		return errors.New("dhcp: option " + strconv.Itoa(int(code)) + " is framing, not an option")
	}
	o.Del(code)
	if int(o.used)+len(v) > MaxOptionsLen {
		return errors.New("dhcp: options exceed " + strconv.Itoa(MaxOptionsLen) + " octets")
	}
	i := int(o.count)
	o.order[i] = code
	o.ent[i] = optEntry{off: o.used, n: uint16(len(v))}
	copy(o.buf[o.used:], v)
	o.used += uint16(len(v))
	o.count++
	o.pos[code] = uint8(o.count)
	return nil
}

// Del removes code from o.
func (o *Options) Del(code OptionCode) {
	p := o.pos[code]
	if p == 0 {
		return
	}
	k := int(p) - 1
	e := o.ent[k]
	copy(o.buf[e.off:], o.buf[e.off+e.n:o.used])
	o.used -= e.n
	for j := k + 1; j < int(o.count); j++ {
		o.order[j-1] = o.order[j]
		o.ent[j-1] = optEntry{off: o.ent[j].off - e.n, n: o.ent[j].n}
		o.pos[o.order[j-1]] = uint8(j)
	}
	o.count--
	o.pos[code] = 0
}

// AppendBinary appends the options field encoding of o to b: each value as
// one or more code/length/value instances of at most 255 octets
// (RFC 3396), then End. It implements encoding.BinaryAppender.
func (o *Options) AppendBinary(b []byte) ([]byte, error) {
	for i := 0; i < int(o.count); i++ {
		b = appendOption(b, o.order[i], o.value(i))
	}
	return append(b, byte(OptEnd)), nil
}

// appendOption appends code with value v, split into instances of at most
// 255 octets (RFC 3396). An empty value is one instance of length 0.
func appendOption(b []byte, code OptionCode, v []byte) []byte {
	for {
		n := min(len(v), 255)
		b = append(b, byte(code), byte(n))
		b = append(b, v[:n]...)
		v = v[n:]
		if len(v) == 0 {
			return b
		}
	}
}

// Field kinds, in the order in which their options are concatenated
// (RFC 3396: options, then file, then sname).
const (
	fieldOptions = iota
	fieldFile
	fieldSName
)

type scanState struct {
	message  bool // decoding a message: option 52 is framing
	overload uint8
	seen52   bool
	total    int
}

// decode fills o from the option fields of a message. file and sname are
// used only if option 52 in opts says so. In message mode option 52 is
// consumed; otherwise it is an ordinary option. A field may end without
// End (RFC 2131 asks for it, but servers omit it and other clients take
// such messages) as long as its last option is whole. On error o is left
// empty.
func (o *Options) decode(opts, file, sname []byte, message bool) (overload uint8, err error) {
	o.Reset()
	st := scanState{message: message}
	if o.index(opts, &st) {
		return 0, nil
	}
	// Slow path: repeated codes, overload, or a field longer than the
	// storage. Index again, adding up lengths, then concatenate.
	o.Reset()
	st = scanState{message: message}
	if err := o.scan(opts, fieldOptions, &st); err != nil {
		o.Reset()
		return 0, err
	}
	if st.overload&1 != 0 {
		if err := o.scan(file, fieldFile, &st); err != nil {
			o.Reset()
			return 0, err
		}
	}
	if st.overload&2 != 0 {
		if err := o.scan(sname, fieldSName, &st); err != nil {
			o.Reset()
			return 0, err
		}
	}
	// Lay the values out one after the other, then copy the instances in.
	var off uint16
	for i := 0; i < int(o.count); i++ {
		n := o.ent[i].n
		o.ent[i] = optEntry{off: off}
		off += n
	}
	o.used = off
	o.fill(opts)
	if st.overload&1 != 0 {
		o.fill(file)
	}
	if st.overload&2 != 0 {
		o.fill(sname)
	}
	return st.overload, nil
}

// index is the fast path of decode, for the common options field in which
// every code appears once and no option 52 is interpreted: it copies the
// field (up to End) into the storage in one go and points each entry at its
// value there. It reports false, leaving o to be reset, if the slow path is
// needed: on a malformed field too, so that the slow path reports the error.
func (o *Options) index(f []byte, st *scanState) bool {
	i := 0
	for i < len(f) {
		c := OptionCode(f[i])
		if c == OptPad {
			i++
			continue
		}
		if c == OptEnd {
			break
		}
		if i+2 > len(f) {
			return false
		}
		l := int(f[i+1])
		if i+2+l > len(f) || o.pos[c] != 0 || (c == OptOverload && st.message) || i+2+l > MaxOptionsLen {
			return false
		}
		o.order[o.count] = c
		o.ent[o.count] = optEntry{off: uint16(i + 2), n: uint16(l)}
		o.count++
		o.pos[c] = uint8(o.count)
		i += 2 + l
	}
	o.used = uint16(copy(o.buf[:], f[:i]))
	return true
}

// scan is the first pass over one field: it checks every instance against
// the field, registers codes in order of first appearance and adds up their
// lengths. An instance must fit in its field (RFC 3396).
func (o *Options) scan(f []byte, kind int, st *scanState) error {
	for i := 0; i < len(f); {
		c := OptionCode(f[i])
		if c == OptPad {
			i++
			continue
		}
		if c == OptEnd {
			return nil
		}
		if i+2 > len(f) {
			return &OptionError{Code: c, Err: errShort("length")}
		}
		l := int(f[i+1])
		if i+2+l > len(f) {
			return &OptionError{Code: c, Err: errShort("value")}
		}
		if c == OptOverload && st.message {
			if err := st.overloadOption(kind, f[i+2:i+2+l]); err != nil {
				return err
			}
			i += 2 + l
			continue
		}
		st.total += l
		if st.total > MaxOptionsLen {
			return errors.New("dhcp: options exceed " + strconv.Itoa(MaxOptionsLen) + " octets")
		}
		p := o.pos[c]
		if p == 0 {
			o.order[o.count] = c
			o.ent[o.count] = optEntry{}
			o.count++
			p = uint8(o.count)
			o.pos[c] = p
		}
		o.ent[p-1].n += uint16(l)
		i += 2 + l
	}
	return nil
}

// overloadOption checks option 52 (RFC 2132 section 9.3): once, in the
// options field, one octet of value 1, 2 or 3.
func (st *scanState) overloadOption(kind int, v []byte) error {
	switch {
	case kind != fieldOptions:
		return &OptionError{Code: OptOverload, Err: errors.New("outside the options field")}
	case st.seen52:
		return &OptionError{Code: OptOverload, Err: errors.New("repeated")}
	case len(v) != 1:
		return &OptionError{Code: OptOverload, Err: errWrongLen(len(v), "1")}
	case v[0] < 1 || v[0] > 3:
		return &OptionError{Code: OptOverload, Err: errors.New("value " + strconv.Itoa(int(v[0])) + ", want 1, 2 or 3")}
	}
	st.seen52, st.overload = true, v[0]
	return nil
}

// fill is the second pass over a field that scan accepted: it copies each
// instance to the end of its code's value.
func (o *Options) fill(f []byte) {
	for i := 0; i+1 < len(f); {
		c := OptionCode(f[i])
		if c == OptPad {
			i++
			continue
		}
		if c == OptEnd {
			return
		}
		l := int(f[i+1])
		v := f[i+2 : i+2+l]
		i += 2 + l
		p := o.pos[c]
		if p == 0 { // option 52 in message mode
			continue
		}
		e := &o.ent[p-1]
		copy(o.buf[e.off+e.n:], v)
		e.n += uint16(l)
	}
}
