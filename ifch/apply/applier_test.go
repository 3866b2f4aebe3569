package apply

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ndhc-go/ndhc/ifch"
)

func mustCommand(t *testing.T, msg string) ifch.Command {
	t.Helper()
	c, err := ifch.Unmarshal([]byte(msg))
	if err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	if err := (&ifch.Policy{Interfaces: []string{"eth0", "eth1"}, AllowOffLinkRouter: true}).Validate(c); err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	return c
}

const (
	cfgA = "configure eth0\naddress 192.0.2.10/24\nrouter 192.0.2.1\n" +
		"route 198.51.100.0/24 192.0.2.254\nroute 203.0.113.0/25 0.0.0.0\n" +
		"dns 192.0.2.53\nsearch example.com\nmtu 1400\nhostname host-a\nlifetime 3600 1800\n"
	cfgNewRouter = "configure eth0\naddress 192.0.2.10/24\nrouter 192.0.2.2\n" +
		"route 198.51.100.0/24 192.0.2.254\nroute 203.0.113.0/25 0.0.0.0\n" +
		"dns 192.0.2.53\nsearch example.com\nmtu 1400\nhostname host-a\nlifetime 3600 1800\n"
	cfgNewAddr = "configure eth0\naddress 10.9.0.5/16\nrouter 10.9.0.1\n" +
		"dns 10.9.0.53\ndomain corp.example\nlifetime infinite infinite\n"
)

