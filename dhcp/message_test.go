package dhcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cmpOpts compares the value types of this package in cmp.Diff.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmp.Comparer(func(a, b DomainName) bool { return a == b }),
	cmp.Comparer(func(a, b Hostname) bool { return a == b }),
	cmp.Comparer(func(a, b ClientID) bool { return a == b }),
}

type optView struct {
	Code  OptionCode
	Value []byte
}

// messageView is a Message with its options as a list, for readable diffs.
type messageView struct {
	Op                             Opcode
	HType, HLen, Hops              uint8
	XID                            uint32
	Secs, Flags                    uint16
	CIAddr, YIAddr, SIAddr, GIAddr netip.Addr
	CHAddr                         [16]byte
	SName                          [64]byte
	File                           [128]byte
	Options                        []optView
}

func viewOptions(o *Options) []optView {
	var v []optView
	for c, val := range o.All() {
		v = append(v, optView{c, bytes.Clone(val)})
	}
	return v
}

func viewMessage(m *Message) messageView {
	return messageView{
		m.Op, m.HType, m.HLen, m.Hops, m.XID, m.Secs, m.Flags,
		m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr, m.CHAddr, m.SName, m.File,
		viewOptions(&m.Options),
	}
}

func diffMessages(a, b *Message) string {
	return cmp.Diff(viewMessage(a), viewMessage(b), cmpOpts...)
}

func TestMessageRoundTrip(t *testing.T) {
	m := replyMessage(t, Ack)
	copy(m.SName[:], "server.example.org")
	copy(m.File[:], "pxelinux.0")
	m.Hops, m.Secs, m.Flags = 1, 7, FlagBroadcast
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d := diffMessages(m, &got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if !m.Equal(&got) {
		t.Error("Equal is false after a round trip")
	}
	if s := string(got.ServerName()); s != "server.example.org" {
		t.Errorf("ServerName = %q", s)
	}
	if s := string(got.BootFile()); s != "pxelinux.0" {
		t.Errorf("BootFile = %q", s)
	}
	if hw := got.HWAddr(); !bytes.Equal(hw, testMAC[:]) {
		t.Errorf("HWAddr = %x", hw)
	}
	b2, err := got.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("second encoding differs")
	}
}

// rawMessage returns a 240-octet BOOTREPLY header with cookie, followed by
// opts.
func rawMessage(opts ...byte) []byte {
	b := make([]byte, offOpts, offOpts+len(opts))
	b[0], b[1], b[2] = byte(BootReply), HTypeEthernet, HLenEthernet
	binary.BigEndian.PutUint32(b[offCookie:], MagicCookie)
	return append(b, opts...)
}

// TestUnmarshalWithoutEnd: an options field whose last option is whole
// needs no End; one that stops inside an option is still truncated.
func TestUnmarshalWithoutEnd(t *testing.T) {
	for _, b := range [][]byte{rawMessage(53, 1, 2), rawMessage(53, 1, 2, 0, 0), rawMessage(0, 0, 0), rawMessage(53, 1, 5, 6, 4, 10, 0, 0, 1)} {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			t.Errorf("% x: %v", b[offOpts:], err)
		}
	}
	var m Message
	if err := m.UnmarshalBinary(rawMessage(53, 1, 2, 6, 4, 10, 0)); err == nil {
		t.Error("an option cut short at the end of the message was accepted")
	}
}

