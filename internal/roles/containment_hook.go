//go:build linux && containment

package roles

import containmentpkg "github.com/ndhc-go/ndhc/internal/containment"

// The containment test build: every role runs the attack battery of
// internal/containment right after entering its sandbox. Never in a
// release binary (internal/deptest checks the release graph).
func init() {
	containment.files = containmentpkg.Files
	containment.start = containmentpkg.Start
	containment.supervisor = containmentpkg.Supervisor
}
