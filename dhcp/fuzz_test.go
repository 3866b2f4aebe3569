package dhcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Seeds shared by several targets.
func seedMessages(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, typ := range []MessageType{Offer, Ack, Nak} {
		seeds = append(seeds, replyBytes(t, typ))
	}
	c := testConfig(t)
	b, _ := c.AppendDiscover(nil, 1, 0, testYI)
	seeds = append(seeds, b)
	b, _ = c.AppendRequestSelecting(nil, 2, 0, testYI, testServer)
	seeds = append(seeds, b)
	over := rawMessage(52, 1, 3, 6, 4, 10, 0, 0, 1, 255)
	copy(over[offFile:], []byte{6, 4, 10, 0, 0, 2, 12, 3, 'f', 'o', 'o', 255})
	copy(over[offSName:], []byte{15, 3, 'o', 'r', 'g', 255})
	seeds = append(seeds, over)
	for _, name := range slices.Sorted(maps.Keys(captures(t))) {
		seeds = append(seeds, captures(t)[name])
	}
	return seeds
}

// FuzzMessage: decode, encode, decode again and compare; the second encoding
// must be identical; ParseReply must agree on both encodings.
func FuzzMessage(f *testing.F) {
	seeds := seedMessages(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := m.UnmarshalBinary(b)
		// A Message that held another one decodes the same (the engine
		// recycles them): nothing of the earlier one is left behind.
		for _, s := range seeds {
			var used Message
			if used.UnmarshalBinary(s) != nil {
				continue
			}
			uerr := used.UnmarshalBinary(b)
			if (uerr == nil) != (err == nil) || (err != nil && uerr.Error() != err.Error()) {
				t.Fatalf("into a used message: %v, into a fresh one: %v", uerr, err)
			}
			if err == nil && !used.Equal(&m) {
				t.Fatalf("decoded into a used message (-fresh +used):\n%s", diffMessages(&m, &used))
			}
			if err != nil && used.Options.Len() != 0 {
				t.Fatal("options left in a used message after an error")
			}
		}
		if err != nil {
			if m.Options.Len() != 0 {
				t.Fatal("options left after an error")
			}
			return
		}
		enc, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := diffMessages(&m, &m2); d != "" || !m.Equal(&m2) {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
		enc2, err := m2.AppendBinary(nil)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs: %v", err)
		}
		var r1, r2 Reply
		e1, e2 := ParseReply(b, &r1), ParseReply(enc, &r2)
		if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("ParseReply disagrees: %v / %v", e1, e2)
		}
		if e1 == nil && !r1.Equal(&r2) {
			t.Fatal("ParseReply values differ")
		}
	})
}

// typedValue applies the typed getter for the current option's code.
func typedValue(d *OptionDecoder) any {
	switch d.Code() {
	case OptSubnetMask:
		return d.SubnetMask()
	case OptRouter, OptDNS, OptNTPServers:
		var a [MaxAddrs]netip.Addr
		return a[:d.Addrs(a[:])]
	case OptHostname:
		return d.Hostname()
	case OptDomainName:
		return d.DomainName()
	case OptInterfaceMTU:
		return d.MTU()
	case OptBroadcast, OptRequestedIP, OptServerID:
		return d.Addr()
	case OptLeaseTime, OptRenewalTime, OptRebindingTime:
		return d.Uint32()
	case OptMessageType:
		return d.MessageType()
	case OptParamRequest:
		var p [255]OptionCode
		return p[:d.ParamRequestList(p[:])]
	case OptMessage, OptVendorClass:
		return string(d.Text())
	case OptMaxMessageSize:
		return d.MaxMessageSize()
	case OptClientID:
		return d.ClientID()
	case OptDomainSearch:
		var n [MaxSearchDomains]DomainName
		return n[:d.DomainSearch(n[:])]
	case OptClasslessRoutes:
		var r [MaxRoutes]Route
		return r[:d.Routes(r[:])]
	}
	// Other codes: exercise the plain getters on arbitrary values.
	switch d.Code() % 4 {
	case 0:
		return d.Uint8()
	case 1:
		return d.Uint16()
	case 2:
		return d.Uint32()
	}
	return bytes.Clone(d.Bytes())
}

