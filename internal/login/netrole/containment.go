//go:build linux

package netrole

import (
	"net"

	"github.com/ndhc-go/ndhc/sandbox"
)

// containment is the containment test build's hook
// (internal/login/logincontainment, installed by containment_hook.go under
// the build tag containment). In every other build, release binaries
// included, it is nil and containmentStart's function does nothing.
//
// It runs before the sandbox (it takes the descriptors the listener's
// containment hook handed, which Ready would otherwise close) and returns
// what [net] runs right after entering its sandbox, with the descriptors
// it really holds: the client socket, the channel to [session] and the
// control channel to the listener.
var containment func(in *sandbox.Inherited) func(client, session net.Conn, ctl *net.UnixConn)

func containmentStart(in *sandbox.Inherited) func(client, session net.Conn, ctl *net.UnixConn) {
	if containment == nil {
		return func(net.Conn, net.Conn, *net.UnixConn) {}
	}
	return containment(in)
}
