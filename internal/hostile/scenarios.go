package hostile

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// Scenarios returns the hostile-server table, in a fixed order.
func Scenarios() []Scenario {
	var out []Scenario
	add := func(s ...Scenario) {
		for i := range s {
			s[i].Want = Safe
		}
		out = append(out, s...)
	}
	add(framing()...)
	add(header()...)
	add(lengths()...)
	add(splits()...)
	add(search()...)
	add(routes()...)
	add(leases()...)
	add(stringsAndAddrs()...)
	add(floods()...)
	return out
}

// edit is a Scenario.Edit applied to offers and acks alike.
func edit(f func(e *Env, m *Msg)) func(*Env, *Msg, byte) {
	return func(e *Env, m *Msg, t byte) {
		if t != Nak {
			f(e, m)
		}
	}
}

func set(opts ...Opt) func(*Env, *Msg, byte) {
	return edit(func(_ *Env, m *Msg) {
		for _, o := range opts {
			m.Set(o)
		}
	})
}

func wire(f func(e *Env, w *Wire)) func(*Env, *Wire, byte) {
	return func(e *Env, w *Wire, _ byte) { f(e, w) }
}

func framing() []Scenario {
	return []Scenario{
		{Name: "frame/truncated-udp", Sends: "frame cut at 200 octets, IP and UDP lengths of the whole",
			Frame: wire(func(_ *Env, w *Wire) { w.Cut = 200 })},
		{Name: "frame/truncated-bootp", Sends: "BOOTP message of 100 octets, lengths consistent",
			Respond: func(e *Env, req Req, _ func(byte) [][]byte) [][]byte {
				m := e.Reply(req, replyType(req))
				return [][]byte{e.Wire(req).Frame(m.Bytes()[:100])}
			}},
		{Name: "frame/bad-ip-checksum", Sends: "IPv4 header checksum wrong",
			Frame: wire(func(_ *Env, w *Wire) { w.BadIPSum = true })},
		{Name: "frame/bad-udp-checksum", Sends: "UDP checksum wrong",
			Frame: wire(func(_ *Env, w *Wire) { w.BadUDPSum = true })},
		{Name: "frame/zero-udp-checksum", Sends: "UDP checksum 0 (none, RFC 768)", Avail: WantBind,
			Frame: wire(func(_ *Env, w *Wire) { w.ZeroUDPSum = true })},
		{Name: "frame/ip-fragments", Sends: "every reply in two IPv4 fragments",
			Respond: func(e *Env, req Req, _ func(byte) [][]byte) [][]byte {
				w := e.Wire(req)
				w.FragField = 0
				full := w.Frame(e.Reply(req, replyType(req)).Bytes())
				var out [][]byte
				for _, p := range Fragment(full[14:], 128) {
					out = append(out, append(append([]byte(nil), full[:14]...), p...))
				}
				return out
			}},
		{Name: "frame/ip-options", Sends: "IPv4 header with a Router Alert option (IHL 6)", Avail: PeersBind,
			Frame: wire(func(_ *Env, w *Wire) { w.IPOptions = []byte{0x94, 0x04, 0, 0} })},
		{Name: "frame/ip-options-40", Sends: "IPv4 header with 40 octets of NOP options (IHL 15)", Avail: WantBind,
			Frame: wire(func(_ *Env, w *Wire) { w.IPOptions = bytes.Repeat([]byte{1}, 40) })},
		{Name: "frame/ip-total-long", Sends: "IPv4 total length 40 beyond the frame",
			Frame: wire(func(_ *Env, w *Wire) { w.TotalLenDelta = 40 })},
		{Name: "frame/ip-total-short", Sends: "IPv4 total length 30 short of the UDP datagram",
			Frame: wire(func(_ *Env, w *Wire) { w.TotalLenDelta = -30 })},
		{Name: "frame/udp-length-long", Sends: "UDP length 20 beyond the IP payload",
			Frame: wire(func(_ *Env, w *Wire) { w.UDPLenDelta = 20 })},
		{Name: "frame/udp-length-short", Sends: "UDP length 30 short of the IP payload",
			Frame: wire(func(_ *Env, w *Wire) { w.UDPLenDelta = -30 })},
		{Name: "frame/not-udp", Sends: "IP protocol 6 with a DHCP payload",
			Frame: wire(func(_ *Env, w *Wire) { w.Proto = 6 })},
		{Name: "frame/wrong-port", Sends: "UDP destination port 69",
			Frame: wire(func(_ *Env, w *Wire) { w.DstPort = 69 })},
		{Name: "frame/source-port-1067", Sends: "UDP source port 1067 instead of 67", Avail: WantBind,
			Frame: wire(func(_ *Env, w *Wire) { w.SrcPort = 1067 })},
		{Name: "frame/trailing-junk", Sends: "300 octets of junk after the IP datagram (as Ethernet padding)", Avail: WantBind,
			Respond: func(e *Env, req Req, def func(byte) [][]byte) [][]byte {
				f := def(replyType(req))
				f[0] = append(f[0], bytes.Repeat([]byte{0xa5}, 300)...)
				return f
			}},
	}
}