// encodeTyped returns the option value of a typed value, and whether the
// encoding is canonical (must equal the raw value it came from).
func encodeTyped(t *testing.T, code OptionCode, v any) ([]byte, bool) {
	switch v := v.(type) {
	case netip.Addr:
		return v.AsSlice(), true
	case []netip.Addr:
		var b []byte
		for _, a := range v {
			b = append(b, a.AsSlice()...)
		}
		return b, true
	case uint8:
		return []byte{v}, true
	case MessageType:
		return []byte{byte(v)}, true
	case uint16:
		return binary.BigEndian.AppendUint16(nil, v), true
	case uint32:
		return binary.BigEndian.AppendUint32(nil, v), true
	case []OptionCode:
		var b []byte
		for _, c := range v {
			b = append(b, byte(c))
		}
		return b, true
	case ClientID:
		b, _ := v.AppendBinary(nil)
		return b, true
	case []Route:
		b, err := AppendRoutes(nil, v)
		if err != nil {
			t.Fatalf("decoded routes do not encode: %v", err)
		}
		return b, true // RFC 3442 encodings are unique
	case []DomainName:
		b, err := AppendDomainSearch(nil, v)
		if err != nil {
			t.Fatalf("decoded search list does not encode: %v", err)
		}
		return b, false // compression is not reproduced
	case DomainName:
		b, _ := v.AppendText(nil)
		return b, false // trailing NULs and dot removed
	case Hostname:
		b, _ := v.AppendText(nil)
		return b, false
	case string:
		return []byte(v), false
	case []byte:
		return v, true
	}
	t.Fatalf("no encoder for %T (option %d)", v, code)
	return nil, false
}

// FuzzOptions decodes an options buffer with every typed getter. Decoding
// the re-encoded buffer must give the same options and the same typed
// values; every typed value must encode back to its raw value (or, where
// the encoding is not canonical, to one that decodes to the same value).
func FuzzOptions(f *testing.F) {
	for _, s := range seedMessages(f) {
		f.Add(s[offOpts:])
	}
	f.Add([]byte{53, 1, 5, 1, 4, 255, 255, 255, 0, 12, 4, 'h', 'o', 's', 't', 0, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewOptionDecoder(b)
		if d.Err() != nil { // malformed framing: nothing to round-trip
			if d.Next() || d.opts.Len() != 0 {
				t.Fatal("options after a framing error")
			}
			return
		}
		var vals []any
		for d.Next() {
			vals = append(vals, typedValue(d))
		}
		err := d.Err()
		enc, _ := d.opts.AppendBinary(nil)
		d2 := NewOptionDecoder(enc)
		if d2.Err() != nil {
			t.Fatalf("re-decode: %v", d2.Err())
		}
		if !d.opts.Equal(d2.opts) {
			t.Fatal("options differ after a round trip")
		}
		var vals2 []any
		for d2.Next() {
			vals2 = append(vals2, typedValue(d2))
		}
		if fmt.Sprint(err) != fmt.Sprint(d2.Err()) || fmt.Sprint(vals) != fmt.Sprint(vals2) {
			t.Fatalf("typed values differ:\n%v %v\n%v %v", vals, err, vals2, d2.Err())
		}
		enc2, _ := d2.opts.AppendBinary(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("second encoding differs")
		}
		if err != nil {
			return
		}
		i := 0
		for code, raw := range d.opts.All() {
			v := vals[i]
			i++
			venc, canonical := encodeTyped(t, code, v)
			if canonical {
				if !bytes.Equal(venc, raw) {
					t.Fatalf("option %d: %v encodes to % x, raw % x", code, v, venc, raw)
				}
				continue
			}
			var o Options
			if err := o.Set(code, venc); err != nil {
				t.Fatal(err)
			}
			d3 := o.Decoder()
			d3.Next()
			if v3 := typedValue(&d3); d3.Err() != nil || fmt.Sprint(v3) != fmt.Sprint(v) {
				t.Fatalf("option %d: %v re-decodes to %v, %v", code, v, v3, d3.Err())
			}
		}
	})
}

