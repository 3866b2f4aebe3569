package dhcp

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testConfig(t testing.TB) *ClientConfig {
	id, err := NewClientIDDUID(7, []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if err != nil {
		t.Fatal(err)
	}
	return &ClientConfig{
		MAC:            testMAC,
		ClientID:       id,
		Hostname:       mustHost(t, "client-7"),
		VendorClass:    []byte("ndhc"),
		ParamRequest:   DefaultParamRequest(),
		MaxMessageSize: 1472,
		Broadcast:      true,
	}
}

// TestBuildersTable5 checks each message against RFC 2131 table 5.
func TestBuildersTable5(t *testing.T) {
	c := testConfig(t)
	server := testServer
	addr := testYI
	const xid = 0xdeadbeef
	type want struct {
		typ       MessageType
		ciaddr    netip.Addr
		flags     uint16
		secs      uint16
		requested netip.Addr // option 50, invalid: absent
		server    netip.Addr // option 54, invalid: absent
		params    bool       // 55, 57, 60, 12 present
	}
	zero := netip.IPv4Unspecified()
	tests := []struct {
		name  string
		build func(b []byte) ([]byte, error)
		want  want
	}{
		{"discover", func(b []byte) ([]byte, error) { return c.AppendDiscover(b, xid, 3, netip.Addr{}) },
			want{Discover, zero, FlagBroadcast, 3, netip.Addr{}, netip.Addr{}, true}},
		{"discover with requested", func(b []byte) ([]byte, error) { return c.AppendDiscover(b, xid, 3, addr) },
			want{Discover, zero, FlagBroadcast, 3, addr, netip.Addr{}, true}},
		{"request selecting", func(b []byte) ([]byte, error) { return c.AppendRequestSelecting(b, xid, 4, addr, server) },
			want{Request, zero, FlagBroadcast, 4, addr, server, true}},
		{"request init-reboot", func(b []byte) ([]byte, error) { return c.AppendRequestInitReboot(b, xid, 0, addr) },
			want{Request, zero, FlagBroadcast, 0, addr, netip.Addr{}, true}},
		{"request renewing", func(b []byte) ([]byte, error) { return c.AppendRequestRenewing(b, xid, 0, addr) },
			want{Request, addr, 0, 0, netip.Addr{}, netip.Addr{}, true}},
		{"request rebinding", func(b []byte) ([]byte, error) { return c.AppendRequestRebinding(b, xid, 9, addr) },
			want{Request, addr, 0, 9, netip.Addr{}, netip.Addr{}, true}},
		{"decline", func(b []byte) ([]byte, error) { return c.AppendDecline(b, xid, addr, server) },
			want{Decline, zero, 0, 0, addr, server, false}},
		{"release", func(b []byte) ([]byte, error) { return c.AppendRelease(b, xid, addr, server) },
			want{Release, addr, 0, 0, netip.Addr{}, server, false}},
		{"inform", func(b []byte) ([]byte, error) { return c.AppendInform(b, xid, 1, addr) },
			want{Inform, addr, 0, 1, netip.Addr{}, netip.Addr{}, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix")
			b, err := tt.build(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:6]) != "prefix" {
				t.Fatal("prefix overwritten")
			}
			b = b[6:]
			if len(b) < minBOOTPLen {
				t.Errorf("%d octets, want at least 300", len(b))
			}
			var m Message
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if m.Op != BootRequest || m.HType != 1 || m.HLen != 6 || m.Hops != 0 || m.XID != xid ||
				m.Secs != w.secs || m.Flags != w.flags || m.CIAddr != w.ciaddr ||
				m.YIAddr != zero || m.SIAddr != zero || m.GIAddr != zero || MAC(m.CHAddr[:6]) != testMAC {
				t.Errorf("header: %+v", viewMessage(&m))
			}
			d := m.Options.Decoder()
			var codes []OptionCode
			var requested, srv netip.Addr
			for d.Next() {
				codes = append(codes, d.Code())
				switch d.Code() {
				case OptMessageType:
					if typ := d.MessageType(); typ != w.typ {
						t.Errorf("type %v", typ)
					}
				case OptRequestedIP:
					requested = d.Addr()
				case OptServerID:
					srv = d.Addr()
				case OptClientID:
					if !c.ClientID.Matches(d.Bytes()) {
						t.Error("client id")
					}
				case OptHostname:
					if d.Hostname() != c.Hostname {
						t.Error("hostname")
					}
				case OptMaxMessageSize:
					if d.MaxMessageSize() != 1472 {
						t.Error("max size")
					}
				case OptParamRequest:
					var prl [255]OptionCode
					if n := d.ParamRequestList(prl[:]); !cmp.Equal(prl[:n], c.ParamRequest) {
						t.Error("parameter list")
					}
				case OptVendorClass:
					if string(d.Bytes()) != "ndhc" {
						t.Error("vendor class")
					}
				}
			}
			if err := d.Err(); err != nil {
				t.Fatal(err)
			}
			if codes[0] != OptMessageType || codes[1] != OptClientID {
				t.Errorf("options start with %v, want 53, 61", codes[:2])
			}
			if requested != w.requested || srv != w.server {
				t.Errorf("option 50 = %v, 54 = %v; want %v, %v", requested, srv, w.requested, w.server)
			}
			for _, c := range []OptionCode{OptParamRequest, OptMaxMessageSize, OptVendorClass, OptHostname} {
				if m.Options.Has(c) != w.params {
					t.Errorf("option %d present = %v, want %v", c, m.Options.Has(c), w.params)
				}
			}
			if m.Options.Has(OptLeaseTime) {
				t.Error("lease time sent")
			}
		})
	}
}

