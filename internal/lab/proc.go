package lab

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ParentPID returns the parent of process pid, read from /proc/PID/stat,
// or 0 if it cannot be read.
func ParentPID(pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
	b := string(raw)
	i := strings.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// ChildPIDs returns the processes whose parent is parent.
func ChildPIDs(parent int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && ParentPID(pid) == parent {
			out = append(out, pid)
		}
	}
	return out
}

// Argv0 returns the first argument of process pid's command line, or "".
func Argv0(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	a, _, _ := strings.Cut(string(b), "\x00")
	return a
}

// NdhcRole names the ndhc role process pid runs: sandbox.Spawn starts each
// role as "<program>-<role>", so "ndhc-engine" is the engine; anything else
// is the supervisor.
func NdhcRole(pid int) string {
	if r, ok := strings.CutPrefix(filepath.Base(Argv0(pid)), "ndhc-"); ok {
		return r
	}
	return "supervisor"
}
