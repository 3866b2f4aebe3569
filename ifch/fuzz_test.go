package ifch

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzUnmarshal checks that every accepted command is canonical (encoding it
// gives back the same bytes), survives decode -> encode -> decode unchanged,
// and that validating it never panics. The seed corpus in
// testdata/fuzz/FuzzUnmarshal holds valid and hostile messages.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("deconfigure eth0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Unmarshal(b)
		if err != nil {
			if c != nil {
				t.Fatalf("command %#v with error %v", c, err)
			}
			return
		}
		_ = testPolicy().Validate(c)
		if cfg, ok := c.(*Configure); ok {
			// After Sanitize, only what makes the lease can be refused.
			cp := *cfg
			testPolicy().Sanitize(&cp)
			if err := testPolicy().Validate(&cp); err != nil && optionalField(err) {
				t.Fatalf("sanitized %q still refused for an optional field: %v", b, err)
			}
		}
		enc, err := Marshal(c)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode %#v: %v", b, c, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("not canonical:\n in: %q\nout: %q", b, enc)
		}
		back, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		if d := cmp.Diff(c, back, addrCmp, prefixCmp); d != "" {
			t.Fatalf("round trip -first +second:\n%s", d)
		}
		enc2, err := Marshal(back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encode differs: %q vs %q (%v)", enc, enc2, err)
		}
	})
}

// FuzzReply does the same for replies, which the engine decodes.
func FuzzReply(f *testing.F) {
	f.Add([]byte("ok\n"))
	f.Add([]byte("error not-unicast address: 127.0.0.1 is loopback\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reply
		if err := r.UnmarshalText(b); err != nil {
			return
		}
		enc, err := r.MarshalText()
		if err != nil {
			t.Fatalf("decoded %q but cannot encode %+v: %v", b, r, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("not canonical:\n in: %q\nout: %q", b, enc)
		}
		var back Reply
		if err := back.UnmarshalText(enc); err != nil || back != r {
			t.Fatalf("round trip: %+v -> %+v (%v)", r, back, err)
		}
	})
}

// FuzzNames: the name rules the engine, ifch and the hostname role share.
// What they accept is a letter-digit-hyphen name within its bounds.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"example.com", "a-b.c", "bad_name.example", "-x", "x..y", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dom, host := CheckDomainName(s) == nil, CheckHostname(s) == nil
		if host && !dom {
			t.Fatalf("%q: a host name that is not a domain name", s)
		}
		if !dom {
			return
		}
		if len(s) > 253 || (host && len(s) > 64) {
			t.Fatalf("%q: accepted at %d bytes", s, len(s))
		}
		for _, label := range strings.Split(s, ".") {
			if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
				t.Fatalf("%q: label %q accepted", s, label)
			}
			for _, c := range []byte(label) {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
					t.Fatalf("%q: byte %q accepted", s, c)
				}
			}
		}
	})
}
