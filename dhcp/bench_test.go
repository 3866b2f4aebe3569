package dhcp

import (
	"net/netip"
	"testing"
)

// Comparisons with insomniacslk/dhcp are in package fuzz; these measure the
// pieces of this package alone.

func BenchmarkParseReply(b *testing.B) {
	pkt := replyBytes(b, Ack)
	r := new(Reply)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; i < b.N; i++ {
		if err := ParseReply(pkt, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageUnmarshal(b *testing.B) {
	pkt := replyBytes(b, Ack)
	m := new(Message)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; i < b.N; i++ {
		if err := m.UnmarshalBinary(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDatagram(b *testing.B) {
	frame := mustDatagram(b, testDatagram(replyBytes(b, Ack)))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseDatagram(frame, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDiscover(b *testing.B) {
	c := testConfig(b)
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = c.AppendDiscover(buf[:0], 1, 0, netip.Addr{}); err != nil {
			b.Fatal(err)
		}
	}
}
