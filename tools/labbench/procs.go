package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ndhc-go/ndhc/internal/lab"
)

// procStats is what a bound client costs: its processes, the sum of
// their PSS and how many of them hold uid 0.
type procStats struct {
	Processes int `json:"processes"`
	PSSkB     int `json:"pss_kb"`
	Root      int `json:"root_processes"`
}

// clientProcs returns the client's processes: the started process and
// all its descendants, plus every process in the client's network
// namespace (a daemon that forked away from its parent, as dhcpcd's
// privsep helpers may, is still in the namespace it was started in; only
// the client runs there).
func clientProcs(ns *lab.NS, root int) []int {
	set := map[int]bool{}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err == nil {
		set[root] = true
	}
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range lab.ChildPIDs(queue[0]) {
			if !set[c] {
				set[c] = true
				queue = append(queue, c)
			}
		}
	}
	if pids, err := ns.Pids(); err == nil {
		for _, p := range pids {
			set[p] = true
		}
	}
	var out []int
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// measureProcs sums PSS (/proc/PID/smaps_rollup) and counts processes
// with uid 0 as their real, effective or saved user id (any of them lets
// the process act as root again).
func measureProcs(pids []int) procStats {
	var s procStats
	for _, pid := range pids {
		pss, ok := smapsPSS(pid)
		if !ok {
			continue // exited meanwhile
		}
		s.Processes++
		s.PSSkB += pss
		if hasRootUID(pid) {
			s.Root++
		}
	}
	return s
}

func smapsPSS(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Pss:" {
			n, err := strconv.Atoi(f[1])
			return n, err == nil
		}
	}
	// A zombie or kernel thread has an empty rollup.
	return 0, true
}

func hasRootUID(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			for _, u := range f[:min(3, len(f))] {
				if u == "0" {
					return true
				}
			}
			return false
		}
	}
	return false
}

// procNames describes each process for the details output.
func procNames(pids []int) []string {
	var out []string
	for _, p := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		name := strings.TrimSpace(string(comm))
		if strings.HasPrefix(filepath.Base(lab.Argv0(p)), "ndhc") {
			name = "ndhc:" + lab.NdhcRole(p)
		}
		pss, _ := smapsPSS(p)
		root := ""
		if hasRootUID(p) {
			root = ",root"
		}
		out = append(out, fmt.Sprintf("%s(%dkB%s)", name, pss, root))
	}
	return out
}
