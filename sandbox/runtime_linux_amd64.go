package sandbox

import "golang.org/x/sys/unix"

// runtime/sys_linux_amd64.s adds CLONE_SETTLS to the thread clone flags.
const (
	archCloneFlags = unix.CLONE_SETTLS
	archCloneLabel = "|CLONE_SETTLS"
)

// archRuntime holds the runtime's amd64-only entries: none today. The
// vDSO functions Go calls on amd64 are __vdso_clock_gettime and
// __vdso_getrandom, whose fallbacks are in the common list.
func archRuntime() []Syscall { return nil }
