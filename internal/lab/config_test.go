package lab

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests need neither root nor any server binary.

func testNetInfo() netInfo {
	return netInfo{
		subnet:    netip.MustParsePrefix("10.77.0.0/24"),
		gateway:   netip.MustParseAddr("10.77.0.1"),
		mask:      netip.MustParseAddr("255.255.255.0"),
		broadcast: netip.MustParseAddr("10.77.0.255"),
		ifName:    BridgeIf,
		clientMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		start:     netip.MustParseAddr("10.77.0.100"),
		end:       netip.MustParseAddr("10.77.0.199"),
	}
}

func testNetwork() *Network {
	return &Network{Subnet: netip.MustParsePrefix("10.77.0.0/24")}
}

func TestClasslessRoutes(t *testing.T) {
	got := classlessRoutes([]StaticRoute{
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("10.77.0.254")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.77.0.1")},
		{Dst: netip.MustParsePrefix("10.17.0.0/17"), Gateway: netip.MustParseAddr("10.77.0.2")},
		{Dst: netip.MustParsePrefix("192.0.2.9/32"), Gateway: netip.MustParseAddr("10.77.0.3")},
	})
	want := []byte{
		24, 198, 51, 100, 10, 77, 0, 254,
		0, 10, 77, 0, 1,
		17, 10, 17, 0, 10, 77, 0, 2,
		32, 192, 0, 2, 9, 10, 77, 0, 3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("option 121 bytes (-want +got):\n%s", diff)
	}
}

func TestRenderedConfigs(t *testing.T) {
	ni := testNetInfo()
	c, err := richConfig(testNetwork()).withDefaults(ni)
	if err != nil {
		t.Fatal(err)
	}
	p := paths{dir: "/d", conf: "/d/conf", lease: "/d/leases", log: "/d/log", pid: "/d/pid"}
	kea, err := keaConf(c, ni, p)
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]map[string]any
	if err := json.Unmarshal([]byte(kea), &parsed); err != nil {
		t.Fatalf("kea config is not JSON: %v\n%s", err, kea)
	}
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"dnsmasq", dnsmasqConf(c, ni, p), []string{
			"port=0",
			"interface=br0",
			"dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,120",
			"dhcp-authoritative",
			"no-ping",
			"dhcp-option=option:router,10.77.0.1",
			"dhcp-option=option:dns-server,10.77.0.53,192.0.2.53",
			"dhcp-option=option:domain-search,lab.example,corp.lab.example,example.org",
			"dhcp-option=option:classless-static-route,198.51.100.0/24,10.77.0.254,0.0.0.0/0,10.77.0.1",
			"dhcp-option=option:mtu,1400",
			"dhcp-option=28,10.77.0.255",
			"dhcp-option=option:T1,50",
			"dhcp-option=option:T2,95",
			"dhcp-host=02:00:00:00:00:01,labclient",
		}},
		{"kea", kea, []string{
			`"interfaces": [`,
			`"dhcp-socket-type": "raw"`,
			`"pool": "10.77.0.100 - 10.77.0.199"`,
			`"data": "18c633640a4d00fe000a4d0001"`,
			`"name": "domain-search"`,
			`"hw-address": "02:00:00:00:00:01"`,
			`"renew-timer": 50`,
			`"rebind-timer": 95`,
			`"valid-lifetime": 120`,
			`"authoritative": true`,
		}},
		{"dhcpd", dhcpdConf(c, ni), []string{
			"authoritative;",
			"ping-check false;",
			"subnet 10.77.0.0 netmask 255.255.255.0 {",
			"  range 10.77.0.100 10.77.0.199;",
			`  option domain-search "lab.example", "corp.lab.example", "example.org";`,
			"  option rfc3442-classless-static-routes 24, 198, 51, 100, 10, 77, 0, 254, 0, 10, 77, 0, 1;",
			"  option dhcp-renewal-time 50;",
			"  hardware ethernet 02:00:00:00:00:01;",
		}},
		{"udhcpd", udhcpdConf(c, ni, p), []string{
			"interface br0",
			"opt search lab.example corp.lab.example example.org",
			"opt staticroutes 198.51.100.0/24 10.77.0.254 0.0.0.0/0 10.77.0.1",
			"opt 58 00000032",
			"opt 59 0000005f",
			"opt hostname labclient",
		}},
	}
	for _, tt := range tests {
		lines := strings.Split(tt.conf, "\n")
		for _, w := range tt.want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
				t.Errorf("%s config lacks %q:\n%s", tt.name, w, tt.conf)
			}
		}
	}
}

