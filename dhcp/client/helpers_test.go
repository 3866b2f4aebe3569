package client

import (
	"testing"

	"github.com/ndhc-go/ndhc/dhcp"
)

// mustName, mustHost and mustSet are copies of the helpers of the same
// names in package dhcp's tests.

func mustName(t testing.TB, s string) dhcp.DomainName {
	t.Helper()
	n, err := dhcp.ParseDomainName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustHost(t testing.TB, s string) dhcp.Hostname {
	t.Helper()
	h, err := dhcp.ParseHostname(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustSet(t testing.TB, o *dhcp.Options, code dhcp.OptionCode, v []byte) {
	t.Helper()
	if err := o.Set(code, v); err != nil {
		t.Fatal(err)
	}
}
