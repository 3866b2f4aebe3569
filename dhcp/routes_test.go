package dhcp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoutes(t *testing.T) {
	r := func(dst, gw string) Route {
		return Route{Dst: netip.MustParsePrefix(dst), Gateway: netip.MustParseAddr(gw)}
	}
	tests := []struct {
		name string
		v    []byte
		want []Route
		err  string
	}{
		// The encodings of RFC 3442 section 2's table.
		{"rfc 3442 table", []byte{
			0, 1, 1, 1, 1,
			8, 10, 1, 1, 1, 1,
			9, 10, 0, 1, 1, 1, 1,
			16, 10, 17, 1, 1, 1, 1,
			18, 10, 17, 128, 1, 1, 1, 1,
			24, 10, 229, 0, 1, 1, 1, 1,
			25, 10, 198, 122, 128, 1, 1, 1, 1,
			32, 10, 198, 122, 47, 1, 1, 1, 1,
		}, []Route{
			r("0.0.0.0/0", "1.1.1.1"), r("10.0.0.0/8", "1.1.1.1"), r("10.0.0.0/9", "1.1.1.1"),
			r("10.17.0.0/16", "1.1.1.1"), r("10.17.128.0/18", "1.1.1.1"), r("10.229.0.0/24", "1.1.1.1"),
			r("10.198.122.128/25", "1.1.1.1"), r("10.198.122.47/32", "1.1.1.1"),
		}, ""},
		{"on-link", []byte{24, 192, 0, 2, 0, 0, 0, 0}, []Route{r("192.0.2.0/24", "0.0.0.0")}, ""},
		{"empty", nil, nil, "no routes"},
		{"prefix 33", []byte{33, 1, 2, 3, 4, 5, 1, 1, 1, 1}, nil, "prefix length 33 over 32"},
		{"prefix 255", []byte{255, 1, 2, 3, 4}, nil, "over 32"},
		{"host bits", []byte{9, 10, 64, 1, 1, 1, 1}, nil, "bits set past its prefix length"},
		{"host bits /0", []byte{7, 11, 1, 1, 1, 1}, nil, "bits set past"},
		{"truncated router", []byte{8, 10, 1, 1, 1}, nil, "truncated route"},
		{"truncated destination", []byte{24, 10, 1}, nil, "truncated route"},
		{"trailing octet", []byte{0, 1, 1, 1, 1, 8}, nil, "truncated route"},
		{"too many", []byte{0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1}, nil, "more than 8 routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst [8]Route
			n, err := decodeRoutes(tt.v, dst[:])
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, dst[:n], cmpOpts...); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			enc, err := AppendRoutes(nil, dst[:n])
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(enc, tt.v) {
				t.Errorf("re-encoding % x, want % x", enc, tt.v)
			}
		})
	}
	for _, bad := range [][]Route{
		nil,
		{{}},
		{r("10.0.0.0/8", "1.1.1.1"), {Dst: netip.MustParsePrefix("10.0.0.1/8"), Gateway: netip.MustParseAddr("1.1.1.1")}},
		{{Dst: netip.MustParsePrefix("2001:db8::/32"), Gateway: netip.MustParseAddr("1.1.1.1")}},
		{{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("::1")}},
	} {
		if _, err := AppendRoutes(nil, bad); err == nil {
			t.Errorf("AppendRoutes(%v) accepted", bad)
		}
	}
	if s := r("10.0.0.0/8", "1.1.1.1").String(); s != "10.0.0.0/8 via 1.1.1.1" {
		t.Error(s)
	}
}
