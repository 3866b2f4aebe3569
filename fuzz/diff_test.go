package fuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"github.com/ndhc-go/ndhc/dhcp"
)

// allowlist names every intended disagreement between dhcp (ours) and
// insomniacslk/dhcp/dhcpv4 (theirs), with the reason. A disagreement without
// an entry fails the harness.
var allowlist = map[string]string{
	"op-invalid": "RFC 2131 section 2: op is 1 (BOOTREQUEST) or 2 (BOOTREPLY). " +
		"Ours rejects other values; theirs accepts any octet.",
	"hlen-over-16": "RFC 2131 section 2: chaddr is 16 octets, so an hlen over 16 describes no address. " +
		"Ours rejects it; theirs clamps it to 16.",
	"end-required": "RFC 2131 section 4.1 and RFC 2132 section 3.2: the options field ends with the End option. " +
		"Ours requires at least that octet; theirs accepts a message that stops right after the magic cookie.",
	"end-optional": "RFC 2131 section 4.1 asks for End after the last option, but servers omit it and other " +
		"clients (udhcpc, dhcpcd) take such replies: ours accepts an options field without End whose last option " +
		"is whole; theirs rejects it (unexpected EOF).",
	"options-capacity": "Ours keeps the options of a message in fixed storage of dhcp.MaxOptionsLen (2048) octets " +
		"so that parsing never allocates; a message that fits a 1500-octet Ethernet frame needs at most 1424.",
	"overload": "RFC 2132 section 9.3 and RFC 3396: option 52 makes file and/or sname carry options, concatenated " +
		"after those of the options field. Ours does that and validates option 52 (one octet, 1 to 3: a longer one, " +
		"split or not, is rejected); theirs ignores option 52 and reads both fields as text.",
	"mask-noncontiguous": "RFC 4632 section 3.1 retired non-contiguous subnet masks (RFC 950 had allowed them). " +
		"Ours rejects option 1 with holes; theirs returns it.",
	"capacity": "Ours decodes into fixed arrays (dhcp.MaxAddrs, dhcp.MaxSearchDomains, dhcp.MaxRoutes entries) " +
		"and rejects a list that does not fit rather than cutting it; theirs has no limit.",
	"name-validated": "RFC 952 and RFC 1123 section 2.1 (host names), RFC 1035 section 2.3.1 (LDH labels): ours " +
		"rejects names with control characters, spaces, quotes, ';', empty labels, labels over 63 or names over " +
		"253 octets before they can reach resolv.conf or sethostname; theirs returns any bytes as a string.",
	"text-nul-trimmed": "RFC 2132 section 2: a receiver must be prepared to delete trailing NULs from NVT ASCII " +
		"options. Ours deletes them from options 12 and 15; theirs only from option 12.",
	"name-trailing-dot": "Ours stores a name without its trailing root dot; theirs keeps the text as sent.",
	"mtu-minimum":       "RFC 2132 section 5.1: the minimum legal interface MTU is 68. Ours rejects smaller values.",
	"max-size-minimum": "RFC 2132 section 9.10: the minimum legal maximum DHCP message size is 576. " +
		"Ours rejects smaller values.",
	"message-type-unknown": "RFC 2132 section 9.6 defines message types 1 to 8; ours rejects other values, theirs " +
		"returns them.",
	"search-strict": "RFC 1035 section 4.1.4 and RFC 3397 section 2: every name ends with a zero octet or a " +
		"pointer, labels are of type 0 (or 3 for pointers), and a pointer refers to an earlier name. Ours rejects " +
		"unterminated names, the root name, label types 1 and 2, pointers that do not point backwards (which " +
		"rules out loops) and names over 253 octets; theirs accepts them.",
	"search-nested-pointers": "RFC 1035 section 4.1.4 lets a pointer lead to a name that itself ends in a pointer " +
		"(a compressed suffix of a compressed name). Ours follows such chains; theirs refuses them.",
	"route-host-bits": "RFC 3442 section 2: the destination is a prefix of the given length; ours rejects set " +
		"bits past that length (the kernel refuses such a route too), theirs keeps them.",
}

