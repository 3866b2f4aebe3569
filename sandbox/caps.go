package sandbox

import (
	"fmt"
	"slices"
	"strings"
)

// capNames lists the Linux capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

var capByName = func() map[string]uint {
	m := make(map[string]uint, len(capNames))
	for i, n := range capNames {
		m[n] = uint(i)
	}
	return m
}()

// CapMask returns the 64-bit capability mask of the named capabilities, in
// the form /proc/PID/status prints.
func CapMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, ok := capByName[n]
		if !ok {
			return 0, fmt.Errorf("sandbox: unknown capability %q", n)
		}
		m |= 1 << c
	}
	return m, nil
}

// CapNames returns the names of the capabilities set in mask, in number
// order; bits beyond the known list are shown as "cap_N".
func CapNames(mask uint64) []string {
	var out []string
	for i := range 64 {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(capNames) {
			out = append(out, capNames[i])
		} else {
			out = append(out, fmt.Sprintf("cap_%d", i))
		}
	}
	return out
}

// FormatCaps renders a mask as a short human list: "none", or the names in
// lower case without the prefix ("net_raw,net_bind_service").
func FormatCaps(mask uint64) string {
	names := CapNames(mask)
	if len(names) == 0 {
		return "none"
	}
	for i, n := range names {
		names[i] = strings.ToLower(strings.TrimPrefix(n, "CAP_"))
	}
	return strings.Join(names, ",")
}

// rlimitByName maps the names a Policy uses to RLIMIT_* numbers
// (asm-generic/resource.h, the same on every Linux architecture Go supports
// except for a few legacy ones, which this package does not target).
var rlimitByName = map[string]int{
	"CPU": 0, "FSIZE": 1, "DATA": 2, "STACK": 3, "CORE": 4, "RSS": 5,
	"NPROC": 6, "NOFILE": 7, "MEMLOCK": 8, "AS": 9, "LOCKS": 10,
	"SIGPENDING": 11, "MSGQUEUE": 12, "NICE": 13, "RTPRIO": 14, "RTTIME": 15,
}

// RlimitNames lists the resource names a Policy may use, sorted.
func RlimitNames() []string {
	names := make([]string, 0, len(rlimitByName))
	for n := range rlimitByName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
