//go:build !cgo

package main

import (
	"fmt"
	"os"

	"github.com/ndhc-go/ndhc/internal/version"
)

// Without cgo there is no PAM: the binary says so instead of not building,
// so that CGO_ENABLED=0 go build ./... still covers the rest.
func main() {
	if len(os.Args) == 2 && version.IsFlag(os.Args[1]) {
		fmt.Println(version.Get("netlogind-session"))
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "netlogind-session: built without cgo; PAM needs CGO_ENABLED=1")
	os.Exit(1)
}