func TestUnmarshalErrors(t *testing.T) {
	long := rawMessage()
	for range MaxOptionsLen/255 + 1 {
		long = append(long, 200, 255)
		long = append(long, make([]byte, 255)...)
	}
	long = append(long, 255)

	tests := []struct {
		name string
		b    []byte
		want string
		eof  bool
	}{
		{"empty", nil, "truncated message", true},
		{"header only", rawMessage(), "truncated message", true},
		{"bad op", func() []byte { b := rawMessage(255); b[0] = 3; return b }(), "invalid op 3", false},
		{"op zero", func() []byte { b := rawMessage(255); b[0] = 0; return b }(), "invalid op 0", false},
		{"hlen 17", func() []byte { b := rawMessage(255); b[2] = 17; return b }(), "hlen 17 over 16", false},
		{"bad cookie", func() []byte { b := rawMessage(255); b[offCookie] = 0x64; return b }(), "bad magic cookie", false},
		{"length missing", rawMessage(53), "truncated length", true},
		{"value truncated", rawMessage(53, 2, 2), "truncated value", true},
		{"value past end", rawMessage(12, 5, 'a', 'b', 255), "truncated value", true},
		{"overload length", rawMessage(52, 2, 1, 1, 255), "option 52 (option overload): length 2, want 1", false},
		{"overload value 0", rawMessage(52, 1, 0, 255), "value 0, want 1, 2 or 3", false},
		{"overload value 4", rawMessage(52, 1, 4, 255), "value 4, want 1, 2 or 3", false},
		{"overload twice", rawMessage(52, 1, 1, 52, 1, 1, 255), "repeated", false},
		{"too long", long, "options exceed 2048 octets", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tt.b)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.eof {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", got, tt.eof)
			}
			if m.Options.Len() != 0 {
				t.Error("options left after an error")
			}
		})
	}
}

