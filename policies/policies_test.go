//go:build linux

package policies_test

import (
	"os"
	"slices"
	"testing"

	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

const atFDCWD = uint64(1<<64 + unix.AT_FDCWD)

// call is one synthetic syscall and the verdict each role's filter must
// give it.
type call struct {
	name string
	args [6]uint64
	// allowed lists the roles whose filter allows the call; every other
	// role's filter must kill the process.
	allowed []string
}

var all = []string{"supervisor", "engine", "sockd", "ifch", "hostname", "dns"}

var calls = []call{
	{"futex", [6]uint64{}, all},
	{"clone", [6]uint64{sandbox.CloneThreads[0].Value}, all},
	{"clone", [6]uint64{uint64(unix.SIGCHLD)}, nil},
	// A thread in new namespaces, or any other flag than the runtime's.
	{"clone", [6]uint64{sandbox.CloneThreads[0].Value | unix.CLONE_NEWUSER}, nil},
	{"clone", [6]uint64{sandbox.CloneThreads[0].Value | unix.CLONE_NEWNET}, nil},
	{"clone", [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, nil},
	// madvise: the runtime's advice only; MADV_HWPOISON offlines memory.
	{"madvise", [6]uint64{0, 4096, unix.MADV_DONTNEED}, all},
	{"madvise", [6]uint64{0, 4096, unix.MADV_FREE}, all},
	{"madvise", [6]uint64{0, 4096, unix.MADV_HWPOISON}, nil},
	{"madvise", [6]uint64{0, 4096, unix.MADV_REMOVE}, nil},
	// fcntl: descriptor flags, never another process's signals.
	{"fcntl", [6]uint64{3, unix.F_GETFL}, all},
	{"fcntl", [6]uint64{3, unix.F_DUPFD_CLOEXEC}, all},
	{"fcntl", [6]uint64{3, unix.F_SETOWN, 1}, nil},
	{"fcntl", [6]uint64{3, unix.F_SETSIG, 9}, nil},
	// tgkill: the process's own threads (the filter is compiled with the
	// test's pid) and no other process's.
	{"tgkill", [6]uint64{uint64(os.Getpid()), 1, 23}, all},
	{"tgkill", [6]uint64{1, 1, 9}, nil},
	{"clone3", [6]uint64{}, nil},
	{"fork", [6]uint64{}, nil},
	{"execve", [6]uint64{}, nil},
	{"execveat", [6]uint64{}, nil},
	{"ptrace", [6]uint64{}, nil},
	{"process_vm_readv", [6]uint64{}, nil},
	{"setuid", [6]uint64{}, nil},
	{"setresuid", [6]uint64{}, nil},
	{"capset", [6]uint64{}, nil},
	{"prctl", [6]uint64{}, nil},
	{"mount", [6]uint64{}, nil},
	{"chroot", [6]uint64{}, nil},
	{"unshare", [6]uint64{}, nil},
	{"setns", [6]uint64{}, nil},
	{"bpf", [6]uint64{}, nil},
	{"sethostname", [6]uint64{}, []string{"hostname"}},
	{"setdomainname", [6]uint64{}, nil},
	{"pivot_root", [6]uint64{}, nil},
	{"init_module", [6]uint64{}, nil},
	{"kill", [6]uint64{}, nil},
	{"ioctl", [6]uint64{}, nil},
	{"socket", [6]uint64{unix.AF_PACKET, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, []string{"sockd"}},
	{"socket", [6]uint64{unix.AF_INET, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, []string{"sockd"}},
	{"socket", [6]uint64{unix.AF_INET, unix.SOCK_RAW | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK, unix.IPPROTO_UDP}, nil},
	{"socket", [6]uint64{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, nil},
	{"socket", [6]uint64{unix.AF_INET6, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, nil},
	{"socket", [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE}, nil},
	{"socket", [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW | unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT}, nil},
	{"socket", [6]uint64{unix.AF_UNIX, unix.SOCK_SEQPACKET | unix.SOCK_CLOEXEC}, nil},
	// dns: the one AF_UNIX stream socket net.Dial makes for the bus.
	{"socket", [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, []string{"dns"}},
	{"socket", [6]uint64{unix.AF_UNIX, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, nil},
	{"socket", [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}, nil},
	{"connect", [6]uint64{}, []string{"sockd", "dns"}},
	// Only sockd names destinations: the engine holds packet sockets and
	// must not be able to send on them.
	{"sendto", [6]uint64{}, []string{"sockd", "ifch"}},
	{"sendmsg", [6]uint64{}, []string{"sockd", "dns"}},
	{"sendmmsg", [6]uint64{}, nil},
	{"openat", [6]uint64{atFDCWD}, []string{"engine"}},
	{"openat", [6]uint64{3}, nil},
	{"open", [6]uint64{}, nil},
	{"openat", [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC}, nil},
	{"openat", [6]uint64{atFDCWD, 0, unix.O_RDWR | unix.O_TMPFILE}, nil},
	{"openat", [6]uint64{atFDCWD, 0, unix.O_WRONLY | unix.O_TRUNC}, []string{"engine"}},
	{"renameat", [6]uint64{}, nil},
	{"unlinkat", [6]uint64{}, nil},
	{"bind", [6]uint64{}, []string{"sockd"}},
	{"setsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER}, []string{"sockd"}},
	{"setsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_LOCK_FILTER}, []string{"sockd"}},
	{"setsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_DETACH_FILTER}, nil},
	{"setsockopt", [6]uint64{3, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP}, nil},
	{"getsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_TYPE}, []string{"engine", "sockd"}},
	{"getsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_PEERCRED}, []string{"supervisor"}},
	{"getsockopt", [6]uint64{3, unix.SOL_SOCKET, 59 /* SO_PEERGROUPS */}, []string{"supervisor"}},
	{"getsockopt", [6]uint64{3, unix.SOL_SOCKET, unix.SO_PEERSEC}, nil},
	{"accept4", [6]uint64{3, 0, 0, unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK}, []string{"supervisor"}},
	{"accept4", [6]uint64{3, 0, 0, unix.SOCK_NONBLOCK}, nil},
	{"accept", [6]uint64{}, nil},
	{"recvfrom", [6]uint64{}, []string{"engine", "ifch", "sockd"}},
	{"waitid", [6]uint64{}, []string{"supervisor"}},
}

func TestRoleFilters(t *testing.T) {
	arch, err := sandbox.AuditArch()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies.All() {
		if p.SeccompDefaultAllow {
			continue // the hook: TestHookFilter
		}
		prog, raw, err := sandbox.CompileSeccomp(&p)
		if err != nil {
			t.Fatalf("%s: %v", p.Role, err)
		}
		t.Logf("%s: %d syscalls, %d BPF instructions", p.Role, len(p.Seccomp), len(raw))
		for _, c := range calls {
			n, err := sandbox.SyscallNumber(c.name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(n), Arch: arch, Args: c.args})
			if err != nil {
				t.Fatal(err)
			}
			want := sandbox.SeccompRetKillProcess
			for _, r := range c.allowed {
				if r == p.Role {
					want = sandbox.SeccompRetAllow
				}
			}
			if got != want {
				t.Errorf("%s: %s%v: verdict %#x, want %#x", p.Role, c.name, c.args[:3], got, want)
			}
		}
	}
}

func TestPolicyShape(t *testing.T) {
	caps := map[string][]string{
		"supervisor": nil,
		"engine":     nil,
		"sockd":      {"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"},
		"ifch":       {"CAP_NET_ADMIN"},
		"hostname":   {"CAP_SYS_ADMIN"},
		"dns":        nil,
		"hook":       nil,
	}
	for _, p := range policies.All() {
		if err := p.Validate(); err != nil {
			t.Errorf("%v", err)
		}
		if got, want := p.Caps, caps[p.Role]; len(got) != len(want) {
			t.Errorf("%s: caps %v, want %v", p.Role, got, want)
		}
		limits := map[string]uint64{}
		for _, r := range p.Rlimits {
			limits[r.Resource] = r.Max
		}
		if v, ok := limits["CORE"]; !ok || v != 0 {
			t.Errorf("%s: RLIMIT_CORE %d", p.Role, v)
		}
		for _, r := range []string{"NPROC", "NOFILE", "FSIZE"} {
			if _, ok := limits[r]; !ok {
				t.Errorf("%s: no RLIMIT_%s", p.Role, r)
			}
		}
		if p.User == "root" || p.User == "0" {
			t.Errorf("%s runs as root", p.Role)
		}
	}
	if _, ok := policies.ByRole("nosuch"); ok {
		t.Error("ByRole found a role that does not exist")
	}
}

// TestEngineFiles: the engine's Landlock rules name exactly the files its
// directory is prepared with.
func TestEngineFiles(t *testing.T) {
	var want []string
	for _, f := range engine.StateFiles {
		want = append(want, "/"+f)
	}
	if got := policies.Engine().Landlock.RWFiles; !slices.Equal(got, want) {
		t.Errorf("engine RWFiles %v, want %v", got, want)
	}
}
