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

func testDatagram(payload []byte) Datagram {
	return Datagram{
		Src:     netip.AddrPortFrom(testServer, ServerPort),
		Dst:     netip.AddrPortFrom(netip.MustParseAddr("255.255.255.255"), ClientPort),
		TOS:     0x10,
		ID:      0x1234,
		TTL:     64,
		Payload: payload,
	}
}

func mustDatagram(t testing.TB, d Datagram) []byte {
	t.Helper()
	b, err := d.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refChecksum is the RFC 1071 checksum computed the slow way.
func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestDatagramRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, {1}, []byte("odd"), replyBytes(t, Offer)} {
		d := testDatagram(payload)
		d.DontFragment = len(payload)%2 == 1
		b := mustDatagram(t, d)
		if refChecksum(b[:20]) != 0 {
			t.Error("ip header checksum")
		}
		pseudo := append(append(append([]byte{}, b[12:20]...), 0, 17), b[24:26]...)
		if refChecksum(append(pseudo, b[20:]...)) != 0 {
			t.Error("udp checksum")
		}
		got, err := ParseDatagram(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got, cmpOpts...); diff != "" && !(len(payload) == 0 && len(got.Payload) == 0) {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// Ethernet padding after the IP total length is ignored.
		padded := append(bytes.Clone(b), make([]byte, 18)...)
		got, err = ParseDatagram(padded, 0)
		if err != nil || !bytes.Equal(got.Payload, payload) {
			t.Errorf("padded: %v", err)
		}
	}
}

func TestDatagramChecksums(t *testing.T) {
	b := mustDatagram(t, testDatagram([]byte("hello dhcp")))
	corrupt := func(off int) []byte { c := bytes.Clone(b); c[off] ^= 0x40; return c }

	if _, err := ParseDatagram(corrupt(8), 0); !errors.Is(err, ErrChecksum) { // TTL
		t.Errorf("ip header corruption: %v", err)
	}
	if _, err := ParseDatagram(corrupt(30), 0); !errors.Is(err, ErrChecksum) { // payload
		t.Errorf("payload corruption: %v", err)
	}
	// Not verified when the kernel says the checksum is not ready.
	if _, err := ParseDatagram(corrupt(30), ChecksumNotReady); err != nil {
		t.Errorf("ChecksumNotReady: %v", err)
	}
	// The IP header checksum is verified even then.
	if _, err := ParseDatagram(corrupt(8), ChecksumNotReady); !errors.Is(err, ErrChecksum) {
		t.Errorf("ChecksumNotReady, ip header: %v", err)
	}
	// A UDP checksum of 0 means none (RFC 768).
	none := corrupt(30)
	none[26], none[27] = 0, 0
	if _, err := ParseDatagram(none, 0); err != nil {
		t.Errorf("checksum 0: %v", err)
	}
}

func TestDatagramZeroChecksumSentAsOnes(t *testing.T) {
	// Find a payload whose UDP checksum computes to 0; it must go out as
	// 0xffff and still verify.
	d := testDatagram([]byte{0, 0})
	for i := range 1 << 16 {
		binary.BigEndian.PutUint16(d.Payload, uint16(i))
		b := mustDatagram(t, d)
		if binary.BigEndian.Uint16(b[26:]) == 0xffff {
			if _, err := ParseDatagram(b, 0); err != nil {
				t.Fatal(err)
			}
			return
		}
		if binary.BigEndian.Uint16(b[26:]) == 0 {
			t.Fatal("checksum 0 on the wire")
		}
	}
	t.Fatal("no payload gives checksum 0xffff")
}

// TestParseDatagramIPOptions: options in the IP header are skipped, the
// payload and addresses come through.
func TestParseDatagramIPOptions(t *testing.T) {
	d := testDatagram([]byte("payload"))
	good := mustDatagram(t, d)
	for _, opts := range [][]byte{{0x94, 4, 0, 0}, bytes.Repeat([]byte{1}, 40)} {
		got, err := ParseDatagram(withIPOptions(good, opts), 0)
		if err != nil {
			t.Fatalf("%d octets of options: %v", len(opts), err)
		}
		if got.Src != d.Src || got.Dst != d.Dst || string(got.Payload) != "payload" {
			t.Errorf("%d octets of options: %+v", len(opts), got)
		}
	}
}

func TestParseDatagramErrors(t *testing.T) {
	good := mustDatagram(t, testDatagram([]byte("payload")))
	fix := func(b []byte) []byte { // recompute the IP header checksum
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], refChecksum(b[:20]))
		return b
	}
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return fix(b) }
	tests := []struct {
		name string
		b    []byte
		err  string
		eof  bool
	}{
		{"short", good[:27], "truncated ipv4/udp packet", true},
		{"ipv6", mut(func(b []byte) { b[0] = 0x60 }), "ip version 6", false},
		{"ihl 4", mut(func(b []byte) { b[0] = 0x44 }), "header length 16", false},
		{"ihl 6, options' checksum wrong", mut(func(b []byte) { b[0] = 0x46 }), "checksum", false},
		{"ihl 15 beyond the packet", mut(func(b []byte) { b[0] = 0x4f }), "with a header of 60", false},
		{"total length short", mut(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 27) }), "total length 27", false},
		{"total length beyond", mut(func(b []byte) { binary.BigEndian.PutUint16(b[2:], uint16(len(b)+1)) }), "truncated ipv4 packet", true},
		{"more fragments", mut(func(b []byte) { b[6] |= 0x20 }), "fragment", false},
		{"fragment offset", mut(func(b []byte) { b[7] = 1 }), "fragment", false},
		{"reserved flag", mut(func(b []byte) { b[6] |= 0x80 }), "reserved flag", false},
		{"tcp", mut(func(b []byte) { b[9] = 6 }), "ip protocol 6", false},
		{"udp length long", mut(func(b []byte) { binary.BigEndian.PutUint16(b[24:], uint16(len(b)-19)) }), "udp length", false},
		{"udp length short", mut(func(b []byte) { binary.BigEndian.PutUint16(b[24:], 8) }), "udp length 8", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDatagram(tt.b, ChecksumNotReady)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) != tt.eof {
				t.Errorf("io.ErrUnexpectedEOF: %v", err)
			}
		})
	}
	d := testDatagram(nil)
	d.Dst = netip.AddrPortFrom(netip.MustParseAddr("::1"), 68)
	if _, err := d.AppendBinary(nil); err == nil {
		t.Error("ipv6 datagram encoded")
	}
	d = testDatagram(make([]byte, 0xffff-27))
	if _, err := d.AppendBinary(nil); err == nil {
		t.Error("oversized datagram encoded")
	}
}

func TestDatagramAllocs(t *testing.T) {
	d := testDatagram(replyBytes(t, Ack))
	buf := make([]byte, 0, 1500)
	allocs := testing.AllocsPerRun(100, func() {
		b, err := d.AppendBinary(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseDatagram(b, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}
