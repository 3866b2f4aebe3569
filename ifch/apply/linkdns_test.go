package apply

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/ndhc-go/ndhc/ifch"
)

type recordingLinkDNS struct {
	calls []string
	fail  bool
}

func (r *recordingLinkDNS) SetLinkDNS(i int, s []netip.Addr, d []string) error {
	r.calls = append(r.calls, fmt.Sprintf("set %d %v %v", i, s, d))
	if r.fail {
		return errors.New("refused")
	}
	return nil
}

func (r *recordingLinkDNS) RevertLink(i int) error {
	r.calls = append(r.calls, fmt.Sprintf("revert %d", i))
	return nil
}

// TestLinkDNS: with a LinkDNS, each link's servers and search list go to
// it under the link's index, once per change; a deconfigure reverts the
// link; a refusal is an apply error and is sent again next time.
func TestLinkDNS(t *testing.T) {
	k := newFakeKernel(Link{Index: 2, Name: "eth0", MTU: 1500, Up: true, Running: true})
	rd := &recordingLinkDNS{}
	a := New(k, Config{LinkDNS: rd})
	do := func(msg string) error {
		switch c := mustCommand(t, msg).(type) {
		case *ifch.Configure:
			return a.Configure(c)
		case *ifch.Deconfigure:
			return a.Deconfigure(c.Interface)
		}
		t.Fatalf("unexpected command %q", msg)
		return nil
	}
	if err := do(cfgA); err != nil {
		t.Fatal(err)
	}
	if err := do(cfgNewRouter); err != nil { // same DNS data: nothing sent
		t.Fatal(err)
	}
	if err := do("deconfigure eth0\n"); err != nil {
		t.Fatal(err)
	}
	rd.fail = true
	if err := do(cfgA); !errors.Is(err, ifch.ErrApply) {
		t.Errorf("refused LinkDNS: %v, want ErrApply", err)
	}
	rd.fail = false
	if err := do(cfgA); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"set 2 [192.0.2.53] [example.com]",
		"revert 2",
		"set 2 [192.0.2.53] [example.com]",
		"set 2 [192.0.2.53] [example.com]",
	}
	if !slices.Equal(rd.calls, want) {
		t.Errorf("calls %q, want %q", rd.calls, want)
	}
}
