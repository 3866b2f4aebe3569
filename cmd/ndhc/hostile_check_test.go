package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/internal/hostile"
	"github.com/ndhc-go/ndhc/internal/lab"
)

// TestHostileChecks: the hostile suite's judges of kernel state and
// resolv.conf flag what they should and pass a valid lease.
func TestHostileChecks(t *testing.T) {
	env := hostile.Env{ServerIP: netip.MustParseAddr("10.77.0.1"), Subnet: netip.MustParsePrefix("10.77.0.0/24"), Other: otherSubnet}
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	good := clientState{addrs: []netip.Prefix{p("10.77.0.50/24")}, mtu: 1500, routes: []lab.Route{
		{Dst: p("10.77.0.0/24"), Dev: "eth0"},
		{Dst: p("0.0.0.0/0"), Gateway: a("10.77.0.1"), Dev: "eth0"},
		{Dst: p("203.0.113.7/32"), Gateway: a("10.77.0.1"), Dev: "eth0"},
	}}
	if got := invalidState(env, good); len(got) != 0 {
		t.Errorf("valid lease judged invalid: %v", got)
	}
	bad := map[string]clientState{
		"class E address":    {addrs: []netip.Prefix{p("240.0.0.5/24")}, mtu: 1500},
		"network address":    {addrs: []netip.Prefix{p("10.77.0.0/24")}, mtu: 1500},
		"server's address":   {addrs: []netip.Prefix{p("10.77.0.1/24")}, mtu: 1500},
		"prefix /0":          {addrs: []netip.Prefix{p("10.77.0.50/0")}, mtu: 1500},
		"tiny MTU":           {addrs: []netip.Prefix{p("10.77.0.50/24")}, mtu: 68},
		"TunnelVision":       {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("128.0.0.0/1"), Gateway: a("10.77.0.1"), Dev: "eth0"}}},
		"other subnet":       {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("192.168.0.0/16"), Gateway: a("10.77.0.1"), Dev: "eth0"}}},
		"route to server":    {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("10.77.0.1/32"), Gateway: a("10.77.0.9"), Dev: "eth0"}}},
		"off-link gateway":   {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("0.0.0.0/0"), Gateway: a("198.51.100.1"), Dev: "eth0"}}},
		"loopback route":     {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("127.0.0.0/8"), Gateway: a("10.77.0.1"), Dev: "eth0"}}},
		"multicast gateway":  {addrs: good.addrs, mtu: 1500, routes: []lab.Route{{Dst: p("0.0.0.0/0"), Gateway: a("224.0.0.1"), Dev: "eth0"}}},
		"subnet's broadcast": {addrs: []netip.Prefix{p("10.77.0.255/24")}, mtu: 1500},
	}
	for name, st := range bad {
		if len(invalidState(env, st)) == 0 {
			t.Errorf("%s: judged valid", name)
		}
	}

	ok := "# Written by ndhc-go ifch; changes are lost on the next lease.\nnameserver 10.77.0.1\nsearch lab.example corp.example\n"
	if got := invalidResolv(ok); len(got) != 0 {
		t.Errorf("valid resolv.conf judged invalid: %v", got)
	}
	for _, rc := range []string{
		"nameserver 10.77.0.1\nnameserver 6.6.6.6 # x\n",
		"search lab.example\nnameserver 6.6.6.6\noptions debug\n",
		"nameserver 127.0.0.1\n",
		"nameserver 0.0.0.0\n",
		"search b d;x.example\n",
		"search lab\x00.example\n",
		"search $(id).example\n",
		"domain lab.example\n",
	} {
		if len(invalidResolv(rc)) == 0 {
			t.Errorf("%q judged valid", rc)
		}
	}
	for h, want := range map[string]bool{"host1": true, "a.b-c.example": true, "host\nevil": false, "$(reboot)": false, strings.Repeat("h", 65): false, "-x": false} {
		if validHostname(h) != want {
			t.Errorf("validHostname(%q) = %v", h, !want)
		}
	}
}