func TestServerConfigDefaultsAndChecks(t *testing.T) {
	ni := testNetInfo()
	c, err := ServerConfig{}.withDefaults(ni)
	if err != nil {
		t.Fatal(err)
	}
	if c.RangeStart != ni.start || c.RangeEnd != ni.end || c.LeaseTime != 2*time.Minute {
		t.Errorf("defaults %v-%v %v", c.RangeStart, c.RangeEnd, c.LeaseTime)
	}
	// No router configured: dnsmasq must be told not to send its own.
	if !strings.Contains(dnsmasqConf(c, ni, paths{}), "dhcp-option=option:router\n") {
		t.Error("dnsmasq config without a router does not suppress option 3")
	}
	bad := []ServerConfig{
		{RangeStart: netip.MustParseAddr("10.78.0.1")},
		{RangeStart: netip.MustParseAddr("10.77.0.150"), RangeEnd: netip.MustParseAddr("10.77.0.140")},
		{LeaseTime: 1500 * time.Millisecond},
		{MTU: 40},
		{Domain: `evil"; include "/etc/passwd`},
		{SearchList: []string{"a b"}},
		{ClasslessRoutes: []StaticRoute{{Dst: netip.MustParsePrefix("2001:db8::/32"), Gateway: netip.MustParseAddr("10.77.0.1")}}},
	}
	for _, b := range bad {
		if _, err := b.withDefaults(ni); err == nil {
			t.Errorf("withDefaults(%+v) accepted", b)
		}
	}
}

func TestNetworkAddresses(t *testing.T) {
	n := &Network{Subnet: netip.MustParsePrefix("10.9.8.0/22")}
	for _, tt := range []struct {
		got, want netip.Addr
	}{
		{n.Gateway(), netip.MustParseAddr("10.9.8.1")},
		{n.Host(300), netip.MustParseAddr("10.9.9.44")},
		{n.Broadcast(), netip.MustParseAddr("10.9.11.255")},
		{n.Mask(), netip.MustParseAddr("255.255.252.0")},
	} {
		if tt.got != tt.want {
			t.Errorf("got %v, want %v", tt.got, tt.want)
		}
	}
}

