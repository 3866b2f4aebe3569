//go:build linux

package sandbox

import (
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Trim gives back to the kernel the memory a long-lived process touched
// while starting and no longer uses:
//
//   - the heap's free pages. The runtime's background scavenger keeps the
//     heap's free pages up to about 10% above its goal, and the goal is
//     never below 4 MiB, so a small daemon keeps everything its start-up
//     ever allocated; [debug.FreeOSMemory] collects and returns it all.
//   - the mapped pages of its program's read-only segments (text, rodata,
//     pclntab). Start-up touches most of them and the kernel maps the
//     neighbours of each touched page (fault-around), so every process of
//     a 6 MB binary maps nearly all of it. madvise(MADV_DONTNEED) unmaps
//     them: the pages stay in the page cache, nothing is lost, and the
//     ones the process uses again are mapped again on their next touch.
//
// Both use only madvise(MADV_DONTNEED) and the runtime's own calls, which
// every allowlist built on [RuntimeBase] holds, so a role can call Trim
// inside its sandbox. It returns the bytes of read-only image it unmapped
// (0 where the program headers could not be read).
func Trim() int {
	debug.FreeOSMemory()
	return dropImage()
}

// trimmer is the process's quiet-period trim, once [TrimWhenQuiet] has
// started it.
var trimmer struct {
	mu    sync.Mutex
	quiet time.Duration
	t     *time.Timer
	runs  int
}

// TrimWhenQuiet makes the process [Trim] itself once it has been quiet
// for the given time: after this call, and then after the last [Busy]
// each time. An idle process is not woken: the timer is one-shot and only
// Busy re-arms it. Calling it again changes the period.
func TrimWhenQuiet(quiet time.Duration) {
	if quiet <= 0 {
		return
	}
	trimmer.mu.Lock()
	trimmer.quiet = quiet
	trimmer.mu.Unlock()
	Busy()
}

// Busy says the process is at work (a message arrived, a state changed):
// the trim [TrimWhenQuiet] arranged waits for a new quiet period. Without
// TrimWhenQuiet it does nothing. [Recv] and its siblings call it.
func Busy() {
	trimmer.mu.Lock()
	defer trimmer.mu.Unlock()
	if trimmer.quiet <= 0 {
		return
	}
	if trimmer.t == nil {
		trimmer.t = time.AfterFunc(trimmer.quiet, trimNow)
		return
	}
	trimmer.t.Reset(trimmer.quiet)
}

// Trims reports how many times the quiet-period trim has run.
func Trims() int {
	trimmer.mu.Lock()
	defer trimmer.mu.Unlock()
	return trimmer.runs
}

func trimNow() {
	Trim()
	trimmer.mu.Lock()
	trimmer.runs++
	trimmer.mu.Unlock()
}

// elf64Phdr is an ELF64 program header (the layout is the same on every
// 64-bit Linux architecture; ELF32 is not handled and dropImage does
// nothing there).
type elf64Phdr struct {
	Type   uint32
	Flags  uint32
	Off    uint64
	Vaddr  uint64
	Paddr  uint64
	Filesz uint64
	Memsz  uint64
	Align  uint64
}

const (
	atPhdr  = 3 // auxiliary vector: AT_PHDR, AT_PHENT, AT_PHNUM
	atPhent = 4
	atPhnum = 5
	ptLoad  = 1
	ptPhdr  = 6
	pfW     = 2
)

// imageSegments returns the address ranges of the running program's
// loadable segments that are not writable, read from its program headers
// in memory (the auxiliary vector's AT_PHDR), so no file is opened.
func imageSegments() [][2]uintptr {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return nil
	}
	auxv, err := unix.Auxv()
	if err != nil {
		return nil
	}
	var phdr, phent, phnum uintptr
	for _, kv := range auxv {
		switch kv[0] {
		case atPhdr:
			phdr = kv[1]
		case atPhent:
			phent = kv[1]
		case atPhnum:
			phnum = kv[1]
		}
	}
	if phdr == 0 || phent != unsafe.Sizeof(elf64Phdr{}) || phnum == 0 || phnum > 64 {
		return nil
	}
	// The headers lie in the program's own image, outside the Go heap;
	// the address comes from the kernel, hence the indirect conversion.
	hdrs := unsafe.Slice((*elf64Phdr)(*(*unsafe.Pointer)(unsafe.Pointer(&phdr))), phnum)
	// The load bias: zero for a fixed-address executable, the base of a
	// position-independent one. PT_PHDR says where the headers were meant
	// to be; without it the bias is unknown and nothing is dropped.
	var bias uintptr
	found := false
	for _, h := range hdrs {
		if h.Type == ptPhdr {
			bias = phdr - uintptr(h.Vaddr)
			found = true
		}
	}
	if !found {
		return nil
	}
	page := uintptr(unix.Getpagesize())
	var out [][2]uintptr
	for _, h := range hdrs {
		if h.Type != ptLoad || h.Flags&pfW != 0 || h.Filesz == 0 {
			continue
		}
		// Only the file-backed part: the segment's pages beyond Filesz
		// would be anonymous zero pages (none in a read-only segment in
		// practice, but never drop what the file cannot give back).
		start := (bias + uintptr(h.Vaddr) + page - 1) &^ (page - 1)
		end := (bias + uintptr(h.Vaddr) + uintptr(h.Filesz)) &^ (page - 1)
		if end > start {
			out = append(out, [2]uintptr{start, end})
		}
	}
	return out
}

// dropImage unmaps the pages of the program's read-only segments and
// returns how many bytes it covered.
func dropImage() int {
	n := 0
	for _, s := range imageSegments() {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, s[0], s[1]-s[0], unix.MADV_DONTNEED); e == 0 {
			n += int(s[1] - s[0])
		}
	}
	return n
}
