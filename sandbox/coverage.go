package sandbox

import (
	"fmt"
	"strings"
)

// Linux socket constants, spelled out so that this file builds everywhere
// (the filters it evaluates are Linux filters wherever they are inspected).
const (
	afUnix       = 1
	afInet       = 2
	afInet6      = 10
	sockStream   = 1
	sockDgram    = 2
	sockSeqpack  = 5
	sockNonblock = 0x800
	sockCloexec  = 0x80000
)

// Coverage says which other layer refuses what a missing Landlock right
// would have refused, for the role p, by running p's compiled seccomp filter
// on the syscalls that would reach it. right is a name from
// Report.LandlockMissing (the " (ABI n)" suffix is ignored). The answer
// starts with "NOT COVERED" when no other layer stands in.
func Coverage(p *Policy, right string) string {
	right, _, _ = strings.Cut(right, " ")
	prog, _, err := CompileSeccomp(p)
	if err != nil {
		return "NOT COVERED: " + err.Error()
	}
	arch, err := AuditArch()
	if err != nil {
		return "NOT COVERED: " + err.Error()
	}
	denied := func(name string, args ...uint64) bool {
		n, ok := syscallNumber(name)
		if !ok {
			return true // the architecture has no such syscall
		}
		d := SeccompData{Nr: int32(n), Arch: arch}
		copy(d.Args[:], args)
		v, err := EvalSeccomp(prog, d)
		return err == nil && SeccompAction(v) != SeccompRetAllow
	}
	sockets := func(typ uint64) bool {
		for _, fam := range []uint64{afInet, afInet6} {
			for _, flags := range []uint64{0, sockCloexec, sockNonblock | sockCloexec} {
				if !denied("socket", fam, typ|flags, 0) {
					return false
				}
			}
		}
		return true
	}
	switch {
	case strings.HasPrefix(right, "fs.") && p.Chroot == "/":
		return "NOT COVERED by another layer: the role's root is the real one; only file permissions limit what it reaches"
	case strings.HasPrefix(right, "fs."):
		return fmt.Sprintf("chroot to %s: nothing else is reachable by path", p.Chroot)
	case right == "net.tcp":
		if sockets(sockStream) {
			return "seccomp: the role cannot create TCP sockets"
		}
	case right == "net.udp":
		if sockets(sockDgram) {
			return "seccomp: the role cannot create UDP sockets"
		}
		return "NOT COVERED by another layer: the role creates UDP sockets, and only its code limits what they bind"
	case right == "scope.signal":
		if denied("kill") && denied("tgkill") && denied("tkill") && denied("rt_sigqueueinfo") && denied("rt_tgsigqueueinfo") && denied("pidfd_send_signal") {
			return "seccomp: no signal syscalls"
		}
		if !hasCap(p, "CAP_KILL") {
			return "credentials: a uid of its own and no CAP_KILL, so it can signal only itself"
		}
	case right == "scope.abstract_unix":
		if denied("socket", afUnix, sockStream) && denied("socket", afUnix, sockDgram) &&
			denied("socket", afUnix, sockSeqpack) && denied("socket", afUnix, sockStream|sockCloexec) {
			return "seccomp: the role cannot create UNIX sockets"
		}
	}
	return "NOT COVERED by another layer"
}

func hasCap(p *Policy, c string) bool {
	for _, have := range p.Caps {
		if have == c {
			return true
		}
	}
	return false
}