// replyType is the reply a correct server gives to req.
func replyType(req Req) byte {
	if req.Type == Request {
		return Ack
	}
	return Offer
}

func header() []Scenario {
	yi := func(name, addr, why string) Scenario {
		return Scenario{Name: "yiaddr/" + name, Sends: "yiaddr " + addr + " (" + why + ")",
			Edit: edit(func(_ *Env, m *Msg) { m.YIAddr = netip.MustParseAddr(addr) })}
	}
	return []Scenario{
		{Name: "hdr/op-request", Sends: "op BOOTREQUEST", Edit: edit(func(_ *Env, m *Msg) { m.Op = 1 })},
		{Name: "hdr/htype-6", Sends: "htype 6 (IEEE 802)", Edit: edit(func(_ *Env, m *Msg) { m.HType = 6 })},
		{Name: "hdr/hlen-16", Sends: "hlen 16", Edit: edit(func(_ *Env, m *Msg) { m.HLen = 16 })},
		{Name: "hdr/xid-mismatch", Sends: "xid of another transaction", Edit: edit(func(_ *Env, m *Msg) { m.XID ^= 0x5a5a5a5a })},
		{Name: "hdr/chaddr-mismatch", Sends: "chaddr of another host", Edit: edit(func(_ *Env, m *Msg) { m.CHAddr[5] ^= 0xff })},
		{Name: "hdr/no-cookie", Sends: "no magic cookie: options start at 236", Edit: edit(func(_ *Env, m *Msg) { m.NoCookie = true })},
		{Name: "hdr/bad-cookie", Sends: "magic cookie 99.130.83.98",
			Edit: edit(func(_ *Env, m *Msg) {
				m.NoCookie = true
				m.Opts = append([]Opt{{Raw: []byte{99, 130, 83, 98}}}, m.Opts...)
			})},
		yi("zero", "0.0.0.0", "unspecified"),
		yi("broadcast", "255.255.255.255", "limited broadcast"),
		yi("multicast", "224.0.0.1", "multicast"),
		yi("loopback", "127.0.0.1", "loopback"),
		yi("class-e", "240.0.0.5", "reserved class E"),
		yi("network", "10.77.0.0", "the subnet's network address"),
		yi("subnet-broadcast", "10.77.0.255", "the subnet's broadcast address"),
		yi("server-own", "10.77.0.1", "the server's own address"),
		yi("link-local", "169.254.7.7", "link-local"),
		yi("this-network", "0.1.2.3", "0/8"),
		{Name: "hdr/server-id-broadcast", Sends: "server identifier 255.255.255.255",
			Edit: set(O(54, 255, 255, 255, 255))},
		{Name: "hdr/server-id-missing", Sends: "no option 54",
			Edit: func(_ *Env, m *Msg, _ byte) { m.Del(54, 0) }},
	}
}

