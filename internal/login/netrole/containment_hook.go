//go:build linux && containment

package netrole

import "github.com/ndhc-go/ndhc/internal/login/logincontainment"

// The containment test build: [net] runs the attack battery of
// internal/login/logincontainment right after entering its sandbox. Never
// in a release binary (internal/deptest checks the release graph).
func init() {
	containment = logincontainment.Start
}
