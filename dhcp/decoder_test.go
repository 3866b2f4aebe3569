package dhcp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeOne runs get on a decoder positioned on a single option code=v.
func decodeOne(t *testing.T, code OptionCode, v []byte, get func(d *OptionDecoder) any) (any, error) {
	t.Helper()
	var o Options
	if err := o.Set(code, v); err != nil {
		t.Fatal(err)
	}
	d := o.Decoder()
	if !d.Next() {
		t.Fatal("no option")
	}
	got := get(&d)
	if d.Next() {
		t.Error("Next true after an only option")
	}
	return got, d.Err()
}

func TestDecoderGetters(t *testing.T) {
	a4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	addrs := func(d *OptionDecoder) any {
		var dst [2]netip.Addr
		n := d.Addrs(dst[:])
		return dst[:n]
	}
	tests := []struct {
		name string
		code OptionCode
		v    []byte
		get  func(d *OptionDecoder) any
		want any
		err  string // "" = no error
	}{
		{"uint8", 1, []byte{7}, func(d *OptionDecoder) any { return d.Uint8() }, uint8(7), ""},
		{"uint8 long", 1, []byte{7, 7}, func(d *OptionDecoder) any { return d.Uint8() }, uint8(0), "length 2, want 1"},
		{"uint16", 1, []byte{1, 2}, func(d *OptionDecoder) any { return d.Uint16() }, uint16(0x102), ""},
		{"uint16 short", 1, []byte{1}, func(d *OptionDecoder) any { return d.Uint16() }, uint16(0), "length 1, want 2"},
		{"uint32", OptLeaseTime, []byte{0, 1, 0, 0}, func(d *OptionDecoder) any { return d.Uint32() }, uint32(65536), ""},
		{"uint32 empty", OptLeaseTime, nil, func(d *OptionDecoder) any { return d.Uint32() }, uint32(0), "length 0, want 4"},
		{"addr", OptServerID, []byte{10, 0, 0, 1}, func(d *OptionDecoder) any { return d.Addr() }, a4("10.0.0.1"), ""},
		{"addr 8 octets", OptServerID, []byte{10, 0, 0, 1, 10, 0, 0, 2}, func(d *OptionDecoder) any { return d.Addr() }, netip.Addr{}, "length 8, want 4"},
		{"addrs", OptRouter, []byte{10, 0, 0, 1, 10, 0, 0, 2}, addrs, []netip.Addr{a4("10.0.0.1"), a4("10.0.0.2")}, ""},
		{"addrs 5", OptRouter, []byte{10, 0, 0, 1, 10}, addrs, []netip.Addr{}, "want a positive multiple of 4"},
		{"addrs empty", OptRouter, nil, addrs, []netip.Addr{}, "want a positive multiple of 4"},
		{"addrs too many", OptRouter, make([]byte, 12), addrs, []netip.Addr{}, "3 addresses, at most 2"},
		{"mask 24", OptSubnetMask, []byte{255, 255, 255, 0}, func(d *OptionDecoder) any { return d.SubnetMask() }, a4("255.255.255.0"), ""},
		{"mask 32", OptSubnetMask, []byte{255, 255, 255, 255}, func(d *OptionDecoder) any { return d.SubnetMask() }, a4("255.255.255.255"), ""},
		{"mask holes", OptSubnetMask, []byte{255, 0, 255, 0}, func(d *OptionDecoder) any { return d.SubnetMask() }, netip.Addr{}, "not contiguous"},
		{"mask short", OptSubnetMask, []byte{255, 255, 255}, func(d *OptionDecoder) any { return d.SubnetMask() }, netip.Addr{}, "length 3"},
		{"mtu", OptInterfaceMTU, []byte{5, 0xdc}, func(d *OptionDecoder) any { return d.MTU() }, uint16(1500), ""},
		{"mtu 68", OptInterfaceMTU, []byte{0, 68}, func(d *OptionDecoder) any { return d.MTU() }, uint16(68), ""},
		{"mtu 67", OptInterfaceMTU, []byte{0, 67}, func(d *OptionDecoder) any { return d.MTU() }, uint16(0), "mtu 67 below 68"},
		{"mtu 3 octets", OptInterfaceMTU, []byte{0, 5, 0xdc}, func(d *OptionDecoder) any { return d.MTU() }, uint16(0), "length 3"},
		{"max size", OptMaxMessageSize, []byte{2, 64}, func(d *OptionDecoder) any { return d.MaxMessageSize() }, uint16(576), ""},
		{"max size 575", OptMaxMessageSize, []byte{2, 63}, func(d *OptionDecoder) any { return d.MaxMessageSize() }, uint16(0), "below 576"},
		{"type", OptMessageType, []byte{5}, func(d *OptionDecoder) any { return d.MessageType() }, Ack, ""},
		{"type 0", OptMessageType, []byte{0}, func(d *OptionDecoder) any { return d.MessageType() }, MessageType(0), "unknown message type 0"},
		{"type 9", OptMessageType, []byte{9}, func(d *OptionDecoder) any { return d.MessageType() }, MessageType(0), "unknown message type 9"},
		{"type 2 octets", OptMessageType, []byte{5, 5}, func(d *OptionDecoder) any { return d.MessageType() }, MessageType(0), "length 2"},
		{"prl", OptParamRequest, []byte{1, 3}, func(d *OptionDecoder) any {
			var dst [4]OptionCode
			return dst[:d.ParamRequestList(dst[:])]
		}, []OptionCode{1, 3}, ""},
		{"prl empty", OptParamRequest, nil, func(d *OptionDecoder) any {
			var dst [4]OptionCode
			return dst[:d.ParamRequestList(dst[:])]
		}, []OptionCode{}, "want at least 1"},
		{"prl too long", OptParamRequest, make([]byte, 5), func(d *OptionDecoder) any {
			var dst [4]OptionCode
			return dst[:d.ParamRequestList(dst[:])]
		}, []OptionCode{}, "5 codes, at most 4"},
		{"text nul", OptMessage, []byte("hi\x00\x00"), func(d *OptionDecoder) any { return string(d.Text()) }, "hi", ""},
		{"text only nul", OptMessage, []byte("\x00"), func(d *OptionDecoder) any { return string(d.Text()) }, "", "empty text"},
		{"hostname", OptHostname, []byte("host-1\x00"), func(d *OptionDecoder) any { return d.Hostname().String() }, "host-1", ""},
		{"hostname underscore", OptHostname, []byte("a_b"), func(d *OptionDecoder) any { return d.Hostname().String() }, "", "invalid character '_'"},
		{"hostname empty", OptHostname, nil, func(d *OptionDecoder) any { return d.Hostname().String() }, "", "empty text"},
		{"domain", OptDomainName, []byte("example.org"), func(d *OptionDecoder) any { return d.DomainName().String() }, "example.org", ""},
		{"domain space", OptDomainName, []byte("example.org corp.example"), func(d *OptionDecoder) any { return d.DomainName().String() }, "", "invalid character ' '"},
		{"domain wire format", OptDomainName, []byte("\x07example\x03org\x00"), func(d *OptionDecoder) any { return d.DomainName().String() }, "", "invalid character"},
		{"search", OptDomainSearch, []byte("\x03eng\x07example\x03org\x00\xc0\x04"), func(d *OptionDecoder) any {
			var dst [4]DomainName
			n := d.DomainSearch(dst[:])
			var s []string
			for _, x := range dst[:n] {
				s = append(s, x.String())
			}
			return s
		}, []string{"eng.example.org", "example.org"}, ""},
		{"search loop", OptDomainSearch, []byte("\xc0\x00"), func(d *OptionDecoder) any {
			var dst [4]DomainName
			return d.DomainSearch(dst[:])
		}, 0, "does not point backwards"},
		{"routes", OptClasslessRoutes, []byte{0, 10, 0, 0, 1}, func(d *OptionDecoder) any {
			var dst [2]Route
			return dst[:d.Routes(dst[:])]
		}, []Route{{netip.MustParsePrefix("0.0.0.0/0"), a4("10.0.0.1")}}, ""},
		{"routes 33", OptClasslessRoutes, []byte{33, 10, 0, 0, 1, 1, 2, 3, 4}, func(d *OptionDecoder) any {
			var dst [2]Route
			return dst[:d.Routes(dst[:])]
		}, []Route{}, "prefix length 33 over 32"},
		{"client id", OptClientID, []byte{1, 2, 0, 0x5e, 0, 0, 1}, func(d *OptionDecoder) any { return d.ClientID().String() }, "01:02:00:5e:00:00:01", ""},
		{"client id short", OptClientID, []byte{1}, func(d *OptionDecoder) any { return d.ClientID().String() }, "", "length 1, want 2 to 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeOne(t, tt.code, tt.v, tt.get)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				var oe *OptionError
				if !errors.As(err, &oe) || oe.Code != tt.code {
					t.Errorf("error %v is not an OptionError for code %d", err, tt.code)
				}
			}
			if d := cmp.Diff(tt.want, got, cmpOpts...); d != "" {
				t.Errorf("value (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecoderSticky(t *testing.T) {
	var o Options
	mustSet(t, &o, OptServerID, []byte{1, 2, 3})
	mustSet(t, &o, OptRouter, []byte{1, 2, 3, 4})
	d := o.Decoder()
	seen := 0
	for d.Next() {
		seen++
		if d.Code() == OptServerID {
			_ = d.Addr() // wrong size: records the error
			// Later getters return zero values without touching the error.
			if d.Uint8() != 0 || d.Addr().IsValid() {
				t.Error("getter after error returned a value")
			}
		}
	}
	if seen != 1 {
		t.Errorf("iterated %d options after an error, want 1", seen)
	}
	err := d.Err()
	if err == nil || !strings.Contains(err.Error(), "dhcp: option 54 (server identifier): length 3, want 4") {
		t.Errorf("error %v", err)
	}

	bad := NewOptionDecoder([]byte{3, 9, 1})
	if bad.Next() || bad.Err() == nil {
		t.Error("malformed buffer: Next true or no error")
	}
	// Without End, a standalone decoder reads to the end of the buffer and
	// keeps option 52 as an ordinary option.
	ok := NewOptionDecoder([]byte{52, 1, 9, 0, 12, 1, 'x'})
	var codes []OptionCode
	for ok.Next() {
		codes = append(codes, ok.Code())
	}
	if ok.Err() != nil || !cmp.Equal(codes, []OptionCode{52, 12}) {
		t.Errorf("codes %v, err %v", codes, ok.Err())
	}
	var zero OptionDecoder
	if zero.Next() {
		t.Error("zero decoder iterates")
	}
}

func TestMaskBits(t *testing.T) {
	for _, tt := range []struct {
		mask string
		bits int
		ok   bool
	}{
		{"0.0.0.0", 0, true}, {"128.0.0.0", 1, true}, {"255.255.254.0", 23, true},
		{"255.255.255.255", 32, true}, {"255.255.255.254", 31, true},
		{"0.255.255.255", 0, false}, {"255.255.255.253", 0, false}, {"::", 0, false},
	} {
		bits, ok := MaskBits(netip.MustParseAddr(tt.mask))
		if bits != tt.bits || ok != tt.ok {
			t.Errorf("MaskBits(%s) = %d, %v; want %d, %v", tt.mask, bits, ok, tt.bits, tt.ok)
		}
	}
}