func lengths() []Scenario {
	return []Scenario{
		{Name: "opt/dns-len-beyond-end", Sends: "option 6 claiming 200 octets as the last option, no END", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Del(6, 0)
				m.Opts = append(m.Opts, Opt{Code: 6, Data: a4("10.77.0.1"), Len: 200})
				m.NoEnd = true
			})},
		{Name: "opt/mask-len-3", Sends: "option 1 of 3 octets", Avail: WantBind, Edit: set(O(1, 255, 255, 255))},
		{Name: "opt/router-len-5", Sends: "option 3 of 5 octets", Avail: WantBind, Edit: set(O(3, 10, 77, 0, 1, 9))},
		{Name: "opt/lease-len-2", Sends: "option 51 of 2 octets", Edit: set(O(51, 0x0e, 0x10))},
		{Name: "opt/msgtype-len-0", Sends: "option 53 of 0 octets", Edit: set(O(53))},
		{Name: "opt/hostname-len-0", Sends: "option 12 of 0 octets", Avail: WantBind, Edit: set(O(12))},
		{Name: "opt/pad-flood", Sends: "1000 PAD octets between the options", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Opts = append(m.Opts[:2], append([]Opt{{Raw: make([]byte, 1000)}}, m.Opts[2:]...)...)
			})},
		{Name: "opt/missing-end", Sends: "no END option", Avail: PeersBind, Edit: edit(func(_ *Env, m *Msg) { m.NoEnd = true })},
		{Name: "opt/junk-after-end", Sends: "200 octets of junk after END", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) { m.Pad = bytes.Repeat([]byte{0x06, 0xff}, 100) })},
		{Name: "opt/overload-both", Sends: "option 52=3: DNS in sname, domain in file", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Del(6, 0)
				m.Del(15, 0)
				m.Set(O(52, 3))
				copy(m.SName[:], AppendOpts(nil, []Opt{O(6, a4("10.77.0.1")...), O(255)})[:7])
				copy(m.File[:], append(AppendOpts(nil, []Opt{O(15, []byte("lab.example")...)}), 255))
			})},
		{Name: "opt/overload-no-end", Sends: "option 52=1, sname full of options without END", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Set(O(52, 1))
				for i := 0; i+6 <= len(m.SName); i += 6 {
					copy(m.SName[i:], AppendOpts(nil, []Opt{O(42, a4("10.77.0.1")...)}))
				}
			})},
		{Name: "opt/overload-7", Sends: "option 52 of value 7", Avail: WantBind, Edit: set(O(52, 7))},
		{Name: "opt/overload-recursive", Sends: "option 52=2 and option 52 again inside file", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Set(O(52, 2))
				copy(m.File[:], AppendOpts(nil, []Opt{O(52, 3), O(6, a4("10.77.0.9")...), O(255)}))
			})},
		{Name: "opt/overload-sname-text", Sends: "option 52=1 with a server name in sname", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Set(O(52, 1))
				copy(m.SName[:], "rogue.example")
			})},
	}
}

func splits() []Scenario {
	return []Scenario{
		{Name: "split/dns-25", Sends: "25 DNS servers in option 6, split over three options (RFC 3396)", Avail: PeersBind,
			Edit: edit(func(_ *Env, m *Msg) {
				m.Del(6, 0)
				var all []byte
				for i := 0; i < 25; i++ {
					all = append(all, 10, 77, 0, byte(100+i))
				}
				m.Opts = append(m.Opts, O(6, all[:36]...), O(6, all[36:70]...), O(6, all[70:]...))
			})},
		{Name: "split/route-in-two", Sends: "option 121 split in the middle of a route", Avail: WantBind,
			Edit: edit(func(_ *Env, m *Msg) {
				r := append([]byte{24, 192, 0, 2}, a4("10.77.0.1")...)
				r = append(r, 0)
				r = append(r, a4("10.77.0.1")...)
				m.Opts = append(m.Opts, O(121, r[:3]...), O(121, r[3:]...))
			})},
		{Name: "split/msgtype-twice", Sends: "option 53 twice (OFFER then ACK: two octets joined)",
			Edit: edit(func(_ *Env, m *Msg) { m.Opts = append(m.Opts, O(53, Ack)) })},
		{Name: "split/hostname", Sends: "option 12 in three parts", Avail: WantBind, Hostname: true,
			Edit: edit(func(_ *Env, m *Msg) { m.Opts = append(m.Opts, O(12, 'h', 'o'), O(12, 's'), O(12, 't', '1')) })},
		{Name: "split/server-id-twice", Sends: "option 54 twice: 8 octets joined",
			Edit: edit(func(_ *Env, m *Msg) { m.Opts = append(m.Opts, O(54, a4("10.77.0.9")...)) })},
	}
}

