//go:build linux

package policies

import (
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// atFDCWD is AT_FDCWD as the kernel sees the 64-bit register.
const atFDCWD = uint64(1<<64 + unix.AT_FDCWD)

// Engine is the policy of the role that parses everything from the
// network: no capability, no socket(2) at all (sockd hands it sockets), no
// sendto, sendmsg or connect (it cannot name a destination: sockd
// transmits its broadcasts and ARP frames after checking them, and its UDP
// socket comes connected to the server), and its chroot is its interface's
// directory, where it may write its two files (lease and IAID) in place
// and create nothing.
func Engine() sandbox.Policy {
	return sandbox.Policy{
		Role:    "engine",
		User:    EngineUser,
		Group:   EngineUser,
		Chroot:  StateDir,
		Caps:    nil,
		Rlimits: commonRlimits(32, 1<<20),
		Umask:   0o077,
		Landlock: sandbox.Landlock{
			// The two files the supervisor created for it
			// (engine.StateFiles); nothing else, and no right to
			// create, rename or remove.
			RWFiles: []string{"/lease", "/iaid"},
		},
		Seccomp: sandbox.With(sandbox.RuntimeBase(),
			sandbox.Allow("recvfrom", "DHCP replies on the UDP socket sockd handed over"),
			sandbox.AllowIf("openat", "its lease and IAID files, by path only (no directory descriptors), never creating one (O_CREAT, O_TMPFILE)",
				[]sandbox.Cond{
					{Arg: 0, Op: sandbox.Eq, Value: atFDCWD, Label: "AT_FDCWD"},
					{Arg: 2, Op: sandbox.BitsClear, Value: unix.O_CREAT | unix.O_TMPFILE, Label: "O_CREAT|O_TMPFILE"},
				}),
			sandbox.AllowIf("getsockopt", "mdlayher/socket reads SO_TYPE when wrapping a handed-over socket; x/sys/unix reads SO_PROTOCOL to decode the sender of each UDP datagram",
				sockopt(unix.SOL_SOCKET, unix.SO_TYPE, "SO_TYPE"),
				sockopt(unix.SOL_SOCKET, unix.SO_PROTOCOL, "SO_PROTOCOL")),
			sandbox.Allow("fsync", "durable lease and IAID writes"),
			// A first run never reads these files (they do not exist yet),
			// so tracing first runs missed it: the lab's restart tests died
			// of SIGSYS (syscall 5) until it was back.
			sandbox.Allow("fstat", "os.ReadFile: size of the saved lease and the IAID file, on every restart"),
		),
		GoMaxProcs: roleMaxProcs,
	}
}
