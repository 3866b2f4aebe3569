//go:build linux

package policies

import (
	"strconv"

	"github.com/ndhc-go/ndhc/sandbox"
)

// NetloginNetUIDs is the default range of uids netlogind gives its [net]
// processes, one uid per connection, so that no two connections share a
// thread budget, a signal scope or a ptrace relation.
const (
	NetloginNetUIDFirst = 62000
	NetloginNetUIDLast  = 62999
	NetloginEmptyDir    = "/run/netlogind/empty"
)

// netThreads is a [net]'s thread budget. Its uid is its own, so the budget
// is not shared: a [net] uses 5 to 7 threads.
const netThreads = 32

// netData bounds a [net]'s private writable memory (RLIMIT_DATA), a
// brake as for ndhc's roles (roleData says why it is not a bound). A [net]
// holds one TLS connection and two 64 KiB frame buffers; at 64 MiB the Go
// runtime of a test binary could not map its first heap arena.
const netData = roleData

// netMemory is what a [net] may map once in its sandbox
// (Policy.MemoryGrowth): its connection needs a few megabytes; the Go
// runtime reserves heap arenas 64 MiB at a time.
const netMemory = 192 << 20

// NetloginNet is the policy of netlogind's [net], the one process that
// reads what a client sends: a uid of its own, an empty chroot, no
// capability, no filesystem or network right in Landlock, and nothing in
// seccomp beyond the Go runtime's base: it holds its client socket, its
// socketpair to [session] and its control channel from before the
// sandbox, and reads and writes them with read(2) and write(2). No socket,
// connect, open or sendmsg: it cannot reach anything it was not handed.
func NetloginNet(uid uint32, emptyDir string) sandbox.Policy {
	id := strconv.FormatUint(uint64(uid), 10)
	return sandbox.Policy{
		Role:    "net",
		User:    id,
		Group:   id,
		Chroot:  emptyDir,
		Rlimits: append(sandbox.BaseRlimits(netThreads, 32, 0), sandbox.Rlimit{Resource: "DATA", Max: netData}),
		// The bound that holds: what it maps after start-up.
		MemoryGrowth: netMemory,
		Umask:        0o077,
		Seccomp:      sandbox.RuntimeBase(),
	}
}