func TestStaleOwner(t *testing.T) {
	for _, tt := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"ndhc-demo-1234-ab12-srv", 1234, true},
		{"ndhc-demo-1234-ab12-srv2", 1234, true},
		{"ndhc-x-9-0000-cli", 9, true},
		{"ndhc-lab-77-ffff-sq3", 77, true},
		{"ndhc-demo-1234-ab12", 0, false},
		{"ndhc-demo-abc-ab12-cli", 0, false},
		{"ndhc-Demo-1-ab12-cli", 0, false},
		{"other-demo-1-ab12-cli", 0, false},
		{"ndhc-demo-1-ab12-cli-x", 0, false},
		{"ndhc-demo-0-ab12-cli", 0, false},
	} {
		pid, ok := staleOwner(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("staleOwner(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestParseIPv4UDP(t *testing.T) {
	dhcp := make([]byte, 244)
	dhcp[0] = 2
	copy(dhcp[236:], []byte{0x63, 0x82, 0x53, 0x63})
	dhcp = append(dhcp[:240], 0, 53, 1, Offer, 255)
	udp := append([]byte{0, 67, 0, 68, 0, 0, 0, 0}, dhcp...)
	binary.BigEndian.PutUint16(udp[4:6], uint16(len(udp)))
	ip := append([]byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0,
		10, 77, 0, 1, 255, 255, 255, 255}, udp...)
	binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
	p, ok := parseIPv4UDP(append(ip, 0xee, 0xee)) // trailing link padding
	if !ok {
		t.Fatal("valid datagram rejected")
	}
	if p.Src != netip.MustParseAddrPort("10.77.0.1:67") || p.Dst != netip.MustParseAddrPort("255.255.255.255:68") {
		t.Errorf("endpoints %v -> %v", p.Src, p.Dst)
	}
	if diff := cmp.Diff(dhcp, p.Payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if p.MessageType() != Offer {
		t.Errorf("message type %d, want %d", p.MessageType(), Offer)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ip...)) }
	for name, b := range map[string][]byte{
		"short":     ip[:19],
		"ipv6":      mut(func(b []byte) []byte { b[0] = 0x65; return b }),
		"tcp":       mut(func(b []byte) []byte { b[9] = 6; return b }),
		"fragment":  mut(func(b []byte) []byte { b[6] = 0x20; return b }),
		"truncated": ip[:len(ip)-1],
		"udp len":   mut(func(b []byte) []byte { b[24] = 0xff; return b }),
		"port":      mut(func(b []byte) []byte { b[23] = 69; return b }),
	} {
		if _, ok := parseIPv4UDP(b); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMessageType(t *testing.T) {
	base := make([]byte, 240)
	copy(base[236:], []byte{0x63, 0x82, 0x53, 0x63})
	for _, tt := range []struct {
		name string
		opts []byte
		want int
	}{
		{"ack", []byte{53, 1, Ack, 255}, Ack},
		{"after pad and others", []byte{0, 0, 1, 4, 255, 255, 255, 0, 53, 1, Nak}, Nak},
		{"none", []byte{1, 4, 255, 255, 255, 0, 255}, 0},
		{"after end", []byte{255, 53, 1, Ack}, 0},
		{"overrun", []byte{1, 9, 0}, 0},
		{"bad length", []byte{53, 2, Ack, 0}, 0},
	} {
		if got := messageType(append(append([]byte(nil), base...), tt.opts...)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	bad := append([]byte(nil), base...)
	bad[236] = 0
	if got := messageType(append(bad, 53, 1, Ack)); got != 0 {
		t.Errorf("bad cookie: %d", got)
	}
}

func TestParseEvents(t *testing.T) {
	out := "udhcpc: started\nlab-event deconfig\nlab-env interface=eth0\nlab-event bound\n" +
		"lab-env ip=10.77.0.100\nlab-env router=10.77.0.1\nlab-env opt=a=b\nnoise\n"
	run := &ClientRun{Output: out, Events: parseEvents(out)}
	want := []ClientEvent{
		{Name: "deconfig", Env: map[string]string{"interface": "eth0"}},
		{Name: "bound", Env: map[string]string{"ip": "10.77.0.100", "router": "10.77.0.1", "opt": "a=b"}},
	}
	if diff := cmp.Diff(want, run.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if a, ok := run.Addr(); !ok || a != netip.MustParseAddr("10.77.0.100") {
		t.Errorf("Addr() = %v, %v", a, ok)
	}
}

func TestPackages(t *testing.T) {
	pk := Packages()
	for _, want := range []string{"iproute2", "dnsmasq-base", "kea-dhcp4-server", "isc-dhcp-server", "isc-dhcp-client", "busybox"} {
		if !slices.Contains(pk, want) {
			t.Errorf("packages.txt lacks %s: %v", want, pk)
		}
	}
	if slices.Contains(pk, "dnsmasq") {
		t.Error("packages.txt has dnsmasq, whose service starts on install; use dnsmasq-base")
	}
	for _, k := range Kinds {
		if _, pkg := k.binary(); !slices.Contains(pk, pkg) {
			t.Errorf("%s's package %s missing from packages.txt", k, pkg)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Name: "Has-Caps"},
		{Name: "waytoolongname1"},
		{Subnet: netip.MustParsePrefix("10.0.0.0/30")},
		{Subnet: netip.MustParsePrefix("2001:db8::/64")},
		{ClientMAC: net.HardwareAddr{1, 2, 3}},
	} {
		if l, err := New(c); err == nil {
			l.Close()
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