// diff runs both decoders on b. It returns the allowlist names of the
// disagreements it explained, and a description of those it could not.
func diff(b []byte) (explained []string, unexplained []string) {
	var m dhcp.Message
	ourErr := m.UnmarshalBinary(b)
	theirs, theirErr := dhcpv4.FromBytes(b)
	overload := hasOverload(b)
	switch {
	case ourErr != nil && theirErr != nil:
		return nil, nil
	case theirErr != nil && !hasEnd(b):
		return []string{"end-optional"}, nil
	case theirErr != nil:
		return nil, []string{fmt.Sprintf("theirs rejects (%v), ours accepts", theirErr)}
	case ourErr != nil:
		msg := ourErr.Error()
		switch {
		case strings.Contains(msg, "invalid op"):
			return []string{"op-invalid"}, nil
		case strings.Contains(msg, "over 16"):
			return []string{"hlen-over-16"}, nil
		case strings.Contains(msg, "options exceed"):
			return []string{"options-capacity"}, nil
		case overload, strings.Contains(msg, "option 52"):
			// hasOverload stops at the first malformed option; the
			// message decoder names option 52 itself.
			return []string{"overload"}, nil
		case len(b) == 240 && strings.Contains(msg, "truncated message"):
			return []string{"end-required"}, nil
		}
		return nil, []string{fmt.Sprintf("ours rejects (%v), theirs accepts", ourErr)}
	}

	var bad []string
	check := func(field string, ok bool, ours, their any) {
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: ours %v, theirs %v", field, ours, their))
		}
	}
	ip := func(a netip.Addr, b net.IP) bool { return bytes.Equal(a.AsSlice(), b.To4()) }
	check("op", uint8(m.Op) == uint8(theirs.OpCode), m.Op, theirs.OpCode)
	check("htype", m.HType == uint8(theirs.HWType), m.HType, theirs.HWType)
	check("chaddr", bytes.Equal(m.HWAddr(), theirs.ClientHWAddr), m.HWAddr(), theirs.ClientHWAddr)
	check("hops", m.Hops == theirs.HopCount, m.Hops, theirs.HopCount)
	check("xid", m.XID == binary.BigEndian.Uint32(theirs.TransactionID[:]), m.XID, theirs.TransactionID)
	check("secs", m.Secs == theirs.NumSeconds, m.Secs, theirs.NumSeconds)
	check("flags", m.Flags == theirs.Flags, m.Flags, theirs.Flags)
	check("ciaddr", ip(m.CIAddr, theirs.ClientIPAddr), m.CIAddr, theirs.ClientIPAddr)
	check("yiaddr", ip(m.YIAddr, theirs.YourIPAddr), m.YIAddr, theirs.YourIPAddr)
	check("siaddr", ip(m.SIAddr, theirs.ServerIPAddr), m.SIAddr, theirs.ServerIPAddr)
	check("giaddr", ip(m.GIAddr, theirs.GatewayIPAddr), m.GIAddr, theirs.GatewayIPAddr)
	if overload {
		// sname, file and the option set legitimately differ.
		explained = append(explained, "overload")
		return explained, bad
	}
	check("sname", string(m.ServerName()) == theirs.ServerHostName, m.ServerName(), theirs.ServerHostName)
	check("file", string(m.BootFile()) == theirs.BootFileName, m.BootFile(), theirs.BootFileName)

	// The option sets: same codes, same concatenated values.
	var ourCodes []int
	for code, v := range m.Options.All() {
		ourCodes = append(ourCodes, int(code))
		tv, ok := theirs.Options[uint8(code)]
		check(fmt.Sprintf("option %d", code), ok && bytes.Equal(v, tv), v, tv)
	}
	var theirCodes []int
	for code := range theirs.Options {
		theirCodes = append(theirCodes, int(code))
	}
	slices.Sort(ourCodes)
	slices.Sort(theirCodes)
	check("option codes", slices.Equal(ourCodes, theirCodes), ourCodes, theirCodes)

	for code, v := range m.Options.All() {
		name, msg := compareTyped(code, v, theirs)
		if name != "" {
			explained = append(explained, name)
		}
		if msg != "" {
			bad = append(bad, fmt.Sprintf("option %d: %s", code, msg))
		}
	}
	return explained, bad
}

