//go:build linux

package sandbox_test

import (
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

func testPolicy() sandbox.Policy {
	return sandbox.Policy{
		Role: "test", User: "61234", Group: "61234", Chroot: "/nonexistent",
		Seccomp: []sandbox.Syscall{
			sandbox.Allow("read", "test"),
			sandbox.Allow("exit_group", "test"),
			sandbox.AllowIf("socket", "test",
				sandbox.Arg(0, sandbox.Eq, unix.AF_PACKET, "AF_PACKET"),
				[]sandbox.Cond{
					{Arg: 0, Op: sandbox.Eq, Value: unix.AF_INET},
					{Arg: 1, Op: sandbox.Eq, Value: unix.SOCK_DGRAM},
				}),
			sandbox.AllowIf("clone", "test", sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_THREAD, "")),
			sandbox.AllowIf("openat", "test", sandbox.Arg(0, sandbox.Eq, uint64(1<<64+unix.AT_FDCWD), "AT_FDCWD")),
		},
	}
}

func nr(t *testing.T, name string) int32 {
	t.Helper()
	n, err := sandbox.SyscallNumber(name)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

func TestEvalSeccomp(t *testing.T) {
	p := testPolicy()
	prog, _, err := sandbox.CompileSeccomp(&p)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := sandbox.AuditArch()
	if err != nil {
		t.Fatal(err)
	}
	allow, kill := sandbox.SeccompRetAllow, sandbox.SeccompRetKillProcess
	cases := []struct {
		name string
		d    sandbox.SeccompData
		want uint32
	}{
		{"read allowed", sandbox.SeccompData{Nr: nr(t, "read"), Arch: arch}, allow},
		{"write not listed", sandbox.SeccompData{Nr: nr(t, "write"), Arch: arch}, kill},
		{"execve not listed", sandbox.SeccompData{Nr: nr(t, "execve"), Arch: arch}, kill},
		{"socket AF_PACKET", sandbox.SeccompData{Nr: nr(t, "socket"), Arch: arch, Args: [6]uint64{unix.AF_PACKET, unix.SOCK_RAW}}, allow},
		{"socket AF_INET DGRAM", sandbox.SeccompData{Nr: nr(t, "socket"), Arch: arch, Args: [6]uint64{unix.AF_INET, unix.SOCK_DGRAM}}, allow},
		{"socket AF_INET STREAM", sandbox.SeccompData{Nr: nr(t, "socket"), Arch: arch, Args: [6]uint64{unix.AF_INET, unix.SOCK_STREAM}}, kill},
		{"socket AF_NETLINK", sandbox.SeccompData{Nr: nr(t, "socket"), Arch: arch, Args: [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW}}, kill},
		{"socket AF_PACKET in high word", sandbox.SeccompData{Nr: nr(t, "socket"), Arch: arch, Args: [6]uint64{1<<32 | unix.AF_PACKET}}, kill},
		{"clone thread", sandbox.SeccompData{Nr: nr(t, "clone"), Arch: arch, Args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}}, allow},
		{"clone process", sandbox.SeccompData{Nr: nr(t, "clone"), Arch: arch, Args: [6]uint64{uint64(unix.SIGCHLD)}}, kill},
		{"openat AT_FDCWD", sandbox.SeccompData{Nr: nr(t, "openat"), Arch: arch, Args: [6]uint64{uint64(1<<64 + unix.AT_FDCWD)}}, allow},
		{"openat dirfd 5", sandbox.SeccompData{Nr: nr(t, "openat"), Arch: arch, Args: [6]uint64{5}}, kill},
		{"openat AT_FDCWD low word only", sandbox.SeccompData{Nr: nr(t, "openat"), Arch: arch, Args: [6]uint64{uint64(uint32(1<<32 + unix.AT_FDCWD))}}, kill},
		{"wrong architecture", sandbox.SeccompData{Nr: nr(t, "read"), Arch: arch ^ 1}, kill},
	}
	if strings.Contains(strings.ToLower(runtimeArch()), "amd64") {
		cases = append(cases, struct {
			name string
			d    sandbox.SeccompData
			want uint32
		}{"x32 read", sandbox.SeccompData{Nr: nr(t, "read") | 0x40000000, Arch: arch}, sandbox.SeccompRetErrno | uint32(unix.ENOSYS)})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sandbox.EvalSeccomp(prog, c.d)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("verdict %#x, want %#x", got, c.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*sandbox.Policy)
		want   string
	}{
		{"ok", func(*sandbox.Policy) {}, ""},
		{"root user", func(p *sandbox.Policy) { p.User = "root" }, "as root"},
		{"uid 0", func(p *sandbox.Policy) { p.User = "0" }, "as root"},
		{"relative chroot", func(p *sandbox.Policy) { p.Chroot = "var/empty" }, "chroot"},
		{"unknown cap", func(p *sandbox.Policy) { p.Caps = []string{"CAP_FLY"} }, "unknown capability"},
		{"duplicate cap", func(p *sandbox.Policy) { p.Caps = []string{"CAP_NET_RAW", "CAP_NET_RAW"} }, "twice"},
		{"unknown rlimit", func(p *sandbox.Policy) { p.Rlimits = []sandbox.Rlimit{{Resource: "FOO"}} }, "unknown rlimit"},
		{"unknown syscall", func(p *sandbox.Policy) { p.Seccomp = append(p.Seccomp, sandbox.Allow("frobnicate", "x")) }, "unknown syscall"},
		{"duplicate syscall", func(p *sandbox.Policy) { p.Seccomp = append(p.Seccomp, sandbox.Allow("read", "x")) }, "listed twice"},
		{"no reason", func(p *sandbox.Policy) { p.Seccomp = append(p.Seccomp, sandbox.Allow("write", " ")) }, "no reason"},
		{"bad arg", func(p *sandbox.Policy) {
			p.Seccomp = append(p.Seccomp, sandbox.AllowIf("write", "x", sandbox.Arg(6, sandbox.Eq, 1, "")))
		}, "out of range"},
		{"bad op", func(p *sandbox.Policy) {
			p.Seccomp = append(p.Seccomp, sandbox.AllowIf("write", "x", sandbox.Arg(0, "~", 1, "")))
		}, "unknown operation"},
		{"relative landlock path", func(p *sandbox.Policy) { p.Landlock.RODirs = []string{"etc"} }, "not absolute"},
		{"one P", func(p *sandbox.Policy) { p.GoMaxProcs = 1 }, ""},
		{"negative GOMAXPROCS", func(p *sandbox.Policy) { p.GoMaxProcs = -1 }, "go_max_procs"},
		{"huge GOMAXPROCS", func(p *sandbox.Policy) { p.GoMaxProcs = sandbox.MaxGoMaxProcs + 1 }, "go_max_procs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := testPolicy()
			c.mutate(&p)
			err := p.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tx\nUid:\t61234\t61234\t61234\t61234\nGid:\t61234\t61234\t61234\t61234\nGroups:\t \n" +
		"Threads:\t5\nCapInh:\t0000000000000000\nCapPrm:\t0000000000002000\nCapEff:\t0000000000002000\n" +
		"CapBnd:\t0000000000002000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
	st, err := sandbox.ParseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(sandbox.Expect{Uid: 61234, Gid: 61234, Caps: 1 << unix.CAP_NET_RAW, Seccomp: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(sandbox.Expect{Uid: 61234, Gid: 61234, Caps: 0, Seccomp: true}); err == nil || !strings.Contains(err.Error(), "CapEff=net_raw want none") {
		t.Fatalf("mismatch not reported: %v", err)
	}
	if got := st.String(); got != "uid=61234 gid=61234 groups=0 caps=net_raw bnd=net_raw amb=none nnp=1 seccomp=2" {
		t.Fatalf("String() = %q", got)
	}
	if _, err := sandbox.ParseStatus([]byte("Uid:\t1\t1\t1\n")); err == nil {
		t.Fatal("three uids accepted")
	}
	if _, err := sandbox.ParseStatus([]byte(strings.Replace(in, "NoNewPrivs:\t1\n", "", 1))); err == nil {
		t.Fatal("missing NoNewPrivs accepted")
	}
	if _, err := sandbox.ParseStatus([]byte(in + "Seccomp:\t0\n")); err == nil {
		t.Fatal("repeated Seccomp accepted")
	}
}

func TestCapMask(t *testing.T) {
	m, err := sandbox.CapMask([]string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"})
	if err != nil {
		t.Fatal(err)
	}
	if m != 1<<unix.CAP_NET_RAW|1<<unix.CAP_NET_BIND_SERVICE {
		t.Fatalf("mask %#x", m)
	}
	if got := sandbox.FormatCaps(m); got != "net_bind_service,net_raw" {
		t.Fatalf("FormatCaps = %q", got)
	}
	if _, err := sandbox.CapMask([]string{"NET_RAW"}); err == nil {
		t.Fatal("name without prefix accepted")
	}
}

// TestStatusCheckDead: a read-back that finds seccomp killing the process
// says so, instead of a bare mode number.
func TestStatusCheckDead(t *testing.T) {
	s := sandbox.Status{Uid: [4]uint32{7, 7, 7, 7}, Gid: [4]uint32{7, 7, 7, 7}, NoNewPrivs: 1, Seccomp: 3}
	err := s.Check(sandbox.Expect{Uid: 7, Gid: 7, Seccomp: true})
	if err == nil || !strings.Contains(err.Error(), "outside the allowlist") {
		t.Fatalf("%v", err)
	}
}
