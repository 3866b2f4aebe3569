//go:build linux && memaccount

package roles

import (
	"os"
	"time"

	"github.com/ndhc-go/ndhc/internal/memaccount"
	"github.com/ndhc-go/ndhc/sandbox"
)

// In the memory-account build (build tag memaccount, never released) every
// process of the binary writes its runtime's memory account to stderr
// after each quiet-period trim, for tools/startprobe -memaccount. It looks
// for a new trim every 50 ms for two minutes, then stops: the wake-ups are
// this build's alone.
func init() {
	go func() {
		seen := 0
		for range 2 * 60 * 20 {
			time.Sleep(50 * time.Millisecond)
			if n := sandbox.Trims(); n != seen {
				seen = n
				os.Stderr.WriteString(memaccount.Line() + "\n")
			}
		}
	}()
}
