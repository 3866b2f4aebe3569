package sandbox

// runtime/sys_linux_arm64.s passes the thread clone flags as they are.
const (
	archCloneFlags = 0
	archCloneLabel = ""
)

// archRuntime holds the runtime's arm64-only entries: none today. The
// vDSO functions Go calls on arm64 are __kernel_clock_gettime and
// __kernel_getrandom, whose fallbacks are in the common list.
func archRuntime() []Syscall { return nil }
