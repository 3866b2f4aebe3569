package fuzz

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"github.com/ndhc-go/ndhc/dhcp"
)

var (
	benchServer = netip.MustParseAddr("192.0.2.1")
	benchYI     = netip.MustParseAddr("192.0.2.77")
	benchMAC    = dhcp.MAC{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	benchHost   = "client-7"
	benchVendor = "ndhc"
	benchXID    = uint32(0x3903f326)
)

// typicalAck returns a DHCPACK with options 53, 54, 51, 58, 59, 1, 3, 6, 15,
// 119 and 121, the shape of what dnsmasq or kea send.
func typicalAck(tb testing.TB) []byte {
	tb.Helper()
	m := &dhcp.Message{
		Op: dhcp.BootReply, HType: dhcp.HTypeEthernet, HLen: dhcp.HLenEthernet,
		XID: benchXID, YIAddr: benchYI, SIAddr: benchServer,
	}
	copy(m.CHAddr[:], benchMAC[:])
	set := func(code dhcp.OptionCode, v []byte) {
		if err := m.Options.Set(code, v); err != nil {
			tb.Fatal(err)
		}
	}
	name := func(s string) dhcp.DomainName {
		n, err := dhcp.ParseDomainName(s)
		if err != nil {
			tb.Fatal(err)
		}
		return n
	}
	search, err := dhcp.AppendDomainSearch(nil, []dhcp.DomainName{name("eng.example.org"), name("example.org")})
	if err != nil {
		tb.Fatal(err)
	}
	routes, err := dhcp.AppendRoutes(nil, []dhcp.Route{
		{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("192.0.2.254")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: benchServer},
	})
	if err != nil {
		tb.Fatal(err)
	}
	set(dhcp.OptMessageType, []byte{byte(dhcp.Ack)})
	set(dhcp.OptServerID, benchServer.AsSlice())
	set(dhcp.OptLeaseTime, []byte{0, 0, 0x0e, 0x10})
	set(dhcp.OptRenewalTime, []byte{0, 0, 0x07, 0x08})
	set(dhcp.OptRebindingTime, []byte{0, 0, 0x0c, 0x4e})
	set(dhcp.OptSubnetMask, []byte{255, 255, 255, 0})
	set(dhcp.OptRouter, benchServer.AsSlice())
	set(dhcp.OptDNS, []byte{192, 0, 2, 1, 192, 0, 2, 2})
	set(dhcp.OptDomainName, []byte("example.org"))
	set(dhcp.OptDomainSearch, search)
	set(dhcp.OptClasslessRoutes, routes)
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// nsPerOp records the last ns/op of each sub-benchmark, to print ratios.
var (
	nsMu    sync.Mutex
	nsPerOp = map[string]float64{}
)

func record(b *testing.B) float64 {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	nsMu.Lock()
	nsPerOp[b.Name()] = ns
	nsMu.Unlock()
	return ns
}

// reportRatio records ours and reports how many times faster it is than
// the peer measured just before it in the same run.
func reportRatio(b *testing.B, peer string) {
	ns := record(b)
	nsMu.Lock()
	p, ok := nsPerOp[peer]
	nsMu.Unlock()
	if ok && ns > 0 {
		b.ReportMetric(p/ns, "x-vs-insomniacslk")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	nsMu.Lock()
	defer nsMu.Unlock()
	var pairs []string
	for name := range nsPerOp {
		if len(name) > 5 && name[len(name)-5:] == "/ndhc" {
			pairs = append(pairs, name[:len(name)-5])
		}
	}
	sort.Strings(pairs)
	if len(pairs) > 0 {
		fmt.Println("\nndhc vs insomniacslk/dhcp, same packets, same run:")
		fmt.Printf("%-24s %14s %14s %8s\n", "benchmark", "insomniacslk", "ndhc", "ratio")
		for _, p := range pairs {
			peer, ours := nsPerOp[p+"/insomniacslk"], nsPerOp[p+"/ndhc"]
			fmt.Printf("%-24s %11.0f ns %11.0f ns %7.1fx\n", p, peer, ours, peer/ours)
		}
	}
	os.Exit(code)
}

// sink keeps results alive.
var sink any

// BenchmarkParse parses a typical DHCPACK into validated values: the header
// and options 1, 3, 6, 15, 51, 53, 54, 58, 59, 119 and 121.
func BenchmarkParse(b *testing.B) {
	pkt := typicalAck(b)
	b.Run("insomniacslk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for i := 0; i < b.N; i++ {
			d, err := dhcpv4.FromBytes(pkt)
			if err != nil {
				b.Fatal(err)
			}
			var v struct {
				t             dhcpv4.MessageType
				sid           net.IP
				mask          net.IPMask
				routers, dns  []net.IP
				domain        string
				lease, t1, t2 time.Duration
				search        *rfc1035label.Labels
				routes        []*dhcpv4.Route
			}
			v.t = d.MessageType()
			v.sid = d.ServerIdentifier()
			v.mask = d.SubnetMask()
			v.routers = d.Router()
			v.dns = d.DNS()
			v.domain = d.DomainName()
			v.lease = d.IPAddressLeaseTime(0)
			v.t1 = d.IPAddressRenewalTime(0)
			v.t2 = d.IPAddressRebindingTime(0)
			v.search = d.DomainSearch()
			v.routes = d.ClasslessStaticRoute()
			if v.search == nil || len(v.routes) != 2 {
				b.Fatal("bad parse")
			}
			sink = &v
		}
		record(b)
	})
	b.Run("ndhc", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		r := new(dhcp.Reply)
		for i := 0; i < b.N; i++ {
			if err := dhcp.ParseReply(pkt, r); err != nil {
				b.Fatal(err)
			}
		}
		if len(r.SearchList()) != 2 || len(r.Routes()) != 2 {
			b.Fatal("bad parse")
		}
		reportRatio(b, "BenchmarkParse/insomniacslk")
	})
}

