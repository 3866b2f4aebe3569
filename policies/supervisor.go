//go:build linux

package policies

import (
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Supervisor is the policy the supervisor enters once every role runs: it
// keeps no capability and no filesystem access, relays control messages
// between the roles and its signal handlers, and waits for its children.
func Supervisor() sandbox.Policy {
	return sandbox.Policy{
		Role:   "supervisor",
		User:   SupervisorUser,
		Group:  SupervisorUser,
		Chroot: EmptyDir,
		Caps:   nil,
		// NOFILE 64: per role a control channel and a log pipe, the
		// instance lock, the kernel log, the event stream, the poller,
		// and during Enter one /proc status file per thread and the
		// Landlock ruleset; 32 ran out with the hostname role. The
		// control socket adds its listener and up to
		// internal/control.MaxConns (8) connections: still under 64.
		// FSIZE unlimited: the supervisor opens no file (its allowlist
		// has no open); what it writes goes to its stderr and --event-fd,
		// which may be a log file already past any useful limit (2>>file,
		// systemd's StandardError=append:). The roles log through it.
		Rlimits: commonRlimits(64, sandbox.Unlimited),
		Umask:   0o077,
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.Allow("waitid", "os/exec: waiting for the spawned roles (P_PIDFD)"),
			sandbox.Allow("pidfd_send_signal", "os: SIGKILL to a spawned role at shutdown"),
			// The control socket (internal/control), listening since
			// before the sandbox: accepting peers and reading who they
			// are. Nothing else of the socket API is added.
			sandbox.AllowIf("accept4", "control socket: peers on the listener opened before the sandbox (flags as Go's net package passes them)",
				sandbox.Arg(3, sandbox.Eq, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, "SOCK_CLOEXEC|SOCK_NONBLOCK")),
			sandbox.Allow("getsockname", "control socket: net.Accept reads the accepted connection's local address"),
			sandbox.AllowIf("getsockopt", "control socket: SO_PEERCRED and SO_PEERGROUPS of each accepted peer, for the authorisation",
				[]sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: unix.SOL_SOCKET, Label: "SOL_SOCKET"}, {Arg: 2, Op: sandbox.Eq, Value: unix.SO_PEERCRED, Label: "SO_PEERCRED"}},
				[]sandbox.Cond{{Arg: 1, Op: sandbox.Eq, Value: unix.SOL_SOCKET, Label: "SOL_SOCKET"}, {Arg: 2, Op: sandbox.Eq, Value: 59, Label: "SO_PEERGROUPS"}}),
		),
		GoMaxProcs: roleMaxProcs,
	}
}
