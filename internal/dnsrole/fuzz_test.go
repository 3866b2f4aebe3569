package dnsrole

import (
	"bytes"
	"testing"
)

// FuzzUnmarshal: any bytes from ifch either decode to a valid request
// that encodes back to the same bytes, or are refused; never a panic.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{OpRevert, 0, 0, 0, 2})
	f.Add([]byte{OpSet, 0, 0, 0, 2, 0, 0})
	f.Add([]byte{OpSet, 0, 0, 0, 2, 1, 10, 0, 0, 1, 1, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'})
	f.Add([]byte{OpSet, 0, 0, 0, 2, 33})
	f.Add([]byte{OpSet, 0x7f, 0xff, 0xff, 0xff, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Unmarshal(b)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", r, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("%x decoded to %+v, which encodes to %x", b, r, out)
		}
	})
}
