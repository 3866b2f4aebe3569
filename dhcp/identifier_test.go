package dhcp

import (
	"bytes"
	"testing"
)

func TestClientID(t *testing.T) {
	duid := []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16} // DUID-UUID
	id, err := NewClientIDDUID(0x01020304, duid)
	if err != nil {
		t.Fatal(err)
	}
	if iaid, ok := id.IAID(); !ok || iaid != 0x01020304 {
		t.Errorf("IAID %x %v", iaid, ok)
	}
	if d, ok := id.DUID(); !ok || !bytes.Equal(d, duid) {
		t.Errorf("DUID % x", d)
	}
	b, _ := id.AppendBinary(nil)
	if len(b) != 1+4+len(duid) || b[0] != 255 || id.Len() != len(b) || !id.Matches(b) {
		t.Errorf("encoding % x", b)
	}
	back, err := ParseClientID(b)
	if err != nil || back != id {
		t.Errorf("ParseClientID: %v %v", back, err)
	}
	if _, err := NewClientIDDUID(1, []byte{0, 1}); err == nil {
		t.Error("DUID of 2 octets accepted")
	}
	if _, err := NewClientIDDUID(1, make([]byte, 131)); err == nil {
		t.Error("DUID of 131 octets accepted")
	}
	if _, err := ParseClientID(make([]byte, 256)); err == nil {
		t.Error("256 octets accepted")
	}
	mac := NewClientIDMAC(testMAC)
	if mac.String() != "01:02:00:5e:10:20:30" {
		t.Error(mac.String())
	}
	if _, ok := mac.IAID(); ok {
		t.Error("IAID of a MAC identifier")
	}
	if _, ok := mac.DUID(); ok {
		t.Error("DUID of a MAC identifier")
	}
	txt, _ := id.MarshalText()
	var back2 ClientID
	if err := back2.UnmarshalText(txt); err != nil || back2 != id {
		t.Errorf("text round trip %q: %v", txt, err)
	}
	if err := back2.UnmarshalText([]byte("zz")); err == nil {
		t.Error("non-hex accepted")
	}
	if err := back2.UnmarshalText([]byte("01")); err == nil {
		t.Error("1 octet accepted")
	}
	if err := back2.UnmarshalText(nil); err != nil || !back2.IsZero() {
		t.Error("empty text")
	}
	var zero ClientID
	if !zero.IsZero() || zero.String() != "" || mac.IsZero() {
		t.Error("IsZero")
	}
}