// hasOverload reports whether b has a well-formed header and option 52 in
// its options field.
// hasEnd reports whether the options field of a message that ours accepted
// holds End.
func hasEnd(b []byte) bool {
	f := b[240:]
	for i := 0; i < len(f); {
		switch f[i] {
		case byte(dhcp.OptPad):
			i++
		case byte(dhcp.OptEnd):
			return true
		default:
			if i+1 >= len(f) {
				return false
			}
			i += 2 + int(f[i+1])
		}
	}
	return false
}

func hasOverload(b []byte) bool {
	if len(b) < 241 || binary.BigEndian.Uint32(b[236:]) != dhcp.MagicCookie {
		return false
	}
	d := dhcp.NewOptionDecoder(b[240:])
	for d.Next() {
		if d.Code() == dhcp.OptOverload {
			return true
		}
	}
	return false
}

// ourTyped decodes v as option code with our typed getter.
func ourTyped(code dhcp.OptionCode, v []byte, get func(d *dhcp.OptionDecoder) any) (any, error) {
	var o dhcp.Options
	if err := o.Set(code, v); err != nil {
		return nil, err
	}
	d := o.Decoder()
	d.Next()
	val := get(&d)
	return val, d.Err()
}

// compareTyped compares the typed value of one option. It returns the
// allowlist name of an explained disagreement, or a description of an
// unexplained one.
func compareTyped(code dhcp.OptionCode, v []byte, theirs *dhcpv4.DHCPv4) (name, msg string) {
	ipEq := func(a netip.Addr, b net.IP) bool { return bytes.Equal(a.AsSlice(), b.To4()) }
	// agree returns "" if ok, or names the disagreement by what our error
	// says; theirOK says whether theirs produced a value.
	agree := func(ourErr error, theirOK bool, equal func() bool) (string, string) {
		switch {
		case ourErr == nil && theirOK:
			if equal() {
				return "", ""
			}
			return "", "values differ"
		case ourErr != nil && !theirOK:
			return "", ""
		case ourErr == nil:
			return "", "theirs has no value, ours does"
		}
		e := ourErr.Error()
		for _, c := range []struct{ sub, name string }{
			{"not contiguous", "mask-noncontiguous"},
			{"at most", "capacity"},
			{"more than", "capacity"},
			{"invalid character", "name-validated"},
			{"label starts or ends", "name-validated"},
			{"empty label", "name-validated"},
			{"longer than", "name-validated"},
			{"empty text", "name-validated"},
			// "." padded with NULs: the root alone names no domain.
			{"empty name", "name-validated"},
			{"below 68", "mtu-minimum"},
			{"below 576", "max-size-minimum"},
			{"unknown message type", "message-type-unknown"},
			{"bits set past", "route-host-bits"},
		} {
			if strings.Contains(e, c.sub) {
				return c.name, ""
			}
		}
		if code == dhcp.OptDomainSearch {
			return "search-strict", ""
		}
		return "", "ours rejects (" + e + "), theirs has a value"
	}

	switch code {
	case dhcp.OptSubnetMask:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any { return d.SubnetMask() })
		t := theirs.SubnetMask()
		return agree(err, t != nil, func() bool { return bytes.Equal(ours.(netip.Addr).AsSlice(), t) })
	case dhcp.OptRouter, dhcp.OptDNS, dhcp.OptNTPServers:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any {
			var a [dhcp.MaxAddrs]netip.Addr
			return a[:d.Addrs(a[:])]
		})
		t := dhcpv4.GetIPs(dhcpv4.GenericOptionCode(code), theirs.Options)
		return agree(err, t != nil, func() bool {
			o := ours.([]netip.Addr)
			if len(o) != len(t) {
				return false
			}
			for i := range o {
				if !ipEq(o[i], t[i]) {
					return false
				}
			}
			return true
		})
	case dhcp.OptBroadcast, dhcp.OptServerID, dhcp.OptRequestedIP:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any { return d.Addr() })
		t := dhcpv4.GetIP(dhcpv4.GenericOptionCode(code), theirs.Options)
		return agree(err, t != nil, func() bool { return ipEq(ours.(netip.Addr), t) })
	case dhcp.OptHostname, dhcp.OptDomainName:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any {
			if code == dhcp.OptHostname {
				return d.Hostname().String()
			}
			return d.DomainName().String()
		})
		t := theirs.DomainName()
		if code == dhcp.OptHostname {
			t = theirs.HostName()
		}
		n, m := agree(err, t != "", func() bool { return ours.(string) == t })
		if m == "values differ" {
			o := ours.(string)
			switch {
			case strings.TrimRight(t, "\x00") == o:
				return "text-nul-trimmed", ""
			case strings.TrimSuffix(strings.TrimRight(t, "\x00"), ".") == o:
				return "name-trailing-dot", ""
			}
		}
		if n == "" && m == "theirs has no value, ours does" {
			return "", m
		}
		return n, m
	case dhcp.OptInterfaceMTU, dhcp.OptMaxMessageSize:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any {
			if code == dhcp.OptInterfaceMTU {
				return d.MTU()
			}
			return d.MaxMessageSize()
		})
		t, terr := dhcpv4.GetUint16(dhcpv4.GenericOptionCode(code), theirs.Options)
		return agree(err, terr == nil, func() bool { return ours.(uint16) == t })
	case dhcp.OptLeaseTime, dhcp.OptRenewalTime, dhcp.OptRebindingTime:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any { return d.Uint32() })
		const none = -1
		var t time.Duration
		switch code {
		case dhcp.OptLeaseTime:
			t = theirs.IPAddressLeaseTime(none)
		case dhcp.OptRenewalTime:
			t = theirs.IPAddressRenewalTime(none)
		default:
			t = theirs.IPAddressRebindingTime(none)
		}
		return agree(err, t != none, func() bool { return time.Duration(ours.(uint32))*time.Second == t })
	case dhcp.OptMessageType:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any { return d.MessageType() })
		t := theirs.MessageType()
		return agree(err, t != dhcpv4.MessageTypeNone, func() bool { return uint8(ours.(dhcp.MessageType)) == uint8(t) })
	case dhcp.OptDomainSearch:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any {
			var n [dhcp.MaxSearchDomains]dhcp.DomainName
			var s []string
			for _, x := range n[:d.DomainSearch(n[:])] {
				s = append(s, x.String())
			}
			return s
		})
		t, terr := rfc1035label.FromBytes(theirs.Options.Get(dhcpv4.OptionDNSDomainSearchList))
		if err == nil && terr != nil && strings.Contains(terr.Error(), "nested pointers") {
			return "search-nested-pointers", ""
		}
		if theirs.DomainSearch() == nil {
			terr = fmt.Errorf("no value")
		}
		return agree(err, terr == nil, func() bool { return slices.Equal(ours.([]string), t.Labels) })
	case dhcp.OptClasslessRoutes:
		ours, err := ourTyped(code, v, func(d *dhcp.OptionDecoder) any {
			var r [dhcp.MaxRoutes]dhcp.Route
			return r[:d.Routes(r[:])]
		})
		t := theirs.ClasslessStaticRoute()
		return agree(err, t != nil, func() bool {
			o := ours.([]dhcp.Route)
			if len(o) != len(t) {
				return false
			}
			for i := range o {
				ones, _ := t[i].Dest.Mask.Size()
				if !ipEq(o[i].Dst.Addr(), t[i].Dest.IP) || o[i].Dst.Bits() != ones || !ipEq(o[i].Gateway, t[i].Router) {
					return false
				}
			}
			return true
		})
	}
	return "", ""
}

