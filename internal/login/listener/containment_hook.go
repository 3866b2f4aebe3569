//go:build linux && containment

package listener

import "github.com/ndhc-go/ndhc/internal/login/logincontainment"

// The containment test build: each [net] gets the harness's selection and
// the records channel. Never in a release binary (internal/deptest).
func init() {
	containmentNetFiles = logincontainment.NetFiles
}
