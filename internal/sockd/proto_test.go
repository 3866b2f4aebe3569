package sockd

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
)

// bootRequest is a minimal DHCP client message from mac.
func bootRequest(mac [6]byte) []byte {
	b := make([]byte, dhcp.MinMessageLen)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[28:], mac[:])
	copy(b[236:], []byte{99, 130, 83, 99})
	b[240] = 255
	return b
}

func arpProbe(mac [6]byte) []byte {
	a := dhcp.ARPProbe(mac, netip.MustParseAddr("10.0.0.7"))
	b, _ := a.AppendBinary(nil)
	return b
}

var testMAC = [6]byte{2, 0, 0, 0, 0, 1}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{Op: OpOpen, Kind: client.SocketRaw, Ifindex: 3},
		{Op: OpOpen, Kind: client.SocketARP, Ifindex: 1 << 20},
		{Op: OpOpen, Kind: client.SocketUDP, Ifindex: 3, Addr: netip.MustParseAddr("10.0.0.7"), Peer: netip.MustParseAddr("10.0.0.1")},
		{Op: OpOpen, Kind: client.SocketARPDefense, Ifindex: 3, Addr: netip.MustParseAddr("192.0.2.9")},
		{Op: OpTransmit, Kind: client.SocketRaw, Ifindex: 3, Payload: bootRequest(testMAC)},
		{Op: OpTransmit, Kind: client.SocketRaw, Ifindex: 3, Addr: netip.MustParseAddr("10.0.0.7"), Payload: bootRequest(testMAC)},
		{Op: OpTransmit, Kind: client.SocketARP, Ifindex: 3, Payload: arpProbe(testMAC)},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("got %+v want %+v", got, r)
		}
	}
}