// TestRouterStates walks one link through a sequence of states and compares
// the fake kernel's state and change log with golden text after each step.
func TestRouterStates(t *testing.T) {
	k := newFakeKernel(
		Link{Index: 2, Name: "eth0", MTU: 1500, Up: false, Running: false},
		Link{Index: 3, Name: "eth1", MTU: 9000, Up: true, Running: true},
	)
	// An administrator's static address on eth0, which ifch must not touch.
	k.links["eth0"].addrs = []Addr{{Prefix: netip.MustParsePrefix("172.16.0.1/12"), Broadcast: netip.MustParseAddr("172.31.255.255"), Permanent: true}}
	hs := &recordingHostname{}
	a := New(k, Config{Metric: 100, Hostname: hs})

	steps := []struct {
		name      string
		cmd       string
		wantOps   string
		wantState string
	}{
		{
			name: "configure",
			cmd:  cfgA,
			wantOps: "link eth0 up\nlink eth0 mtu 1400\n" +
				"replace addr 192.0.2.10/24 brd 192.0.2.255 valid 3600 preferred 1800\n" +
				"replace route default via 192.0.2.1 metric 100\n" +
				"replace route 198.51.100.0/24 via 192.0.2.254 metric 100\n" +
				"replace route 203.0.113.0/25 dev metric 100",
			wantState: "link eth0 mtu 1400 up true running false\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"  addr 192.0.2.10/24 brd 192.0.2.255 valid 3600 preferred 1800\n" +
				"  route 198.51.100.0/24 via 192.0.2.254 metric 100\n" +
				"  route 203.0.113.0/25 dev metric 100\n" +
				"  route default via 192.0.2.1 metric 100\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
		{
			name:    "reconfigure same: no ops",
			cmd:     cfgA,
			wantOps: "",
			wantState: "link eth0 mtu 1400 up true running false\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"  addr 192.0.2.10/24 brd 192.0.2.255 valid 3600 preferred 1800\n" +
				"  route 198.51.100.0/24 via 192.0.2.254 metric 100\n" +
				"  route 203.0.113.0/25 dev metric 100\n" +
				"  route default via 192.0.2.1 metric 100\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
		{
			name:    "change router: one replace",
			cmd:     cfgNewRouter,
			wantOps: "replace route default via 192.0.2.2 metric 100",
			wantState: "link eth0 mtu 1400 up true running false\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"  addr 192.0.2.10/24 brd 192.0.2.255 valid 3600 preferred 1800\n" +
				"  route 198.51.100.0/24 via 192.0.2.254 metric 100\n" +
				"  route 203.0.113.0/25 dev metric 100\n" +
				"  route default via 192.0.2.2 metric 100\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
		{
			name: "change address: add before delete, mtu restored",
			cmd:  cfgNewAddr,
			wantOps: "link eth0 mtu 1500\n" +
				"replace addr 10.9.0.5/16 brd 10.9.255.255 valid 2147483647 preferred 2147483647\n" +
				"replace route default via 10.9.0.1 metric 100\n" +
				"del route 198.51.100.0/24 via 192.0.2.254 metric 100\n" +
				"del route 203.0.113.0/25 dev metric 100\n" +
				"del addr 192.0.2.10/24",
			wantState: "link eth0 mtu 1500 up true running false\n" +
				"  addr 10.9.0.5/16 brd 10.9.255.255 valid 2147483647 preferred 2147483647\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"  route default via 10.9.0.1 metric 100\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
		{
			name:    "deconfigure: only what ifch installed goes",
			cmd:     "deconfigure eth0\n",
			wantOps: "del route default via 10.9.0.1 metric 100\ndel addr 10.9.0.5/16",
			wantState: "link eth0 mtu 1500 up true running false\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
		{
			name:    "deconfigure again: no ops",
			cmd:     "deconfigure eth0\n",
			wantOps: "",
			wantState: "link eth0 mtu 1500 up true running false\n" +
				"  addr 172.16.0.1/12 brd 172.31.255.255 permanent\n" +
				"link eth1 mtu 9000 up true running true\n",
		},
	}
	for _, s := range steps {
		r := a.Do(mustCommand(t, s.cmd))
		if r.Code != ifch.CodeOK {
			t.Fatalf("%s: reply %+v", s.name, r)
		}
		if d := cmp.Diff(s.wantOps, k.takeOps()); d != "" {
			t.Errorf("%s: ops -want +got:\n%s", s.name, d)
		}
		if d := cmp.Diff(s.wantState, k.String()); d != "" {
			t.Errorf("%s: state -want +got:\n%s", s.name, d)
		}
	}
	if d := cmp.Diff([]string{"host-a"}, hs.names); d != "" {
		t.Errorf("hostnames -want +got:\n%s", d)
	}
}

type recordingHostname struct {
	names []string
	err   error
}

func (h *recordingHostname) SetHostname(n string) error {
	if h.err != nil {
		return h.err
	}
	h.names = append(h.names, n)
	return nil
}

func TestRollback(t *testing.T) {
	for _, fail := range []string{"replace route 198.51.100.0/24", "replace route default", "link eth0 mtu", "replace addr"} {
		t.Run(fail, func(t *testing.T) {
			k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500, Up: true})
			a := New(k, Config{Metric: 100})
			if r := a.Do(mustCommand(t, cfgNewAddr)); r.Code != ifch.CodeOK {
				t.Fatalf("first configure: %+v", r)
			}
			before := k.String()
			k.takeOps()
			k.failOn = fail
			err := a.Configure(mustCommand(t, cfgA).(*ifch.Configure))
			var ae *ApplyError
			if !errors.As(err, &ae) || !ae.RolledBack || !errors.Is(err, ifch.ErrApply) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("want a rolled-back ApplyError wrapping EIO, got %v", err)
			}
			if d := cmp.Diff(before, k.String()); d != "" {
				t.Fatalf("state after rollback -before +after:\n%s", d)
			}
			if r := ifch.ReplyFor(err); r.Code != ifch.ErrApply || !strings.Contains(r.Reason, "rolled back") {
				t.Fatalf("reply %+v", r)
			}
		})
	}
}

func TestRollbackFails(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500, Up: true})
	a := New(k, Config{Metric: 100})
	k.failOn = "replace route" // the add of the default route fails, and so does nothing else
	err := a.Configure(mustCommand(t, cfgA).(*ifch.Configure))
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.RolledBack {
		t.Fatalf("got %v", err)
	}
	// Now make the rollback itself fail: deleting the address is refused.
	k.failOn = ""
	if err := a.Configure(mustCommand(t, cfgA).(*ifch.Configure)); err != nil {
		t.Fatal(err)
	}
	k.failOn = "del addr"
	err = a.Configure(mustCommand(t, cfgNewAddr).(*ifch.Configure))
	if !errors.As(err, &ae) || ae.RolledBack {
		t.Fatalf("want a failed rollback, got %v", err)
	}
	if !strings.Contains(ae.State, "addr 192.0.2.10/24") {
		t.Fatalf("state does not say what is in place: %q", ae.State)
	}
}

func TestCarrierAndUp(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", Up: true, Running: true}, Link{Index: 3, Name: "eth1", Running: true})
	a := New(k, Config{})
	if r := a.Do(&ifch.Carrier{Interface: "eth0"}); r.Carrier != ifch.CarrierUp {
		t.Fatalf("eth0: %+v", r)
	}
	if r := a.Do(&ifch.Carrier{Interface: "eth1"}); r.Carrier != ifch.CarrierDown {
		t.Fatalf("eth1 (down, running): %+v", r)
	}
	if r := a.Do(&ifch.Carrier{Interface: "eth9"}); r.Code != ifch.ErrNoLink {
		t.Fatalf("eth9: %+v", r)
	}
	if r := a.Do(&ifch.Up{Interface: "eth1"}); r.Code != ifch.CodeOK || k.takeOps() != "link eth1 up" {
		t.Fatalf("up: %+v", r)
	}
	if r := a.Do(&ifch.Up{Interface: "eth1"}); r.Code != ifch.CodeOK || k.takeOps() != "" {
		t.Fatalf("up again: %+v", r)
	}
}