func TestBuildMinimal(t *testing.T) {
	c := &ClientConfig{MAC: testMAC}
	b, err := c.AppendDiscover(nil, 1, 0, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != minBOOTPLen {
		t.Errorf("%d octets", len(b))
	}
	if binary.BigEndian.Uint16(b[offFlags:]) != 0 {
		t.Error("broadcast flag without Broadcast")
	}
	if got := b[offOpts : offOpts+4]; !cmp.Equal(got, []byte{53, 1, 1, 255}) {
		t.Errorf("options % x", got)
	}
}

func TestBuildErrors(t *testing.T) {
	c := testConfig(t)
	v6 := netip.MustParseAddr("2001:db8::1")
	zero := netip.IPv4Unspecified()
	calls := map[string]func() ([]byte, error){
		"discover v6":          func() ([]byte, error) { return c.AppendDiscover(nil, 1, 0, v6) },
		"selecting no server":  func() ([]byte, error) { return c.AppendRequestSelecting(nil, 1, 0, testYI, netip.Addr{}) },
		"selecting zero offer": func() ([]byte, error) { return c.AppendRequestSelecting(nil, 1, 0, zero, testServer) },
		"init-reboot invalid":  func() ([]byte, error) { return c.AppendRequestInitReboot(nil, 1, 0, netip.Addr{}) },
		"renewing zero":        func() ([]byte, error) { return c.AppendRequestRenewing(nil, 1, 0, zero) },
		"decline no server":    func() ([]byte, error) { return c.AppendDecline(nil, 1, testYI, netip.Addr{}) },
		"decline no address":   func() ([]byte, error) { return c.AppendDecline(nil, 1, netip.Addr{}, testServer) },
		"release no server":    func() ([]byte, error) { return c.AppendRelease(nil, 1, testYI, zero) },
		"release no address":   func() ([]byte, error) { return c.AppendRelease(nil, 1, zero, testServer) },
		"inform v6":            func() ([]byte, error) { return c.AppendInform(nil, 1, 0, v6) },
		"vendor class empty": func() ([]byte, error) {
			c := *c
			c.VendorClass = []byte{}
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
		"vendor class 256": func() ([]byte, error) {
			c := *c
			c.VendorClass = make([]byte, 256)
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
		"prl empty": func() ([]byte, error) {
			c := *c
			c.ParamRequest = []OptionCode{}
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
		"prl with end": func() ([]byte, error) {
			c := *c
			c.ParamRequest = []OptionCode{1, 255}
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
		"prl 256": func() ([]byte, error) {
			c := *c
			c.ParamRequest = make([]OptionCode, 256)
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
		"max message size 575": func() ([]byte, error) {
			c := *c
			c.MaxMessageSize = 575
			return c.AppendDiscover(nil, 1, 0, netip.Addr{})
		},
	}
	for name, call := range calls {
		b, err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "dhcp: ") {
			t.Errorf("%s: error %q", name, err)
		}
		if len(b) != 0 {
			t.Errorf("%s: %d octets appended on error", name, len(b))
		}
	}
}

func TestBuildAllocs(t *testing.T) {
	c := testConfig(t)
	buf := make([]byte, 0, 1500)
	allocs := testing.AllocsPerRun(100, func() {
		b, err := c.AppendDiscover(buf[:0], 1, 0, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		b, err = c.AppendRequestSelecting(b[:0], 1, 0, testYI, testServer)
		if err != nil || len(b) == 0 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per build", allocs)
	}
}
