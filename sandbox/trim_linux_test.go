//go:build linux

package sandbox

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// imageRSS sums, from /proc/self/smaps, the resident kB of the test
// binary's mappings that are not writable, and returns the address
// ranges of those mappings.
func imageRSS(t *testing.T) (int, [][2]uintptr) {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	var ranges [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && strings.Contains(fs[0], "-") && len(fs[1]) == 4 {
			in = len(fs) >= 6 && fs[5] == exe && fs[1][1] != 'w'
			if in {
				lo, hi, _ := strings.Cut(fs[0], "-")
				a, _ := strconv.ParseUint(lo, 16, 64)
				b, _ := strconv.ParseUint(hi, 16, 64)
				ranges = append(ranges, [2]uintptr{uintptr(a), uintptr(b)})
			}
			continue
		}
		if in && len(fs) >= 2 && fs[0] == "Rss:" {
			n, _ := strconv.Atoi(fs[1])
			total += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total, ranges
}

// TestImageSegments checks that the segments read from the program
// headers in memory are the read-only mappings of the executable that
// the kernel shows, and that Trim unmaps their pages (which the process
// then maps again as it runs on).
func TestImageSegments(t *testing.T) {
	segs := imageSegments()
	if len(segs) == 0 {
		t.Fatal("no read-only segment found from AT_PHDR")
	}
	before, maps := imageRSS(t)
	for _, s := range segs {
		inside := false
		for _, m := range maps {
			if s[0] >= m[0] && s[1] <= m[1] {
				inside = true
			}
		}
		if !inside {
			t.Errorf("segment %#x-%#x is not within a read-only mapping of the executable %x", s[0], s[1], maps)
		}
	}
	if before < 256 {
		t.Fatalf("only %d kB of the image resident before the trim: nothing to measure", before)
	}
	n := Trim()
	after, _ := imageRSS(t)
	t.Logf("image resident: %d kB before, %d kB after giving back %d kB", before, after, n>>10)
	if n == 0 {
		t.Fatal("Trim gave back nothing")
	}
	if after > before/2 {
		t.Errorf("image resident %d kB after the trim, %d kB before: want at most half", after, before)
	}
}

// TestTrimWhenQuiet checks the quiet-period trim: it runs once after the
// period, is not repeated while the process stays idle, and runs again
// after Busy.
func TestTrimWhenQuiet(t *testing.T) {
	defer func() {
		trimmer.mu.Lock()
		trimmer.quiet = 0
		trimmer.mu.Unlock()
	}()
	const quiet = 20 * time.Millisecond
	waitFor := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); Trims() < want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d trims after 10 s, want %d", Trims(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := Trims()
	TrimWhenQuiet(quiet)
	waitFor(first + 1)
	// Idle: the one-shot timer must not fire again.
	time.Sleep(10 * quiet)
	if got := Trims(); got != first+1 {
		t.Fatalf("%d trims while idle, want %d: the trim must not repeat by itself", got, first+1)
	}
	Busy()
	waitFor(first + 2)
}