// seeds returns the captured server replies and a few crafted messages.
func seeds(tb testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("..", "dhcp", "testdata", "captures", "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	s := make(map[string][]byte)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		s[filepath.Base(f)] = b
	}
	raw := func(opts ...byte) []byte {
		b := make([]byte, 240, 240+len(opts))
		b[0], b[1], b[2] = 2, 1, 6
		binary.BigEndian.PutUint32(b[236:], dhcp.MagicCookie)
		return append(b, opts...)
	}
	s["typical-ack"] = typicalAck(tb)
	s["op-3"] = func() []byte { b := raw(255); b[0] = 3; return b }()
	s["hlen-20"] = func() []byte { b := raw(255); b[2] = 20; return b }()
	s["no-options"] = raw()
	s["overload"] = func() []byte {
		b := raw(52, 1, 1, 255)
		copy(b[108:], []byte{12, 3, 'f', 'o', 'o', 255})
		return b
	}()
	s["mask-holes"] = raw(1, 4, 255, 0, 255, 0, 255)
	s["hostname-space"] = raw(12, 3, 'a', ' ', 'b', 255)
	s["domain-nul"] = raw(15, 4, 'o', 'r', 'g', 0, 255)
	s["domain-dot"] = raw(15, 4, 'o', 'r', 'g', '.', 255)
	s["mtu-60"] = raw(26, 2, 0, 60, 255)
	s["type-9"] = raw(53, 1, 9, 255)
	s["search-unterminated"] = raw(119, 2, 1, 'a', 255)
	s["search-nested"] = raw(119, 13, 3, 'o', 'r', 'g', 0, 1, 'a', 0xc0, 0, 1, 'b', 0xc0, 5, 255)
	s["route-host-bits"] = raw(121, 7, 9, 10, 64, 1, 1, 1, 1, 255)
	s["max-size-575"] = raw(57, 2, 2, 63, 255)
	s["too-many-dns"] = raw(append(append([]byte{6, 68}, make([]byte, 68)...), 255)...)
	var big []byte
	for range dhcp.MaxOptionsLen/255 + 1 {
		big = append(append(big, 224, 255), make([]byte, 255)...)
	}
	s["options-over-capacity"] = raw(append(big, 255)...)
	return s
}

// TestDifferential runs the harness on the seeds and lists the allowlisted
// disagreements they exercise.
func TestDifferential(t *testing.T) {
	used := map[string]int{}
	for name, b := range seeds(t) {
		explained, unexplained := diff(b)
		for _, u := range unexplained {
			t.Errorf("%s: %s", name, u)
		}
		for _, e := range explained {
			if _, ok := allowlist[e]; !ok {
				t.Errorf("%s: disagreement %q is not in the allowlist", name, e)
			}
			used[e]++
		}
	}
	for _, name := range slices.Sorted(maps.Keys(allowlist)) {
		t.Logf("%-24s exercised by %d seeds", name, used[name])
	}
}

// FuzzDifferential: on any input, both decoders agree or the disagreement
// is in the allowlist.
func FuzzDifferential(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		explained, unexplained := diff(b)
		for _, e := range explained {
			if _, ok := allowlist[e]; !ok {
				t.Errorf("disagreement %q is not in the allowlist", e)
			}
		}
		if len(unexplained) > 0 {
			t.Errorf("unexplained disagreements:\n%s", strings.Join(unexplained, "\n"))
		}
	})
}
