//go:build linux

package sandbox_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

// A default-allow policy: the listed syscalls fail with ENOSYS under
// their conditions, everything else is allowed, and the architecture is
// still checked first.
func TestSeccompDefaultAllow(t *testing.T) {
	p := sandbox.Policy{
		Role: "deny", User: "61234", Group: "61234", Chroot: "/nonexistent", SeccompDefaultAllow: true,
		Seccomp: []sandbox.Syscall{
			sandbox.Allow("bpf", "test"),
			sandbox.AllowIf("clone", "test", sandbox.Arg(0, sandbox.BitsSet, unix.CLONE_NEWUSER, "CLONE_NEWUSER")),
		},
	}
	prog, _, err := sandbox.CompileSeccomp(&p)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := sandbox.AuditArch()
	if err != nil {
		t.Fatal(err)
	}
	deny := sandbox.SeccompRetErrno | uint32(unix.ENOSYS)
	cases := []struct {
		name string
		d    sandbox.SeccompData
		want uint32
	}{
		{"bpf denied", sandbox.SeccompData{Nr: nr(t, "bpf"), Arch: arch}, deny},
		{"execve allowed", sandbox.SeccompData{Nr: nr(t, "execve"), Arch: arch}, sandbox.SeccompRetAllow},
		{"clone process allowed", sandbox.SeccompData{Nr: nr(t, "clone"), Arch: arch, Args: [6]uint64{uint64(unix.SIGCHLD)}}, sandbox.SeccompRetAllow},
		{"clone new user namespace denied", sandbox.SeccompData{Nr: nr(t, "clone"), Arch: arch, Args: [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}}, deny},
		{"wrong architecture killed", sandbox.SeccompData{Nr: nr(t, "read"), Arch: arch ^ 1}, sandbox.SeccompRetKillProcess},
	}
	for _, c := range cases {
		got, err := sandbox.EvalSeccomp(prog, c.d)
		if err != nil || got != c.want {
			t.Errorf("%s: got %#x, %v; want %#x", c.name, got, err, c.want)
		}
	}
	// The policy report says it, loudly.
	r, err := sandbox.DescribePolicy(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "DEFAULT ALLOW") {
		t.Errorf("report does not say default allow:\n%s", b.String())
	}
	// A deny list never goes with a capability.
	withCap := p
	withCap.Caps = []string{"CAP_NET_RAW"}
	if err := withCap.Validate(); err == nil {
		t.Error("default allow with a capability validated")
	}
	// The same list as an allowlist kills what it does not name.
	p.SeccompDefaultAllow = false
	prog, _, err = sandbox.CompileSeccomp(&p)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: nr(t, "execve"), Arch: arch}); got != sandbox.SeccompRetKillProcess {
		t.Errorf("allowlist: execve got %#x", got)
	}
}

func TestLandlockAllowNetwork(t *testing.T) {
	p := sandbox.Policy{Role: "net", User: "61234", Group: "61234", Chroot: "/", Seccomp: []sandbox.Syscall{sandbox.Allow("read", "test")},
		Landlock: sandbox.Landlock{RWDirs: []string{"/"}, AllowNetwork: true}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	enforced, missing := sandbox.LandlockRights(10, p.Landlock)
	for _, r := range append(enforced, missing...) {
		if strings.HasPrefix(r, "net.") {
			t.Errorf("network right %q reported although not handled", r)
		}
	}
	p.Landlock.ConnectTCP = []uint16{80}
	if err := p.Validate(); err == nil {
		t.Error("allow_network with port rules validated")
	}
}