// FuzzDomainSearch: a decoded search list re-encodes (uncompressed) to a
// list that decodes to the same names, and every name re-validates.
func FuzzDomainSearch(f *testing.F) {
	f.Add([]byte("\x03eng\x05apple\x03com\x00\x09marketing\xc0\x04"))
	f.Add([]byte("\x03org\x00\x01a\xc0\x00\x01b\xc0\x05"))
	f.Add([]byte("\x01a\x01b\xc0\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst [MaxSearchDomains]DomainName
		n, err := decodeSearchList(b, dst[:])
		if err != nil {
			return
		}
		for _, name := range dst[:n] {
			if p, err := ParseDomainName(name.String()); err != nil || p != name {
				t.Fatalf("decoded name %q does not re-validate: %v", name, err)
			}
		}
		enc, err := AppendDomainSearch(nil, dst[:n])
		if err != nil {
			t.Fatal(err)
		}
		var dst2 [MaxSearchDomains]DomainName
		n2, err := decodeSearchList(enc, dst2[:])
		if err != nil || n2 != n || dst2 != dst {
			t.Fatalf("re-decode: %v %v", searchStrings(dst2[:n2]), err)
		}
		enc2, _ := AppendDomainSearch(nil, dst2[:n2])
		if !bytes.Equal(enc, enc2) {
			t.Fatal("second encoding differs")
		}
	})
}

// FuzzRoutes: RFC 3442 encodings are unique, so a decoded option must
// re-encode to exactly its input.
func FuzzRoutes(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 1, 8, 10, 1, 1, 1, 1, 25, 10, 198, 122, 128, 1, 1, 1, 1})
	f.Add([]byte{32, 10, 198, 122, 47, 1, 1, 1, 1})
	f.Add([]byte{24, 192, 0, 2, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst [MaxRoutes]Route
		n, err := decodeRoutes(b, dst[:])
		if err != nil {
			return
		}
		for _, r := range dst[:n] {
			if !r.Valid() {
				t.Fatalf("invalid route %v", r)
			}
		}
		enc, err := AppendRoutes(nil, dst[:n])
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding % x, %v; input % x", enc, err, b)
		}
	})
}

// FuzzDatagram: decode, encode, decode again and compare; the second
// encoding must be identical; the DHCP filter must pass whatever is decoded
// as UDP to port 68, cut at the IP total length.
func FuzzDatagram(f *testing.F) {
	offer := mustDatagram(f, testDatagram(replyBytes(f, Offer)))
	f.Add(offer, false)
	f.Add(append(bytes.Clone(offer), make([]byte, 20)...), false)
	f.Add(mustDatagram(f, testDatagram([]byte("x"))), true)
	filter := DHCPFilter()
	f.Fuzz(func(t *testing.T, b []byte, notReady bool) {
		var flags RecvFlags
		if notReady {
			flags = ChecksumNotReady
		}
		d, err := ParseDatagram(b, flags)
		if err != nil {
			return
		}
		total := IPv4HeaderLen + UDPHeaderLen + len(d.Payload)
		if d.Dst.Port() == ClientPort {
			if kept := runFilter(t, filter, b); kept != total {
				t.Fatalf("filter kept %d octets of an accepted datagram of %d", kept, total)
			}
		}
		enc, err := d.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseDatagram(enc, 0)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d.Src != d2.Src || d.Dst != d2.Dst || d.TOS != d2.TOS || d.ID != d2.ID ||
			d.DontFragment != d2.DontFragment || d.TTL != d2.TTL || !bytes.Equal(d.Payload, d2.Payload) {
			t.Fatalf("round trip: %+v / %+v", d, d2)
		}
		if !bytes.Equal(enc[:10], b[:10]) || !bytes.Equal(enc[12:26], b[12:26]) {
			t.Fatal("re-encoded headers differ from the input beyond the checksums")
		}
		enc2, _ := d2.AppendBinary(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("second encoding differs")
		}
	})
}