// names encodes domain names in DNS wire form, without compression.
func names(ns ...string) []byte {
	var b []byte
	for _, n := range ns {
		for _, l := range strings.Split(n, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		b = append(b, 0)
	}
	return b
}

func search() []Scenario {
	o119 := func(name, sends string, data []byte) Scenario {
		return Scenario{Name: "o119/" + name, Sends: sends, Avail: WantBind, Edit: set(O(119, data...))}
	}
	long := strings.Repeat(strings.Repeat("a", 60)+".", 5) + "com"
	return []Scenario{
		o119("pointer-loop", "a compression pointer to itself", []byte{3, 'l', 'a', 'b', 0xc0, 4}),
		o119("pointer-forward", "a pointer to a later name", append([]byte{3, 'f', 'o', 'o', 0xc0, 6}, names("lab.example")...)),
		o119("pointer-out", "a pointer beyond the option", []byte{3, 'l', 'a', 'b', 0xc0, 200}),
		o119("pointer-chain", "a chain of 40 pointers, each to the one before", func() []byte {
			b := names("lab.example")
			prev := 0
			for i := 0; i < 40; i++ {
				at := len(b)
				b = append(b, 0xc0, byte(prev))
				prev = at
			}
			return b
		}()),
		o119("name-too-long", "a name of 308 octets, in two options (RFC 3396)", names(long)),
		o119("label-64", "a label of 64 octets", names(strings.Repeat("x", 64)+".example")),
		o119("unterminated", "a name without its root label", []byte{3, 'l', 'a', 'b', 7, 'e', 'x', 'a'}),
		{Name: "o119/one-bad-name", Sends: "search list of three names, the second with ';' and a space", Avail: PeersBind,
			Edit: set(O(119, names("good.example", "b d;x.example", "corp.example")...))},
		{Name: "o119/newline-nameserver", Sends: "a search name holding \"\\nnameserver 6.6.6.6\"", Avail: WantBind,
			Edit: set(O(119, names("x\nnameserver 6\n6\n6\n6")...))},
	}
}

// route encodes one option 121 route.
func route(dst string, gw string) []byte {
	p := netip.MustParsePrefix(dst)
	b := []byte{byte(p.Bits())}
	a := p.Addr().As4()
	b = append(b, a[:(p.Bits()+7)/8]...)
	return append(b, a4(gw)...)
}

func routes() []Scenario {
	o121 := func(name, sends string, rs ...[]byte) Scenario {
		return Scenario{Name: "o121/" + name, Sends: sends, Avail: WantBind, Edit: set(O(121, bytes.Join(rs, nil)...))}
	}
	return []Scenario{
		o121("tunnelvision", "0/1 and 128/1 via the server (TunnelVision)", route("0.0.0.0/1", "10.77.0.1"), route("128.0.0.0/1", "10.77.0.1")),
		o121("tunnelvision-default", "a default route plus 0/1 and 128/1", route("0.0.0.0/0", "10.77.0.1"), route("0.0.0.0/1", "10.77.0.1"), route("128.0.0.0/1", "10.77.0.1")),
		o121("short-7", "10.0.0.0/7 via the server", route("10.0.0.0/7", "10.77.0.1")),
		o121("host-route", "a /32 route to 203.0.113.7 via the server (valid)", route("203.0.113.7/32", "10.77.0.1")),
		o121("server-host-route", "10.77.0.1/32 via 10.77.0.9: the route to the server itself", route("0.0.0.0/0", "10.77.0.1"), route("10.77.0.1/32", "10.77.0.9")),
		o121("other-subnet", "the client's other connected subnet 192.168.50.0/24 via the server", route("0.0.0.0/0", "10.77.0.1"), route("192.168.50.0/24", "10.77.0.1")),
		o121("other-subnet-wider", "192.168.0.0/16 via the server (covers the other connected subnet)", route("0.0.0.0/0", "10.77.0.1"), route("192.168.0.0/16", "10.77.0.1")),
		{Name: "o121/truncated", Sends: "a default route, then a route cut in its gateway", Avail: PeersBind,
			Edit: set(O(121, append(route("0.0.0.0/0", "10.77.0.1"), 24, 192, 0, 2, 10, 77)...))},
		o121("prefix-33", "a route of prefix length 33", []byte{33, 1, 2, 3, 4, 5, 10, 77, 0, 1}),
		o121("offlink-gateway", "a default route via 198.51.100.1, off the subnet", route("0.0.0.0/0", "198.51.100.1")),
		o121("loopback-dst", "127.0.0.0/8 via the server", route("127.0.0.0/8", "10.77.0.1")),
		o121("multicast-gateway", "a default route via 224.0.0.1", route("0.0.0.0/0", "224.0.0.1")),
	}
}

func leases() []Scenario {
	lt := func(name, sends string, avail Avail, lease uint32, opts ...Opt) Scenario {
		return Scenario{Name: "lease/" + name, Sends: sends, Avail: avail, Lease: lease, Edit: set(opts...)}
	}
	return []Scenario{
		lt("zero", "lease time 0", NoBind, 0, O(51, u32(0)...)),
		{Name: "lease/missing", Sends: "no option 51", Edit: func(_ *Env, m *Msg, _ byte) { m.Del(51, 0) }},
		lt("one-second", "lease time 1 s", WantBind, 1, O(51, u32(1)...)),
		lt("infinite", "lease time 0xffffffff", WantBind, 0, O(51, u32(0xffffffff)...)),
		lt("short-6", "lease time 6 s, no T1/T2", WantBind, 6, O(51, u32(6)...)),
		lt("t1-after-t2", "lease 3600 s, T1 3000 > T2 1000", WantBind, 0, O(58, u32(3000)...), O(59, u32(1000)...)),
		lt("t1-t2-beyond", "lease 6 s, T1 100 and T2 200 beyond it", WantBind, 6, O(51, u32(6)...), O(58, u32(100)...), O(59, u32(200)...)),
		lt("t1-zero", "lease 6 s, T1 0 and T2 0", WantBind, 6, O(51, u32(6)...), O(58, u32(0)...), O(59, u32(0)...)),
		lt("infinite-t1-t2", "infinite lease with T1 5, T2 4", WantBind, 0, O(51, u32(0xffffffff)...), O(58, u32(5)...), O(59, u32(4)...)),
	}
}

func stringsAndAddrs() []Scenario {
	host := func(name, sends, v string) Scenario {
		return Scenario{Name: "str/hostname-" + name, Sends: sends, Avail: WantBind, Hostname: true, Edit: set(O(12, []byte(v)...))}
	}
	dom := func(name, sends, v string) Scenario {
		return Scenario{Name: "str/domain-" + name, Sends: sends, Avail: WantBind, Edit: set(O(15, []byte(v)...))}
	}
	return []Scenario{
		host("nul", "host name \"host\\x00evil\"", "host\x00evil"),
		host("newline", "host name with a newline", "host\nevil"),
		host("shell", "host name \"$(reboot);`id`|x\"", "$(reboot);`id`|x"),
		host("long", "host name of 255 octets", strings.Repeat("h", 255)),
		dom("nameserver", "domain \"lab.example\\nnameserver 6.6.6.6\"", "lab.example\nnameserver 6.6.6.6"),
		dom("nul", "domain \"lab\\x00.example\"", "lab\x00.example"),
		dom("shell", "domain \"$(id).example;rm -rf /\"", "$(id).example;rm -rf /"),
		dom("long", "domain of 255 octets", strings.Repeat("d", 63)+"."+strings.Repeat("e", 63)+"."+strings.Repeat("f", 63)+"."+strings.Repeat("g", 63)),
		{Name: "addr/dns-bad-classes", Sends: "DNS servers 0.0.0.0, 127.0.0.1, 224.0.0.1, 255.255.255.255, 240.0.0.1 and 10.77.0.1", Avail: WantBind,
			Edit: set(O(6, bytes.Join([][]byte{a4("0.0.0.0"), a4("127.0.0.1"), a4("224.0.0.1"), a4("255.255.255.255"), a4("240.0.0.1"), a4("10.77.0.1")}, nil)...))},
		{Name: "addr/router-bad-classes", Sends: "routers 0.0.0.0, 255.255.255.255, 127.0.0.1", Avail: WantBind,
			Edit: set(O(3, bytes.Join([][]byte{a4("0.0.0.0"), a4("255.255.255.255"), a4("127.0.0.1")}, nil)...))},
		{Name: "addr/mtu-68", Sends: "interface MTU 68", Avail: WantBind, Edit: set(O(26, 0, 68))},
		{Name: "addr/mask-noncontiguous", Sends: "subnet mask 255.0.255.0", Avail: WantBind, Edit: set(O(1, 255, 0, 255, 0))},
		{Name: "addr/mask-zero", Sends: "subnet mask 0.0.0.0", Avail: WantBind, Edit: set(O(1, 0, 0, 0, 0))},
		{Name: "addr/mask-32", Sends: "subnet mask 255.255.255.255", Avail: WantBind, Edit: set(O(1, 255, 255, 255, 255))},
		{Name: "addr/broadcast-zero", Sends: "broadcast address 0.0.0.0", Avail: WantBind, Edit: set(O(28, 0, 0, 0, 0))},
	}
}

// floodFor bounds every flood.
const floodFor = 2 * time.Second

func floods() []Scenario {
	return []Scenario{
		{Name: "flood/offers", Sends: "300 OFFERs of other xids before each real one, for 2 s", Avail: WantBind,
			Respond: func(e *Env, req Req, def func(byte) [][]byte) [][]byte {
				f := def(replyType(req))
				if req.Type != Discover || time.Since(e.Start) > floodFor {
					return f
				}
				var out [][]byte
				for i := 0; i < 300; i++ {
					r := req
					r.XID = rand.Uint32()
					out = append(out, (&Scenario{}).Build(e, r, Offer))
				}
				return append(out, f...)
			}},
		{Name: "flood/naks", Sends: "300 NAKs to each REQUEST for 2 s, then ACKs", Avail: WantBind,
			Respond: func(e *Env, req Req, def func(byte) [][]byte) [][]byte {
				if req.Type == Request && time.Since(e.Start) <= floodFor {
					var out [][]byte
					for i := 0; i < 300; i++ {
						out = append(out, def(Nak)...)
					}
					return out
				}
				if req.Type == Request {
					return def(Ack)
				}
				return def(Offer)
			}},
		{Name: "flood/unsolicited", Sends: "about 2000 frames/s of random xids, types and junk for 2 s, besides the real replies", Avail: WantBind,
			Background: func(e *Env, send func(...[]byte), stop <-chan struct{}) {
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				end := time.After(floodFor)
				for {
					select {
					case <-stop:
						return
					case <-end:
						return
					case <-tick.C:
					}
					var batch [][]byte
					for i := 0; i < 20; i++ {
						req := Req{XID: rand.Uint32(), MAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
						m := e.Reply(req, []byte{Offer, Ack, Nak}[i%3])
						b := m.Bytes()
						if i%4 == 0 {
							for j := 240; j < len(b); j++ {
								b[j] = byte(rand.Uint32())
							}
						}
						batch = append(batch, e.Wire(req).Frame(b))
					}
					send(batch...)
				}
			}},
		{Name: "flood/acks-other-address", Sends: "an ACK for another address after each REQUEST's real ACK, for 2 s", Avail: WantBind,
			Respond: func(e *Env, req Req, def func(byte) [][]byte) [][]byte {
				f := def(replyType(req))
				if req.Type == Request && time.Since(e.Start) <= floodFor {
					m := e.Reply(req, Ack)
					m.YIAddr = e.Subnet.Addr().Next().Next().Next()
					for i := 0; i < 50; i++ {
						f = append(f, e.Wire(req).Frame(m.Bytes()))
					}
				}
				return f
			}},
	}
}
