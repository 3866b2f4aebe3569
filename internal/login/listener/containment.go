//go:build linux

package listener

import "github.com/ndhc-go/ndhc/sandbox"

// containmentNetFiles is the containment test build's hook
// (internal/login/logincontainment, installed by containment_hook.go under
// the build tag containment): the descriptors the listener hands each
// [net] besides its own, which carry the attack the harness selected for
// that connection and the channel for the battery's records. [net]'s
// environment is Spawn's alone and its configuration is decoded strictly,
// so neither can carry them. Nil in every other build, release binaries
// included: nothing more is handed.
var containmentNetFiles func() []sandbox.File

func containmentFiles() []sandbox.File {
	if containmentNetFiles == nil {
		return nil
	}
	return containmentNetFiles()
}
