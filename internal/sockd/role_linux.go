//go:build linux

package sockd

import (
	"log/slog"
	"net"

	"github.com/ndhc-go/ndhc/internal/exitcode"
)

// Run is the role: it serves the engine on conn, for interface ifi, until
// the engine closes its channel (status 0) or breaks the protocol
// (status 1). The sandbox is already entered.
func Run(conn *net.UnixConn, ifi Interface, addrs *Addrs, log *slog.Logger) int {
	if err := Serve(conn, ifi, addrs, log); err != nil {
		log.Error("engine broke the socket protocol; exiting", "err", err)
		return exitcode.Failure
	}
	log.Info("engine closed its channel; exiting")
	return exitcode.OK
}
