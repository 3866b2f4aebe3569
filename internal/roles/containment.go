//go:build linux

package roles

import (
	"syscall"

	"github.com/ndhc-go/ndhc/sandbox"
)

// containment is the containment test build's hook (internal/containment,
// installed by containment_hook.go under the build tag containment). In
// every other build, release binaries included, its functions are nil and
// nothing below does anything.
var containment struct {
	// files are the descriptors the supervisor hands role besides its own.
	files func(role string) []sandbox.File
	// start runs in a role before its sandbox (it takes the descriptors
	// files handed); it returns what the role runs right after entering
	// its sandbox, with the descriptors it really holds.
	start func(in *sandbox.Inherited) func(ifindex int, ends map[string]syscall.Conn)
	// supervisor runs in the supervisor after it entered its sandbox.
	supervisor func(p sandbox.Policy)
}

// ContainmentFiles are the extra descriptors the containment test build
// hands role; none in any other build.
func ContainmentFiles(role string) []sandbox.File {
	if containment.files == nil {
		return nil
	}
	return containment.files(role)
}

// ContainmentSupervisor runs the containment test build's battery in the
// sandboxed supervisor; nothing in any other build.
func ContainmentSupervisor(p sandbox.Policy) {
	if containment.supervisor != nil {
		containment.supervisor(p)
	}
}

func containmentStart(in *sandbox.Inherited) func(int, map[string]syscall.Conn) {
	if containment.start == nil {
		return nil
	}
	return containment.start(in)
}