func TestOverload(t *testing.T) {
	b := rawMessage(52, 1, 3, 6, 4, 10, 0, 0, 1, 255, 0, 0)
	// file: the second half of option 6, a hostname, end.
	copy(b[offFile:], []byte{6, 4, 10, 0, 0, 2, 0, 12, 3, 'f', 'o', 'o', 255})
	// sname: the third part of option 6, then option 15 with no end.
	copy(b[offSName:], []byte{6, 4, 10, 0, 0, 3, 15, 3, 'o', 'r', 'g'})
	var m Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := []optView{
		{OptDNS, []byte{10, 0, 0, 1, 10, 0, 0, 2, 10, 0, 0, 3}},
		{OptHostname, []byte("foo")},
		{OptDomainName, []byte("org")},
	}
	if d := cmp.Diff(want, viewOptions(&m.Options)); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}
	if m.SName != [64]byte{} || m.File != [128]byte{} {
		t.Error("overloaded fields not cleared")
	}
	if m.Options.Has(OptOverload) {
		t.Error("option 52 kept")
	}
	// Encoding puts everything in the options field, without 52.
	enc, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m2 Message
	if err := m2.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if d := diffMessages(&m, &m2); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}

	t.Run("file only", func(t *testing.T) {
		b := rawMessage(52, 1, 1, 255)
		copy(b[offFile:], []byte{12, 1, 'x', 255})
		copy(b[offSName:], "sname-is-text")
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if v, _ := m.Options.Get(OptHostname); string(v) != "x" {
			t.Errorf("hostname %q", v)
		}
		if string(m.ServerName()) != "sname-is-text" {
			t.Errorf("sname %q", m.ServerName())
		}
	})
	errTests := []struct {
		name        string
		opts        []byte
		file, sname []byte
		want        string
	}{
		{"52 in file", []byte{52, 1, 1, 255}, []byte{52, 1, 2, 255}, nil, "outside the options field"},
		{"truncated in sname", []byte{52, 1, 2, 255}, nil, append(make([]byte, 62), 12, 5), "truncated value"},
		{"option spans file and sname", []byte{52, 1, 3, 255}, append(make([]byte, 126), 12, 9), nil, "truncated value"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			b := rawMessage(tt.opts...)
			copy(b[offFile:offCookie], tt.file)
			copy(b[offSName:offFile], tt.sname)
			var m Message
			err := m.UnmarshalBinary(b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLongOptionSplit(t *testing.T) {
	var m Message
	m.Op, m.HType, m.HLen = BootReply, 1, 6
	long := bytes.Repeat([]byte("abcdefgh"), 70) // 560 octets: 255 + 255 + 50
	mustSet(t, &m.Options, OptionCode(224), long)
	mustSet(t, &m.Options, OptionCode(80), nil) // empty value (rapid commit)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	opts := b[offOpts:]
	if opts[0] != 224 || opts[1] != 255 || opts[257] != 224 || opts[258] != 255 || opts[514] != 224 || opts[515] != 50 {
		t.Errorf("not split in 255, 255, 50: % x", opts[:4])
	}
	if !bytes.Equal(opts[566:], []byte{80, 0, 255}) {
		t.Errorf("tail % x", opts[566:])
	}
	var got Message
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Options.Get(224); !ok || !bytes.Equal(v, long) {
		t.Error("long option not reassembled")
	}
	if v, ok := got.Options.Get(80); !ok || len(v) != 0 {
		t.Error("empty option lost")
	}
}

func TestConcatenationOrder(t *testing.T) {
	// Instances of 3 separated by other options are concatenated in order;
	// pads between options are skipped; bytes after end are ignored.
	b := rawMessage(3, 4, 1, 1, 1, 1, 0, 0, 6, 4, 8, 8, 8, 8, 3, 4, 2, 2, 2, 2, 255, 3, 4, 9, 9, 9, 9)
	var m Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := []optView{{OptRouter, []byte{1, 1, 1, 1, 2, 2, 2, 2}}, {OptDNS, []byte{8, 8, 8, 8}}}
	if d := cmp.Diff(want, viewOptions(&m.Options)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOptionsSetDel(t *testing.T) {
	var o Options
	mustSet(t, &o, 1, []byte{1})
	mustSet(t, &o, 2, []byte{2, 2})
	mustSet(t, &o, 3, []byte{3, 3, 3})
	o.Del(2)
	mustSet(t, &o, 1, []byte{9, 9}) // replaces and moves to the end
	want := []optView{{3, []byte{3, 3, 3}}, {1, []byte{9, 9}}}
	if d := cmp.Diff(want, viewOptions(&o)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if o.Has(2) || !o.Has(3) || o.Len() != 2 {
		t.Error("Has/Len wrong")
	}
	o.Del(77) // absent: no-op
	for _, c := range []OptionCode{OptPad, OptEnd, OptOverload} {
		if err := o.Set(c, nil); err == nil {
			t.Errorf("Set(%d) accepted", c)
		}
	}
	if err := o.Set(100, make([]byte, MaxOptionsLen)); err == nil {
		t.Error("Set beyond capacity accepted")
	}
	enc, _ := o.AppendBinary(nil)
	d := NewOptionDecoder(enc)
	var got []optView
	for d.Next() {
		got = append(got, optView{d.Code(), bytes.Clone(d.Bytes())})
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoder (-want +got):\n%s", diff)
	}
	o.Reset()
	if o.Len() != 0 || o.Has(3) {
		t.Error("Reset left options")
	}
}

func TestMessageEncodeErrors(t *testing.T) {
	m := &Message{HLen: 17}
	if _, err := m.MarshalBinary(); err == nil {
		t.Error("hlen 17 encoded")
	}
	m = &Message{CIAddr: netip.MustParseAddr("2001:db8::1")}
	if _, err := m.MarshalBinary(); err == nil {
		t.Error("ipv6 ciaddr encoded")
	}
	m = &Message{Op: BootRequest} // zero addresses encode as 0.0.0.0
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MinMessageLen || b[len(b)-1] != 255 {
		t.Errorf("encoding of an empty message: %d octets", len(b))
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{BootReply.String(), "BOOTREPLY"},
		{Opcode(9).String(), "op(9)"},
		{Nak.String(), "DHCPNAK"},
		{MessageType(42).String(), "type(42)"},
		{OptClasslessRoutes.String(), "classless static routes"},
		{OptionCode(200).String(), "option 200"},
		{testMAC.String(), "02:00:5e:10:20:30"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for c := range 256 {
		if OptionCode(c).String() == "" {
			t.Errorf("empty name for %d", c)
		}
	}
	for _, typ := range []MessageType{Discover, Offer, Request, Decline, Ack, Nak, Release, Inform} {
		if strings.HasPrefix(typ.String(), "type(") {
			t.Errorf("no name for %d", typ)
		}
	}
	if BootRequest.String() != "BOOTREQUEST" {
		t.Error(BootRequest.String())
	}
}
