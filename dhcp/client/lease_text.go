package client

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the lease of interface iface for people, as
// `ndhc status` shows it: address, server, gateway, routes, DNS, names,
// MTU and the lease's times relative to now.
func (l *Lease) WriteText(out io.Writer, iface string, now time.Time) {
	fmt.Fprintf(out, "%s: %s from server %s\n", iface, l.Addr, l.ServerID)
	if gw := l.Gateway(); gw.IsValid() {
		fmt.Fprintf(out, "  gateway     %s\n", gw)
	}
	for _, r := range l.Routes {
		fmt.Fprintf(out, "  route       %s via %s\n", r.Dst, r.Gateway)
	}
	if len(l.DNS) > 0 {
		fmt.Fprintf(out, "  dns         %s\n", strings.ReplaceAll(joinAddrs(l.DNS), ",", " "))
	}
	if !l.Domain.IsZero() {
		fmt.Fprintf(out, "  domain      %q\n", l.Domain.String())
	}
	for _, s := range l.Search {
		fmt.Fprintf(out, "  search      %q\n", s.String())
	}
	if l.MTU != 0 {
		fmt.Fprintf(out, "  mtu         %d\n", l.MTU)
	}
	if l.Infinite() {
		fmt.Fprintf(out, "  lease       infinite (acquired %s)\n", l.Acquired.Format(time.RFC3339))
		return
	}
	fmt.Fprintf(out, "  lease       %s, acquired %s, expires %s", l.LeaseTime, l.Acquired.Format(time.RFC3339), l.Expiry().Format(time.RFC3339))
	if l.Expired(now) {
		fmt.Fprintf(out, " (expired)\n")
	} else {
		fmt.Fprintf(out, " (%s left)\n", l.Remaining(now).Truncate(time.Second))
	}
	fmt.Fprintf(out, "  renew (T1)  %s\n  rebind (T2) %s\n", l.RenewAt().Format(time.RFC3339), l.RebindAt().Format(time.RFC3339))
}
