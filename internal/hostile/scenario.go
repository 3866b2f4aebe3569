package hostile

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"
)

// Class is the outcome of one scenario.
type Class string

// The classes of outcome.
const (
	// Safe: nothing invalid reached the kernel, resolv.conf or the host
	// name, and the daemon kept going.
	Safe Class = "safe"
	// AppliedInvalid: something invalid was applied.
	AppliedInvalid Class = "applied-invalid"
	// Crash: a role or the daemon exited before it was told to, or did
	// not exit cleanly when told to.
	Crash Class = "crash"
	// Hang: the daemon stopped making progress.
	Hang Class = "hang"
)

// Avail says whether a scenario's client should end up with a lease.
type Avail int

// The availability expectations.
const (
	// NoBind: nothing valid was offered (or nothing valid arrived); the
	// client must not bind to what was sent.
	NoBind Avail = iota
	// WantBind: the offered address itself is valid; the client should
	// bind and leave out only the bad part. A miss is reported and
	// counted, not fatal.
	WantBind
	// PeersBind: as WantBind, and other DHCP clients do bind: a miss
	// fails the suite.
	PeersBind
)

func (a Avail) String() string {
	switch a {
	case WantBind:
		return "want"
	case PeersBind:
		return "peers"
	}
	return "no"
}

// Env is what a rogue knows about the network it runs on.
type Env struct {
	// ServerIP and ServerMAC are the bridge's: the rogue speaks as the
	// network's gateway, so the kernel answers ARP for it.
	ServerIP  netip.Addr
	ServerMAC net.HardwareAddr
	// Subnet is the network's subnet; Offer a valid address in it.
	Subnet netip.Prefix
	Offer  netip.Addr
	// Other is a subnet connected to another interface of the client.
	Other netip.Prefix
	// Start is when the scenario started (for floods bounded in time).
	Start time.Time
}

// Mask is the subnet mask of Subnet.
func (e *Env) Mask() []byte {
	m := net.CIDRMask(e.Subnet.Bits(), 32)
	return []byte(m)
}

// Reply is the well-formed reply of type t to req: what a correct server
// would send, before a scenario makes it hostile.
func (e *Env) Reply(req Req, t byte) *Msg {
	m := &Msg{Op: 2, HType: 1, HLen: 6, XID: req.XID, CHAddr: req.CHAddr, Flags: 0}
	m.Opts = []Opt{O(53, t), O(54, addr4(e.ServerIP)...)}
	if t == Nak {
		return m
	}
	m.YIAddr = e.Offer
	if req.CIAddr.IsValid() && !req.CIAddr.IsUnspecified() {
		m.CIAddr = req.CIAddr
	}
	m.Opts = append(m.Opts,
		O(51, u32(3600)...),
		O(1, e.Mask()...),
		O(3, addr4(e.ServerIP)...),
		O(6, addr4(e.ServerIP)...),
		O(15, []byte("lab.example")...),
	)
	return m
}

// Wire is the well-formed framing of a reply to req.
func (e *Env) Wire(req Req) *Wire {
	dst := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	if req.CIAddr.IsValid() && !req.CIAddr.IsUnspecified() {
		dst = req.CIAddr
	}
	return &Wire{
		DstMAC: req.MAC, SrcMAC: e.ServerMAC,
		Src: e.ServerIP, Dst: dst, SrcPort: 67, DstPort: 68, TTL: 64,
		FragField: 0x4000, ID: uint16(req.XID),
	}
}

// Scenario is one hostile behaviour: how the rogue changes the replies it
// would otherwise send well-formed, and what the client should make of it.
type Scenario struct {
	Name string
	// Sends says what the rogue sends, for the table.
	Sends string
	// Want is the expected class; every scenario expects Safe.
	Want Class
	// Avail says whether the client should bind.
	Avail Avail
	// Edit changes the reply of type t (Offer, Ack or Nak) before it is
	// encoded.
	Edit func(e *Env, m *Msg, t byte)
	// Frame changes the framing.
	Frame func(e *Env, w *Wire, t byte)
	// Respond, when set, replaces the rogue's answer to req; def builds
	// the answer the other fields describe.
	Respond func(e *Env, req Req, def func(t byte) [][]byte) [][]byte
	// Background, when set, runs while the scenario runs (floods of
	// unsolicited frames); it must return once stop is closed.
	Background func(e *Env, send func(...[]byte), stop <-chan struct{})
	// Lease, when not zero, is the lease the rogue grants, in seconds:
	// the run watches that the address is renewed or removed by its end.
	Lease uint32
	// Hostname runs the client with --set-hostname (in a UTS namespace
	// of its own) and checks the name it set.
	Hostname bool
}

// Responder returns the rogue's answer function for s on e: an OFFER to
// each DHCPDISCOVER, an ACK to each DHCPREQUEST, nothing to anything else.
func (s *Scenario) Responder(e *Env) Responder {
	return func(req Req) [][]byte {
		def := func(t byte) [][]byte { return [][]byte{s.Build(e, req, t)} }
		if s.Respond != nil {
			return s.Respond(e, req, def)
		}
		switch req.Type {
		case Discover:
			return def(Offer)
		case Request:
			return def(Ack)
		}
		return nil
	}
}

// Build is the frame of type t the scenario sends in answer to req.
func (s *Scenario) Build(e *Env, req Req, t byte) []byte {
	m := e.Reply(req, t)
	if s.Edit != nil {
		s.Edit(e, m, t)
	}
	w := e.Wire(req)
	if s.Frame != nil {
		s.Frame(e, w, t)
	}
	return w.Frame(m.Bytes())
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func a4(s string) []byte { return addr4(netip.MustParseAddr(s)) }
