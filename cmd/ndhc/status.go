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
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if iface == "" || strings.ContainsAny(iface, "/.") {
		fmt.Fprintln(os.Stderr, "ndhc status: give the interface with -i IFACE")
		return exitcode.Usage
	}
	path := filepath.Join(stateDir, iface, engine.LeaseFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		fmt.Fprintf(out, "%s: no lease\n", iface)
		return exitcode.Failure
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc status:", err)
		return exitcode.Failure
	}
	l, err := dhcpclient.ParseLease(b)
	if err != nil {
		// The engine rewrites the file in place: a read in the middle
		// of a write sees part of it. Once more, after the write.
		time.Sleep(50 * time.Millisecond)
		if b, err = os.ReadFile(path); err == nil {
			l, err = dhcpclient.ParseLease(b)
		}
	}
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
	l.WriteText(out, iface, time.Now())
	return exitcode.OK
}
