// Package fuzz holds the cross-package and differential fuzz harnesses of
// ndhc, in its test files: the DHCP decoder of package dhcp against
// github.com/insomniacslk/dhcp/dhcpv4 (every disagreement is either a bug or
// a named, reasoned entry of an allowlist), and benchmarks that measure both
// on the same packets in the same run. Its seeds run as unit tests under a
// plain go test; each harness is also a native fuzz target.
package fuzz
