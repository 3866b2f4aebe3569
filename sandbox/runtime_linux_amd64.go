package sandbox

// archRuntime holds the runtime's amd64-only entries: none today. The
// vDSO functions Go calls on amd64 are __vdso_clock_gettime and
// __vdso_getrandom, whose fallbacks are in the common list.
func archRuntime() []Syscall { return nil }
