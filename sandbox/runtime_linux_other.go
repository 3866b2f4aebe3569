//go:build linux && !amd64 && !arm64

package sandbox

const (
	archCloneFlags = 0
	archCloneLabel = ""
)

// archRuntime: the allowlists are measured on amd64 and arm64 only. On any
// other architecture the common list is all there is, and a policy naming
// a system call the architecture lacks fails Validate.
func archRuntime() []Syscall { return nil }
