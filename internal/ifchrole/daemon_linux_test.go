package ifchrole

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ndhc-go/ndhc/ifch"
)

// formatAllow renders an entry in ParseAllow's syntax.
func formatAllow(a Allow) string {
	ranges := "any"
	if len(a.Ranges) > 0 {
		var rs []string
		for _, r := range a.Ranges {
			rs = append(rs, r.String())
		}
		ranges = strings.Join(rs, ",")
	}
	var perms []string
	if !a.NoDNS {
		perms = append(perms, "dns")
	}
	if !a.NoRoutes {
		perms = append(perms, "routes")
	}
	if !a.NoMTU {
		perms = append(perms, "mtu")
	}
	if len(perms) == 0 {
		perms = []string{"none"}
	}
	return a.Who + ":" + strings.Join(a.Interfaces, ",") + ":" + ranges + ":" + strings.Join(perms, ",")
}

// FuzzParseAllow: ifchd's allow entries, from its command line and
// configuration file. What is accepted names a user, interfaces that ifch
// would accept in a message, masked IPv4 ranges, and renders back to an
// entry that parses to the same.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{
		"1000:eth1", "1000:eth1:10.1.0.0/16:dns", "1000:eth1:any:none", "ndhc:eth0,wlan0:10.0.0.0/8,192.168.1.7/24:routes,mtu",
		"1000:eth1:10.1.0.0/16:", "1000::any", ":eth0", "1000:eth0:any:dns:x", "1000:eth0:::1/64", "1000:eth 0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAllow(s)
		if err != nil {
			return
		}
		if a.Who == "" || strings.Contains(a.Who, ":") || len(a.Interfaces) == 0 {
			t.Fatalf("%q: %+v", s, a)
		}
		for _, n := range a.Interfaces {
			c, err := ifch.Unmarshal([]byte("up " + n + "\n"))
			if err != nil || c.Iface() != n {
				t.Fatalf("%q: interface %q: %v", s, n, err)
			}
		}
		for _, r := range a.Ranges {
			if !r.Addr().Is4() || r != r.Masked() {
				t.Fatalf("%q: range %v", s, r)
			}
		}
		again, err := ParseAllow(formatAllow(a))
		if err != nil {
			t.Fatalf("%q -> %q: %v", s, formatAllow(a), err)
		}
		if d := cmp.Diff(a, again, cmpopts.EquateEmpty(), cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); d != "" {
			t.Fatalf("%q -> %q: %s", s, formatAllow(a), d)
		}
	})
}
