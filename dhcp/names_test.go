package dhcp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseNames(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	name253 := strings.Repeat(long63+".", 3) + strings.Repeat("b", 61) // 4*63+... = 253
	tests := []struct {
		in         string
		domain     string // "" = invalid
		host       string // "" = invalid
		domainErr  string
		hostnameOK bool
	}{
		{in: "example.org", domain: "example.org", host: "example.org"},
		{in: "Example.ORG.", domain: "Example.ORG", host: "Example.ORG"},
		{in: "a", domain: "a", host: "a"},
		{in: "1-2.x9", domain: "1-2.x9", host: "1-2.x9"},
		{in: "_tcp.example.org", domain: "_tcp.example.org"},
		{in: long63 + ".org", domain: long63 + ".org", host: long63 + ".org"},
		{in: name253, domain: name253, host: name253},
		{in: name253 + "b"},
		{in: strings.Repeat("a", 64) + ".org"},
		{in: ""},
		{in: "."},
		{in: "a..b"},
		{in: ".a"},
		{in: "a.."},
		{in: "-a.org"},
		{in: "a-.org"},
		{in: "a b"},
		{in: "a;b"},
		{in: "a\"b"},
		{in: "a'b"},
		{in: "a\\b"},
		{in: "a\nb"},
		{in: "a\x00b"},
		{in: "a\x7fb"},
		{in: "ex\xc3\xa4mple"},
		{in: "a/b"},
		{in: "a$b"},
	}
	for _, tt := range tests {
		d, err := ParseDomainName(tt.in)
		if (err == nil) != (tt.domain != "") || d.String() != tt.domain {
			t.Errorf("ParseDomainName(%q) = %q, %v; want %q", tt.in, d, err, tt.domain)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "dhcp: invalid domain name: ") {
			t.Errorf("error %q", err)
		}
		h, err := ParseHostname(tt.in)
		if (err == nil) != (tt.host != "") || h.String() != tt.host {
			t.Errorf("ParseHostname(%q) = %q, %v; want %q", tt.in, h, err, tt.host)
		}
		if err == nil {
			var h2 Hostname
			txt, _ := h.MarshalText()
			if err := h2.UnmarshalText(txt); err != nil || h2 != h {
				t.Errorf("hostname text round trip: %q, %v", h2, err)
			}
		}
		if d.IsZero() != (tt.domain == "") || h.IsZero() != (tt.host == "") {
			t.Errorf("IsZero wrong for %q", tt.in)
		}
	}
	var d DomainName
	if err := d.UnmarshalText([]byte("a b")); err == nil || !d.IsZero() {
		t.Error("UnmarshalText accepted a space")
	}
	if err := d.UnmarshalText(nil); err != nil || !d.IsZero() {
		t.Error("UnmarshalText of empty text")
	}
	if err := d.UnmarshalText([]byte("example.org")); err != nil || d.String() != "example.org" {
		t.Error("UnmarshalText")
	}
	if txt, _ := d.MarshalText(); string(txt) != "example.org" {
		t.Errorf("MarshalText %q", txt)
	}
	var h Hostname
	if err := h.UnmarshalText([]byte("a_b")); err == nil || !h.IsZero() {
		t.Error("Hostname.UnmarshalText accepted '_'")
	}
	if err := h.UnmarshalText(nil); err != nil || !h.IsZero() {
		t.Error("Hostname.UnmarshalText of empty text")
	}
}

func searchStrings(names []DomainName) []string {
	var s []string
	for _, n := range names {
		s = append(s, n.String())
	}
	return s
}

func TestDomainSearch(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want []string
		err  string
	}{
		// RFC 3397 section 4 example: eng.apple.com and marketing.apple.com.
		{"rfc 3397 example", "\x03eng\x05apple\x03com\x00\x09marketing\xc0\x04", []string{"eng.apple.com", "marketing.apple.com"}, ""},
		{"pointer to pointer", "\x03org\x00\x01a\xc0\x00\x01b\xc0\x05", []string{"org", "a.org", "b.a.org"}, ""},
		{"single", "\x01x\x00", []string{"x"}, ""},
		{"empty", "", nil, "empty search list"},
		{"root name", "\x00", nil, "empty name"},
		{"self pointer", "\xc0\x00", nil, "does not point backwards"},
		{"forward pointer", "\xc0\x02\x01a\x00", nil, "does not point backwards"},
		{"loop through own label", "\x01a\x01b\xc0\x02", nil, "does not point backwards"},
		{"two name loop", "\x01a\xc0\x04\x01b\xc0\x00", nil, "does not point backwards"},
		{"pointer out of range", "\x01a\x00\xc0\x40", nil, "out of range"},
		{"pointer truncated", "\x01a\x00\xc0", nil, "truncated compression pointer"},
		{"label truncated", "\x05ab", nil, "truncated label"},
		{"no terminator", "\x01a", nil, "truncated name"},
		{"label type 01", "\x41a\x00", nil, "unsupported label type 1"},
		{"label type 10", "\x81a\x00", nil, "unsupported label type 2"},
		{"dot in label", "\x03a.b\x00", nil, "invalid character '.'"},
		{"space in label", "\x03a b\x00", nil, "invalid character ' '"},
		{"nul in label", "\x03a\x00b\x00", nil, "invalid character"},
		{"leading hyphen", "\x02-a\x00", nil, "starts or ends with '-'"},
		{"too many", strings.Repeat("\x01a\x00", 5), nil, "more than 4 names"},
	}
	// A name that grows past 253 octets through pointers.
	var grow []byte
	grow = append(grow, 63)
	grow = append(grow, bytes.Repeat([]byte("a"), 63)...)
	grow = append(grow, 0)
	prev := 0
	for range 3 {
		at := len(grow)
		grow = append(grow, 63)
		grow = append(grow, bytes.Repeat([]byte("b"), 63)...)
		grow = append(grow, 0xc0, byte(prev))
		prev = at
	}
	tests = append(tests, struct {
		name string
		v    string
		want []string
		err  string
	}{"name over 253", string(grow), nil, "name longer than 253"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst [4]DomainName
			n, err := decodeSearchList([]byte(tt.v), dst[:])
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, searchStrings(dst[:n])); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			// Re-encode (uncompressed) and decode again.
			enc, err := AppendDomainSearch(nil, dst[:n])
			if err != nil {
				t.Fatal(err)
			}
			var again [4]DomainName
			m, err := decodeSearchList(enc, again[:])
			if err != nil || !cmp.Equal(dst[:n], again[:m], cmpOpts...) {
				t.Errorf("re-decode: %v, %v", searchStrings(again[:m]), err)
			}
		})
	}
	if _, err := AppendDomainSearch(nil, nil); err == nil {
		t.Error("empty list encoded")
	}
	if _, err := AppendDomainSearch(nil, []DomainName{{}}); err == nil {
		t.Error("zero name encoded")
	}
}

// TestLabelOctets checks every octet value in a label, in the middle of
// it: letters, digits and '-' in both kinds of name, '_' only in domain
// names, nothing else.
func TestLabelOctets(t *testing.T) {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		label := []byte{'a', byte(c), 'a'}
		for _, host := range []bool{false, true} {
			want := alnum || c == '-' || c == '_' && !host
			if err := checkLabel(label, host); (err == nil) != want {
				t.Errorf("octet %#02x, host %v: err %v, want accepted %v", c, host, err, want)
			}
		}
	}
}