// FuzzARP: ARP packets re-encode to exactly their first 28 octets, and the
// filters agree with the userland checks.
func FuzzARP(f *testing.F) {
	for _, fr := range arpFrames(f) {
		f.Add(fr.frame)
	}
	basic := ARPFilter()
	defense, err := ARPDefenseFilter(testYI, testMAC)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		keep := runFilter(t, basic, b)
		if (err == nil) != (keep == ARPLen) || (err != nil && keep != 0) {
			t.Fatalf("basic filter kept %d, ParseARP error %v", keep, err)
		}
		if err != nil {
			if runFilter(t, defense, b) != 0 {
				t.Fatal("defense filter passes what ParseARP rejects")
			}
			return
		}
		if (runFilter(t, defense, b) == ARPLen) != a.DefenseConflict(testYI, testMAC) {
			t.Fatal("defense filter disagrees with DefenseConflict")
		}
		enc, err := a.AppendBinary(nil)
		if err != nil || !bytes.Equal(enc, b[:ARPLen]) {
			t.Fatalf("re-encoding % x, %v", enc, err)
		}
		a2, err := ParseARP(enc)
		if err != nil || a2 != a {
			t.Fatalf("re-decode %+v, %v", a2, err)
		}
	})
}

// FuzzNames: a valid name re-validates to itself, holds nothing outside its
// alphabet, and every host name is a domain name.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"example.org", "Example.ORG.", "_tcp.x", "a..b", "a b", "-a", strings.Repeat("a.", 127)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, derr := ParseDomainName(s)
		h, herr := ParseHostname(s)
		if herr == nil && (derr != nil || d.String() != h.String()) {
			t.Fatalf("host name %q is not a domain name: %v", s, derr)
		}
		if derr != nil {
			return
		}
		out := d.String()
		if len(out) == 0 || len(out) > MaxNameLen || strings.ContainsAny(out, " \t\r\n\"';\\$`/") ||
			strings.Contains(out, "..") || strings.HasPrefix(out, ".") || strings.HasSuffix(out, ".") {
			t.Fatalf("bad name %q from %q", out, s)
		}
		d2, err := ParseDomainName(out)
		if err != nil || d2 != d {
			t.Fatalf("%q does not re-validate: %v", out, err)
		}
		enc, err := AppendDomainSearch(nil, []DomainName{d})
		if err != nil {
			t.Fatal(err)
		}
		var dst [1]DomainName
		if n, err := decodeSearchList(enc, dst[:]); err != nil || n != 1 || dst[0] != d {
			t.Fatalf("wire round trip of %q: %v", out, err)
		}
	})
}

// TestWriteSeedCorpus regenerates the committed seed corpus under
// testdata/fuzz from the seeds above and the captures. It runs only when
// NDHC_WRITE_CORPUS=1:
//
//	NDHC_WRITE_CORPUS=1 go test -run TestWriteSeedCorpus ./dhcp/
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("NDHC_WRITE_CORPUS") != "1" {
		t.Skip("set NDHC_WRITE_CORPUS=1 to rewrite testdata/fuzz seeds")
	}
	write := func(target, name string, args ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			case string:
				fmt.Fprintf(&b, "string(%q)\n", a)
			case bool:
				fmt.Fprintf(&b, "bool(%v)\n", a)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range captures(t) {
		name = strings.TrimSuffix(name, ".bin")
		write("FuzzMessage", name, b)
		write("FuzzOptions", name, b[offOpts:])
		write("FuzzDatagram", name, mustDatagram(t, testDatagram(b)), false)
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if v, ok := m.Options.Get(OptDomainSearch); ok {
			write("FuzzDomainSearch", name, v)
		}
		if v, ok := m.Options.Get(OptClasslessRoutes); ok {
			write("FuzzRoutes", name, v)
		}
		if v, ok := m.Options.Get(OptDomainName); ok {
			write("FuzzNames", name, string(v))
		}
	}
	for i, b := range seedMessages(t)[:6] {
		write("FuzzMessage", fmt.Sprint("built-", i), b)
	}
	for _, f := range arpFrames(t) {
		write("FuzzARP", strings.ReplaceAll(f.name, " ", "-"), f.frame)
	}
	for _, f := range dhcpFrames(t) {
		write("FuzzDatagram", strings.ReplaceAll(f.name, " ", "-"), f.frame, false)
	}
}
