//go:build linux

package policies_test

import (
	"testing"

	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// TestHookFilter: the hook's default-allow filter lets a program run
// (fork, exec, files, sockets) and refuses the kernel attack surface with
// ENOSYS.
func TestHookFilter(t *testing.T) {
	p := policies.Hook()
	if !p.SeccompDefaultAllow || len(p.Caps) != 0 || p.User == "root" {
		t.Fatalf("hook policy: default allow %v, caps %v, user %s", p.SeccompDefaultAllow, p.Caps, p.User)
	}
	prog, _, err := sandbox.CompileSeccomp(&p)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := sandbox.AuditArch()
	if err != nil {
		t.Fatal(err)
	}
	deny := sandbox.SeccompRetErrno | uint32(sandbox.SeccompDenyErrno)
	for _, c := range []struct {
		name string
		args [6]uint64
		want uint32
	}{
		{"execve", [6]uint64{}, sandbox.SeccompRetAllow},
		{"clone", [6]uint64{uint64(unix.SIGCHLD)}, sandbox.SeccompRetAllow},
		{"clone", [6]uint64{sandbox.CloneThreads[0].Value}, sandbox.SeccompRetAllow},
		{"socket", [6]uint64{unix.AF_INET, unix.SOCK_STREAM}, sandbox.SeccompRetAllow},
		{"openat", [6]uint64{}, sandbox.SeccompRetAllow},
		{"clone", [6]uint64{uint64(unix.SIGCHLD) | unix.CLONE_NEWUSER}, deny},
		{"clone", [6]uint64{uint64(unix.SIGCHLD) | unix.CLONE_NEWNET}, deny},
		{"clone3", [6]uint64{}, deny},
		{"unshare", [6]uint64{unix.CLONE_NEWUSER}, deny},
		{"setns", [6]uint64{}, deny},
		{"bpf", [6]uint64{}, deny},
		{"perf_event_open", [6]uint64{}, deny},
		{"userfaultfd", [6]uint64{}, deny},
		{"io_uring_setup", [6]uint64{}, deny},
		{"keyctl", [6]uint64{}, deny},
		{"ptrace", [6]uint64{}, deny},
		{"process_vm_readv", [6]uint64{}, deny},
		{"mount", [6]uint64{}, deny},
		{"fsopen", [6]uint64{}, deny},
		{"kexec_load", [6]uint64{}, deny},
		{"init_module", [6]uint64{}, deny},
	} {
		n, err := sandbox.SyscallNumber(c.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(n), Arch: arch, Args: c.args})
		if err != nil || got != c.want {
			t.Errorf("%s%v: verdict %#x, %v; want %#x", c.name, c.args[:2], got, err, c.want)
		}
	}
	if !p.Landlock.AllowNetwork || len(p.Landlock.RWDirs) != 1 || p.Landlock.RWDirs[0] != "/" || p.Landlock.AllowSignalsOut {
		t.Errorf("hook landlock %+v", p.Landlock)
	}
}