func TestRequestRejects(t *testing.T) {
	udp := Request{Op: OpOpen, Kind: client.SocketUDP, Ifindex: 3, Addr: netip.MustParseAddr("10.0.0.7"), Peer: netip.MustParseAddr("10.0.0.1")}
	ok, _ := udp.MarshalBinary()
	dhcpTx := Request{Op: OpTransmit, Kind: client.SocketRaw, Ifindex: 3, Payload: bootRequest(testMAC)}
	tx, _ := dhcpTx.MarshalBinary()
	arpTx := Request{Op: OpTransmit, Kind: client.SocketARP, Ifindex: 3, Payload: arpProbe(testMAC)}
	atx, _ := arpTx.MarshalBinary()
	mutate := func(from []byte, f func(b []byte) []byte) []byte { return f(append([]byte(nil), from...)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", ok[:15], "want 16 to"},
		{"long", append(append([]byte(nil), tx...), make([]byte, MaxPayload)...), "want 16 to"},
		{"magic", mutate(ok, func(b []byte) []byte { b[0] = 'X'; return b }), "header"},
		{"padding", mutate(ok, func(b []byte) []byte { b[3] = 1; return b }), "header"},
		{"op 0", mutate(ok, func(b []byte) []byte { b[1] = 0; return b }), "unknown request op"},
		{"op 3", mutate(ok, func(b []byte) []byte { b[1] = 3; return b }), "unknown request op"},
		{"kind 0", mutate(ok, func(b []byte) []byte { b[2] = 0; return b }), "unknown request kind"},
		{"kind 9", mutate(ok, func(b []byte) []byte { b[2] = 9; return b }), "unknown request kind"},
		{"ifindex 0", mutate(ok, func(b []byte) []byte { copy(b[4:8], []byte{0, 0, 0, 0}); return b }), "interface index"},
		{"ifindex huge", mutate(ok, func(b []byte) []byte { copy(b[4:8], []byte{0xff, 0, 0, 0}); return b }), "interface index"},
		{"udp without address", mutate(ok, func(b []byte) []byte { copy(b[8:], []byte{0, 0, 0, 0}); return b }), "needs a local address"},
		{"udp without server", mutate(ok, func(b []byte) []byte { copy(b[12:], []byte{0, 0, 0, 0}); return b }), "needs a local address"},
		{"udp to itself", mutate(ok, func(b []byte) []byte { copy(b[12:], b[8:12]); return b }), "needs a local address"},
		{"udp multicast", mutate(ok, func(b []byte) []byte { copy(b[8:], []byte{224, 0, 0, 1}); return b }), "unicast"},
		{"udp broadcast server", mutate(ok, func(b []byte) []byte { copy(b[12:], []byte{255, 255, 255, 255}); return b }), "unicast"},
		{"udp loopback server", mutate(ok, func(b []byte) []byte { copy(b[12:], []byte{127, 0, 0, 1}); return b }), "unicast"},
		{"raw with address", mutate(ok, func(b []byte) []byte { b[2] = byte(client.SocketRaw); return b }), "carries an address"},
		{"open with payload", mutate(ok, func(b []byte) []byte { return append(b, 1) }), "carries a payload"},
		{"transmit on udp", mutate(tx, func(b []byte) []byte { b[2] = byte(client.SocketUDP); return b }), "nothing to transmit"},
		{"transmit with peer", mutate(tx, func(b []byte) []byte { copy(b[12:], []byte{10, 0, 0, 1}); return b }), "names a peer"},
		{"dhcp reply", mutate(tx, func(b []byte) []byte { b[16] = 2; return b }), "BOOTREQUEST"},
		{"dhcp htype", mutate(tx, func(b []byte) []byte { b[17] = 6; return b }), "BOOTREQUEST"},
		{"dhcp hlen", mutate(tx, func(b []byte) []byte { b[18] = 16; return b }), "BOOTREQUEST"},
		{"dhcp cookie", mutate(tx, func(b []byte) []byte { b[16+236] = 0; return b }), "magic cookie"},
		{"dhcp short", mutate(tx, func(b []byte) []byte { return b[:16+240] }), "dhcp payload of"},
		{"arp short", mutate(atx, func(b []byte) []byte { return b[:len(b)-1] }), "arp payload of"},
		{"arp long", mutate(atx, func(b []byte) []byte { return append(b, 0) }), "arp payload of"},
		{"arp op", mutate(atx, func(b []byte) []byte { b[16+7] = 3; return b }), "neither request nor reply"},
		{"arp ethertype", mutate(atx, func(b []byte) []byte { b[16+2] = 0x86; return b }), "not an ethernet/ipv4"},
		{"arp with address", mutate(atx, func(b []byte) []byte { copy(b[8:], []byte{10, 0, 0, 7}); return b }), "carries an address"},
		{"transmit without payload", mutate(atx, func(b []byte) []byte { return b[:16] }), "arp payload of"},
	}
	for _, c := range cases {
		var r Request
		err := r.UnmarshalBinary(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if !reflect.DeepEqual(r, Request{}) {
			t.Errorf("%s: receiver written on error: %+v", c.name, r)
		}
	}
}

func TestReply(t *testing.T) {
	b, _ := Reply{Op: OpTransmit, Kind: client.SocketARP, Errno: 1}.MarshalBinary()
	var r Reply
	if err := r.UnmarshalBinary(b); err != nil || r != (Reply{Op: OpTransmit, Kind: client.SocketARP, Errno: 1}) {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range [][]byte{b[:7], {0x53, 1, 7, 0, 0, 0, 0, 0}, {0x53, 1, 1, 1, 0, 0, 0, 0}, {0x53, 0, 1, 0, 0, 0, 0, 0}, {0x53, 3, 1, 0, 0, 0, 0, 0}} {
		if err := r.UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted % x", bad)
		}
	}
}

// FuzzRequest: whatever decodes must encode to the same bytes.
func FuzzRequest(f *testing.F) {
	for _, r := range []Request{
		{Op: OpOpen, Kind: client.SocketRaw, Ifindex: 2},
		{Op: OpOpen, Kind: client.SocketUDP, Ifindex: 2, Addr: netip.MustParseAddr("10.1.2.3"), Peer: netip.MustParseAddr("10.1.2.1")},
		{Op: OpTransmit, Kind: client.SocketRaw, Ifindex: 2, Addr: netip.MustParseAddr("10.1.2.3"), Payload: bootRequest(testMAC)},
		{Op: OpTransmit, Kind: client.SocketARP, Ifindex: 2, Payload: arpProbe(testMAC)},
	} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("S\x01\x04\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"))
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
	b, _ := Reply{Op: OpOpen, Kind: client.SocketUDP, Errno: 13}.MarshalBinary()
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
