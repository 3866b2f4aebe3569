package ifch

import (
	"bytes"
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
