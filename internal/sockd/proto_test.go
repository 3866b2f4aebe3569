package sockd

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/dhcp/client"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Kind: client.SocketRaw, Ifindex: 3},
		{Kind: client.SocketARP, Ifindex: 1 << 20},
		{Kind: client.SocketUDP, Ifindex: 3, Addr: netip.MustParseAddr("10.0.0.7")},
		{Kind: client.SocketARPDefense, Ifindex: 3, Addr: netip.MustParseAddr("192.0.2.9")},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got != r {
			t.Fatalf("got %+v want %+v", got, r)
		}
	}
}

func TestRequestRejects(t *testing.T) {
	ok, _ := Request{Kind: client.SocketUDP, Ifindex: 3, Addr: netip.MustParseAddr("10.0.0.7")}.MarshalBinary()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ok...)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", ok[:11], "want 12"},
		{"long", append(append([]byte(nil), ok...), 0), "want 12"},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "header"},
		{"padding", mutate(func(b []byte) []byte { b[3] = 1; return b }), "header"},
		{"kind 0", mutate(func(b []byte) []byte { b[1] = 0; return b }), "unknown request kind"},
		{"kind 9", mutate(func(b []byte) []byte { b[1] = 9; return b }), "unknown request kind"},
		{"ifindex 0", mutate(func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), "interface index"},
		{"ifindex huge", mutate(func(b []byte) []byte { copy(b[4:8], []byte{0xff, 0, 0, 0}); return b }), "interface index"},
		{"udp without address", mutate(func(b []byte) []byte { copy(b[8:], []byte{0, 0, 0, 0}); return b }), "unicast"},
		{"udp multicast", mutate(func(b []byte) []byte { copy(b[8:], []byte{224, 0, 0, 1}); return b }), "unicast"},
		{"udp broadcast", mutate(func(b []byte) []byte { copy(b[8:], []byte{255, 255, 255, 255}); return b }), "unicast"},
		{"udp loopback", mutate(func(b []byte) []byte { copy(b[8:], []byte{127, 0, 0, 1}); return b }), "unicast"},
		{"raw with address", mutate(func(b []byte) []byte { b[1] = byte(client.SocketRaw); return b }), "carries an address"},
	}
	for _, c := range cases {
		var r Request
		err := r.UnmarshalBinary(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if r != (Request{}) {
			t.Errorf("%s: receiver written on error: %+v", c.name, r)
		}
	}
}

func TestReply(t *testing.T) {
	b, _ := Reply{Kind: client.SocketARP, Errno: 1}.MarshalBinary()
	var r Reply
	if err := r.UnmarshalBinary(b); err != nil || r != (Reply{Kind: client.SocketARP, Errno: 1}) {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range [][]byte{b[:7], {0x53, 7, 0, 0, 0, 0, 0, 0}, {0x53, 1, 0, 1, 0, 0, 0, 0}} {
		if err := r.UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted % x", bad)
		}
	}
}

// FuzzRequest: whatever decodes must encode to the same bytes.
func FuzzRequest(f *testing.F) {
	for _, r := range []Request{{Kind: client.SocketRaw, Ifindex: 2}, {Kind: client.SocketUDP, Ifindex: 2, Addr: netip.MustParseAddr("10.1.2.3")}} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("S\x04\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip % x -> % x", b, out)
		}
	})
}

// FuzzReply: whatever decodes must encode to the same bytes.
func FuzzReply(f *testing.F) {
	b, _ := Reply{Kind: client.SocketUDP, Errno: 13}.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reply
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		out, _ := r.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip % x -> % x", b, out)
		}
	})
}
