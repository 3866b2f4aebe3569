//go:build !cgo

package main

import (
	"fmt"
	"os"
)

// Without cgo there is no PAM: the binary says so instead of not building,
// so that CGO_ENABLED=0 go build ./... still covers the rest.
func main() {
	fmt.Fprintln(os.Stderr, "netlogind-session: built without cgo; PAM needs CGO_ENABLED=1")
	os.Exit(1)
}