func TestHostnameFailure(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500})
	a := New(k, Config{Hostname: &recordingHostname{err: syscall.EPERM}})
	r := a.Do(mustCommand(t, cfgA))
	if r.Code != ifch.ErrHostname {
		t.Fatalf("reply %+v", r)
	}
	if !strings.Contains(k.String(), "192.0.2.10/24") {
		t.Fatal("interface not configured")
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(strings.Repeat("# old and long\n", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".head", []byte("# head"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tail", []byte("options edns0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := OpenResolvConf(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500}, Link{Index: 3, Name: "eth1", MTU: 1500})
	a := New(k, Config{Resolv: rc})

	read := func() string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if r := a.Do(mustCommand(t, cfgA)); r.Code != ifch.CodeOK {
		t.Fatal(r)
	}
	want := "# head\n# Written by ndhc-go ifch; changes are lost on the next lease.\n" +
		"nameserver 192.0.2.53\nsearch example.com\noptions edns0\n"
	if d := cmp.Diff(want, read()); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	// A second link's servers and search domains are merged after the
	// first's. The domain field alone adds nothing: the engine puts it in
	// the search list when it should be there (engine.ConfigureFor).
	if r := a.Do(mustCommand(t, strings.NewReplacer("eth0", "eth1", "domain corp.example\n", "domain corp.example\nsearch corp.example\n").Replace(cfgNewAddr))); r.Code != ifch.CodeOK {
		t.Fatal(r)
	}
	want = "# head\n# Written by ndhc-go ifch; changes are lost on the next lease.\n" +
		"nameserver 192.0.2.53\nnameserver 10.9.0.53\nsearch example.com corp.example\noptions edns0\n"
	if d := cmp.Diff(want, read()); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	// The same state again does not write the file: a marker written
	// behind ifch's back survives.
	if err := os.WriteFile(path, []byte("marker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := a.Do(mustCommand(t, cfgA)); r.Code != ifch.CodeOK {
		t.Fatal(r)
	}
	if got := read(); got != "marker\n" {
		t.Fatalf("file rewritten for an unchanged state: %q", got)
	}
	for _, n := range []string{"eth0", "eth1"} {
		if r := a.Do(&ifch.Deconfigure{Interface: n}); r.Code != ifch.CodeOK {
			t.Fatal(r)
		}
	}
	want = "# head\n# Written by ndhc-go ifch; changes are lost on the next lease.\noptions edns0\n"
	if d := cmp.Diff(want, read()); d != "" {
		t.Fatalf("after deconfigure -want +got:\n%s", d)
	}
}

// TestResolvShrinks checks that a shorter content leaves nothing of the old
// one behind (the padding is truncated away).
func TestResolvShrinks(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "resolv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Repeat("nameserver 192.0.2.1\n", 10)); err != nil {
		t.Fatal(err)
	}
	rc, err := NewResolvConf(f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	one := []netip.Addr{netip.MustParseAddr("192.0.2.9")}
	want := string(rc.Content(one, nil))
	if err := rc.Write(one, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil || string(b) != want {
		t.Fatalf("got %q, %v", b, err)
	}
}

// TestRoutesAwayFromOtherLinks: a route whose destination overlaps a
// subnet of another interface (a VPN's, say) is dropped; the rest of the
// request is applied.
func TestRoutesAwayFromOtherLinks(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500}, Link{Index: 3, Name: "wg0", MTU: 1420})
	k.links["wg0"].addrs = []Addr{{Prefix: netip.MustParsePrefix("10.8.0.2/24"), Permanent: true}}
	a := New(k, Config{})
	msg := "configure eth0\naddress 192.0.2.10/24\n" +
		"route 0.0.0.0/0 192.0.2.1\nroute 10.8.0.0/16 192.0.2.1\nroute 10.8.0.128/25 192.0.2.1\nroute 198.51.100.0/24 192.0.2.1\n" +
		"lifetime 600 600\n"
	if r := a.Do(mustCommand(t, msg)); r.Code != ifch.CodeOK {
		t.Fatal(r)
	}
	rs, err := k.Routes(Link{Index: 2, Name: "eth0"}, DefaultMetric)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Dst.String())
	}
	slices.Sort(got)
	if want := "0.0.0.0/0 198.51.100.0/24"; strings.Join(got, " ") != want {
		t.Fatalf("routes %v, want %s: the default route and the one away from wg0's 10.8.0.0/24", got, want)
	}
	if as, _ := k.Addrs(Link{Index: 2, Name: "eth0"}); len(as) != 1 {
		t.Errorf("addresses %v, want the lease's", as)
	}
}
