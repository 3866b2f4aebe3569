package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	dhcpclient "github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
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
	if !roles.ValidInterfaceName(iface) {
		fmt.Fprintln(os.Stderr, "ndhc status: give the interface with -i IFACE (a Linux interface name)")
		return exitcode.Usage
	}
	running := clientRunning(stateDir, iface)
	path := filepath.Join(stateDir, iface, engine.LeaseFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		if *asJSON {
			sandbox.WriteJSON(out, statusJSON{Interface: iface, Running: running})
		} else {
			fmt.Fprintf(out, "%s: no lease%s\n", iface, runningText(running))
		}
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
		sandbox.WriteJSON(out, statusJSON{Interface: iface, Running: running, Lease: j})
		return exitcode.OK
	}
	l.WriteText(out, iface, time.Now())
	if t := runningText(running); t != "" {
		fmt.Fprintf(out, "client:%s\n", t)
	}
	return exitcode.OK
}

// statusJSON is what `ndhc status --json` prints, lease or not.
type statusJSON struct {
	Interface string `json:"interface"`
	// Running says whether an ndhc holds the interface's lock; null when
	// this user cannot tell (the lock file is root's).
	Running *bool `json:"running"`
	// Lease is the saved lease, null when there is none.
	Lease json.RawMessage `json:"lease"`
}

// clientRunning reports whether an ndhc serves iface: it holds the
// interface's lock in the state directory (roles.PrepareInstance). Nil
// when the lock cannot be read (not root, no state directory).
func clientRunning(stateDir, iface string) *bool {
	f, err := os.Open(filepath.Join(stateDir, iface+".lock"))
	if errors.Is(err, os.ErrNotExist) {
		no := false
		return &no
	}
	if err != nil {
		return nil
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
	}
	held := errors.Is(err, unix.EWOULDBLOCK)
	if err != nil && !held {
		return nil
	}
	return &held
}

func runningText(running *bool) string {
	switch {
	case running == nil:
		return ""
	case *running:
		return " (an ndhc is running on it)"
	}
	return " (no ndhc is running on it)"
}
