//go:build linux

package probe

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/sandbox"
)

// RuntimeStress is a control every role can run: it drives the Go
// runtime's conditional paths that a short trace of a daemon may never
// show: threads created and thrown away,
// memory allocated and returned to the kernel (GC, scavenger), timers and
// tickers, asynchronous preemption of tight loops (SIGURG through
// tgkill), stop-the-world changes of GOMAXPROCS, the clocks, and
// [sandbox.Trim].
func RuntimeStress() Action {
	return Action{
		Name: "control: the Go runtime under stress (threads, GC, timers, preemption)", Allowed: true,
		Do: func(any) error {
			var wg sync.WaitGroup
			// New OS threads, and threads that exit with their locked
			// goroutine.
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread()
					time.Sleep(2 * time.Millisecond)
				}()
			}
			// Tight loops that only asynchronous preemption can interrupt.
			stop := time.Now().Add(25 * time.Millisecond)
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n := 0
					for time.Now().Before(stop) {
						n++
					}
					_ = n
				}()
			}
			// Memory pressure: allocate, collect, return to the kernel.
			var keep [][]byte
			for i := range 16 {
				b := make([]byte, 256<<10)
				b[i] = 1
				if i%8 == 0 {
					keep = append(keep, b)
				}
			}
			runtime.GC()
			runtime.KeepAlive(keep) // live through one collection, then freed
			debug.FreeOSMemory()
			// What a role does once quiet: the heap and the program's
			// read-only pages go back; what follows runs on re-faulted
			// text. On a 64-bit build the image must have been found.
			if n := sandbox.Trim(); n == 0 && strconv.IntSize == 64 {
				return errors.New("sandbox.Trim found no read-only segment to give back")
			}
			old := debug.SetGCPercent(10)
			for range 8 {
				_ = make([]byte, 512<<10)
			}
			debug.SetGCPercent(old)
			// Timers, tickers and sleeps.
			fired := make(chan struct{})
			time.AfterFunc(time.Millisecond, func() { close(fired) })
			<-fired
			tk := time.NewTicker(time.Millisecond)
			for range 5 {
				<-tk.C
			}
			tk.Stop()
			// Stop the world.
			n := runtime.GOMAXPROCS(1)
			runtime.Gosched()
			runtime.GOMAXPROCS(n)
			wg.Wait()
			return nil
		},
	}
}