func benchConfig(b *testing.B) *dhcp.ClientConfig {
	id, err := dhcp.NewClientIDDUID(7, []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if err != nil {
		b.Fatal(err)
	}
	host, err := dhcp.ParseHostname(benchHost)
	if err != nil {
		b.Fatal(err)
	}
	return &dhcp.ClientConfig{
		MAC: benchMAC, ClientID: id, Hostname: host, VendorClass: []byte(benchVendor),
		ParamRequest: dhcp.DefaultParamRequest(), MaxMessageSize: 1472,
	}
}

// theirMessage builds the same message with insomniacslk/dhcp. It fills
// the struct directly rather than through dhcpv4.New, which would also draw
// a random xid from crypto/rand.
func theirMessage(c *dhcp.ClientConfig, typ dhcpv4.MessageType, requested, server net.IP) []byte {
	d := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet,
		ClientHWAddr: net.HardwareAddr(c.MAC[:]), TransactionID: dhcpv4.TransactionID{0x39, 0x03, 0xf3, 0x26},
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero, GatewayIPAddr: net.IPv4zero,
		Options: make(dhcpv4.Options),
	}
	id, _ := c.ClientID.AppendBinary(nil)
	var prl []dhcpv4.OptionCode
	for _, p := range c.ParamRequest {
		prl = append(prl, dhcpv4.GenericOptionCode(p))
	}
	d.UpdateOption(dhcpv4.OptMessageType(typ))
	d.UpdateOption(dhcpv4.OptClientIdentifier(id))
	if requested != nil {
		d.UpdateOption(dhcpv4.OptRequestedIPAddress(requested))
	}
	if server != nil {
		d.UpdateOption(dhcpv4.OptServerIdentifier(server))
	}
	d.UpdateOption(dhcpv4.OptMaxMessageSize(c.MaxMessageSize))
	d.UpdateOption(dhcpv4.OptParameterRequestList(prl...))
	d.UpdateOption(dhcpv4.OptClassIdentifier(benchVendor))
	d.UpdateOption(dhcpv4.OptHostName(benchHost))
	return d.ToBytes()
}

// BenchmarkBuildDiscover builds a DHCPDISCOVER with options 53, 61, 57, 55,
// 60 and 12.
func BenchmarkBuildDiscover(b *testing.B) {
	c := benchConfig(b)
	b.Run("insomniacslk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sink = theirMessage(c, dhcpv4.MessageTypeDiscover, nil, nil)
		}
		record(b)
	})
	b.Run("ndhc", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1500)
		for i := 0; i < b.N; i++ {
			out, err := c.AppendDiscover(buf[:0], benchXID, 0, netip.Addr{})
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
		reportRatio(b, "BenchmarkBuildDiscover/insomniacslk")
	})
}

// BenchmarkBuildRequest builds the DHCPREQUEST of the SELECTING state, with
// options 53, 61, 50, 54, 57, 55, 60 and 12.
func BenchmarkBuildRequest(b *testing.B) {
	c := benchConfig(b)
	yi, sid := net.IP(benchYI.AsSlice()), net.IP(benchServer.AsSlice())
	b.Run("insomniacslk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sink = theirMessage(c, dhcpv4.MessageTypeRequest, yi, sid)
		}
		record(b)
	})
	b.Run("ndhc", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1500)
		for i := 0; i < b.N; i++ {
			out, err := c.AppendRequestSelecting(buf[:0], benchXID, 0, benchYI, benchServer)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
		reportRatio(b, "BenchmarkBuildRequest/insomniacslk")
	})
}

// TestBuildersMatchPeer checks that both builders put the same options in
// the messages the benchmarks compare.
func TestBuildersMatchPeer(t *testing.T) {
	c := benchConfig(&testing.B{})
	ours, err := c.AppendRequestSelecting(nil, benchXID, 0, benchYI, benchServer)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := dhcpv4.FromBytes(theirMessage(c, dhcpv4.MessageTypeRequest, benchYI.AsSlice(), benchServer.AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	var m dhcp.Message
	if err := m.UnmarshalBinary(ours); err != nil {
		t.Fatal(err)
	}
	if m.Options.Len() != len(theirs.Options) {
		t.Fatalf("ours has %d options, theirs %d", m.Options.Len(), len(theirs.Options))
	}
	for code, v := range m.Options.All() {
		if string(theirs.Options[uint8(code)]) != string(v) {
			t.Errorf("option %d: ours % x, theirs % x", code, v, theirs.Options[uint8(code)])
		}
	}
}
