//go:build linux

package dnsrole

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
)

type call struct {
	revert  bool
	ifindex int
	servers []netip.Addr
	domains []string
}

type fakeBackend struct {
	calls []call
	fail  bool
}

func (f *fakeBackend) SetLink(i int, s []netip.Addr, d []string) error {
	f.calls = append(f.calls, call{ifindex: i, servers: s, domains: d})
	if f.fail {
		return errors.New("refused")
	}
	return nil
}

func (f *fakeBackend) RevertLink(i int) error {
	f.calls = append(f.calls, call{revert: true, ifindex: i})
	return nil
}

func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	a, b, err := sandbox.SeqpacketPair()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sandbox.UnixConn(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := sandbox.UnixConn(b)
	if err != nil {
		t.Fatal(err)
	}
	return ca, cb
}

// TestServe: the client's requests reach the backend; a refusal comes
// back as an error; when ifch closes the channel, the links still set
// are reverted.
func TestServe(t *testing.T) {
	ifchEnd, roleEnd := pair(t)
	b := &fakeBackend{}
	done := make(chan error, 1)
	go func() { done <- Serve(roleEnd, b, slog.New(slog.DiscardHandler)) }()
	c := &Client{Conn: ifchEnd}
	srv := []netip.Addr{netip.MustParseAddr("10.0.0.53")}
	if err := c.SetLinkDNS(2, srv, []string{"lab.example"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLinkDNS(3, srv, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.RevertLink(3); err != nil {
		t.Fatal(err)
	}
	b.fail = true
	if err := c.SetLinkDNS(4, srv, nil); err == nil {
		t.Error("a backend refusal was not reported")
	}
	ifchEnd.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []call{
		{ifindex: 2, servers: srv, domains: []string{"lab.example"}},
		{ifindex: 3, servers: srv},
		{revert: true, ifindex: 3},
		{ifindex: 4, servers: srv},
		{revert: true, ifindex: 2}, // at exit: 2 is still set, 4 never was
	}
	eq := func(x, y call) bool {
		return x.revert == y.revert && x.ifindex == y.ifindex && slices.Equal(x.servers, y.servers) && slices.Equal(x.domains, y.domains)
	}
	if !slices.EqualFunc(b.calls, want, eq) {
		t.Errorf("backend calls %+v, want %+v", b.calls, want)
	}
}

// TestServeMalformed: a malformed message ends Serve with an error and
// reaches no backend.
func TestServeMalformed(t *testing.T) {
	ifchEnd, roleEnd := pair(t)
	b := &fakeBackend{}
	done := make(chan error, 1)
	go func() { done <- Serve(roleEnd, b, slog.New(slog.DiscardHandler)) }()
	if err := sandbox.Send(ifchEnd, []byte{OpSet, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a malformed request was served")
	}
	if len(b.calls) != 0 {
		t.Errorf("backend called: %+v", b.calls)
	}
}
