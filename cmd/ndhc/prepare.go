package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
)

// prepareCmd is `ndhc prepare -i IFACE [client flags]`: it makes the state
// directory and the empty directory ready for a client on IFACE (creates
// them, gives the engine's files to its user, takes back an older layout)
// and exits. A client started afterwards on a ready directory changes no
// owner and no mode, so it needs neither CAP_CHOWN, CAP_FOWNER nor
// CAP_DAC_READ_SEARCH: the systemd unit runs this command with full
// privileges (ExecStartPre=+) and leaves those capabilities out of the
// client's bounding set. It takes the same flags as the client, so that a
// unit passes both the same arguments; the ones prepare has no use for
// are ignored.
func prepareCmd(args []string) int {
	c := newClientFlags()
	if err := c.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		fmt.Fprintf(os.Stderr, "ndhc prepare: %v\n", err)
		return exitcode.Usage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ndhc prepare: must run as root: it gives the engine's files to the engine's user")
		return exitcode.Usage
	}
	if !roles.ValidInterfaceName(c.iface) {
		fmt.Fprintf(os.Stderr, "ndhc prepare: %q cannot be an interface name\n", c.iface)
		return exitcode.Usage
	}
	in, err := c.roles.settings.PrepareInstance(c.iface)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc prepare: %v\n", err)
		return exitcode.Failure
	}
	if err := in.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "ndhc prepare: %v\n", err)
		return exitcode.Failure
	}
	return exitcode.OK
}
