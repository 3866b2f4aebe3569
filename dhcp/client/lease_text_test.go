package client

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ndhc-go/ndhc/dhcp"
)

func TestLeaseWriteText(t *testing.T) {
	acq := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := &Lease{
		Addr: netip.MustParsePrefix("192.0.2.10/24"), ServerID: netip.MustParseAddr("192.0.2.1"),
		Routers: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
		DNS:     []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")},
		Domain:  mustName(t, "lab.example"), Search: []dhcp.DomainName{mustName(t, "lab.example")},
		MTU: 1400, LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second, Acquired: acq,
	}
	var b strings.Builder
	l.WriteText(&b, "eth0", acq.Add(10*time.Minute))
	want := `eth0: 192.0.2.10/24 from server 192.0.2.1
  gateway     192.0.2.1
  dns         192.0.2.53 192.0.2.54
  domain      "lab.example"
  search      "lab.example"
  mtu         1400
  lease       1h0m0s, acquired 2026-03-01T12:00:00Z, expires 2026-03-01T13:00:00Z (50m0s left)
  renew (T1)  2026-03-01T12:30:00Z
  rebind (T2) 2026-03-01T12:52:30Z
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Fatal(d)
	}
	b.Reset()
	l.WriteText(&b, "eth0", acq.Add(2*time.Hour))
	if !strings.Contains(b.String(), "(expired)") {
		t.Fatalf("an expired lease does not say so:\n%s", b.String())
	}
}
