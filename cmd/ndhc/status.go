package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// statusCmd is `ndhc status -i IFACE [--json]`: the saved lease, read and
// validated with the same strict parser the engine uses.
func statusCmd(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ndhc status", flag.ContinueOnError)
	var iface, stateDir string
	fs.StringVar(&iface, "interface", "", "interface (also -i)")
	fs.StringVar(&iface, "i", "", "short for --interface")
	fs.StringVar(&stateDir, "state-dir", policies.StateDir, "state directory")
	asJSON := fs.Bool("json", false, "print the lease as JSON")
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if iface == "" || strings.ContainsAny(iface, "/.") {
		fmt.Fprintln(os.Stderr, "ndhc status: give the interface with -i IFACE")
		return exitcode.Usage
	}
	b, err := os.ReadFile(filepath.Join(stateDir, engine.LeaseFile(iface)))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "%s: no lease\n", iface)
		return exitcode.Failure
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc status:", err)
		return exitcode.Failure
	}
	l, err := dhcpclient.ParseLease(b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc status: malformed lease file:", err)
		return exitcode.Failure
	}
	if *asJSON {
		j, _ := l.MarshalJSON()
		var pretty any
		json.Unmarshal(j, &pretty)
		sandbox.WriteJSON(out, pretty)
		return exitcode.OK
	}
	printLease(out, iface, l, time.Now())
	return exitcode.OK
}

func printLease(out io.Writer, iface string, l *dhcpclient.Lease, now time.Time) {
	fmt.Fprintf(out, "%s: %s from server %s\n", iface, l.Addr, l.ServerID)
	if gw := l.Gateway(); gw.IsValid() {
		fmt.Fprintf(out, "  gateway     %s\n", gw)
	}
	for _, r := range l.Routes {
		fmt.Fprintf(out, "  route       %s via %s\n", r.Dst, r.Gateway)
	}
	if len(l.DNS) > 0 {
		fmt.Fprintf(out, "  dns         %s\n", joinAddrs(l.DNS))
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

func joinAddrs[T fmt.Stringer](xs []T) string {
	var s []string
	for _, x := range xs {
		s = append(s, x.String())
	}
	return strings.Join(s, " ")
}
