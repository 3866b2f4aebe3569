package sandbox_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the probe child: Spawn re-executes it.
func TestMain(m *testing.M) {
	if role, ok := sandbox.IsChild(); ok {
		if role == probe.Role {
			probe.Child(testActions())
		}
		toyChild(role)
	}
	// These tests enter real sandboxes, which a cgo build cannot.
	if err := sandbox.CheckBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "these tests enter real sandboxes:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const testUID = "61234"

// testActions are the generic battery plus controls for the test role.
func testActions() []probe.Action {
	return append(probe.Battery(), probe.RuntimeStress(),
		probe.Action{Name: "create, write and rename a file in the RW directory", Allowed: true, Do: func(any) error {
			if err := os.WriteFile("/rw/probe.tmp", []byte("x"), 0o600); err != nil {
				return err
			}
			return os.Rename("/rw/probe.tmp", "/rw/probe")
		}},
		probe.Action{Name: "write outside the RW directory", Do: func(any) error {
			return os.WriteFile("/probe", []byte("x"), 0o600)
		}},
		probe.Action{Name: "socket(AF_UNIX) allowed by argument", Allowed: true, Do: func(any) error {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		probe.Action{Name: "CAP_NET_RAW kept: socket(AF_PACKET)", Allowed: true, Do: func(any) error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
	)
}

// rootPolicy is a complete policy for the test role, with a chroot
// holding one directory the role's uid may write.
func rootPolicy(t *testing.T) sandbox.Policy {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rw := filepath.Join(dir, "rw")
	if err := os.Mkdir(rw, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(rw, 61234, 61234); err != nil {
		t.Fatal(err)
	}
	p := sandbox.Policy{
		Role: "test", User: testUID, Group: testUID, Chroot: dir,
		Caps:         []string{"CAP_NET_RAW"},
		Rlimits:      sandbox.BaseRlimits(64, 64, 4096),
		MemoryGrowth: 192 << 20, // as netlogind's [net]
		Umask:        0o077,
		Landlock:     sandbox.Landlock{RWDirs: []string{"/rw"}},
	}
	// The runtime base, the file calls of the controls and, deliberately
	// generous: kill, setuid, capset, chroot, mount, bind and connect are
	// allowed by seccomp here, so that the test shows the other layers
	// (capabilities, Landlock) refusing them on their own.
	extra := []sandbox.Syscall{sandbox.AllowIf("socket", "test", sandbox.Arg(0, sandbox.Eq, unix.AF_UNIX, ""), sandbox.Arg(0, sandbox.Eq, unix.AF_PACKET, ""))}
	for _, n := range []string{"openat", "renameat", "fstat", "newfstatat", "bind", "connect", "kill", "setuid", "capset", "chroot", "mount"} {
		extra = append(extra, sandbox.Allow(n, "test"))
	}
	p.Seccomp = sandbox.With(sandbox.RuntimeBase(), extra...)
	return p
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: Enter changes uid, chroots and drops capabilities")
	}
}

// TestEnterBattery runs every action in its own sandboxed child and checks
// the exact outcome: which errno, or the kill by seccomp.
func TestEnterBattery(t *testing.T) {
	requireRoot(t)
	p := rootPolicy(t)
	abi, _ := sandbox.LandlockABI()
	named := 0
	defer func() { t.Logf("%d of %d seccomp kills named from the kernel log", named, len(killedBy)) }()
	want := map[string]string{
		"read /etc/passwd by path":                                     "ENOENT",
		"read /etc/passwd via a leaked directory fd":                   "EACCES",
		"create a file in /tmp via a leaked directory fd":              "EACCES",
		"execve /bin/sh":                                               "killed by SIGSYS",
		probe.RuntimeStress().Name:                                     "ok",
		"fork a new process":                                           "killed by SIGSYS",
		"ptrace attach to parent":                                      "killed by SIGSYS",
		"process_vm_readv of parent":                                   "killed by SIGSYS",
		"kill(parent, 0)":                                              "EPERM",
		"tgkill a thread of the parent":                                "killed by SIGSYS",
		"fcntl(F_SETOWN) on stderr, to aim SIGIO at the parent":        "killed by SIGSYS",
		"fcntl(F_SETSIG) on stderr":                                    "killed by SIGSYS",
		"clone a thread with CLONE_NEWNET besides the runtime's flags": "killed by SIGSYS",
		"madvise(MADV_MERGEABLE), advice the runtime never gives":      "killed by SIGSYS",
		"open /dev/tty":                                                "ENOENT",
		"setuid(0)":                                                    "EPERM",
		"raise CAP_SYS_ADMIN with capset":                              "EPERM",
		"mount tmpfs":                                                  "EPERM",
		"unshare(CLONE_NEWNS|CLONE_NEWUSER)":                           "killed by SIGSYS",
		"chroot(\"..\")":                                               "EPERM",
		"map 1 GiB of writable memory":                                 "ENOMEM",
		"socket(AF_INET, SOCK_STREAM)":                                 "killed by SIGSYS",
		"socket(AF_INET6, SOCK_DGRAM)":                                 "killed by SIGSYS",
		"socket(AF_NETLINK, NETLINK_ROUTE)":                            "killed by SIGSYS",
		"bind TCP port 8067 on a leaked socket":                        "EACCES",
		"connect TCP 127.0.0.1:9 on a leaked socket":                   "EACCES",
		"create, write and rename a file in the RW directory":          "ok",
		"write outside the RW directory":                               "EACCES",
		"socket(AF_UNIX) allowed by argument":                          "ok",
		"CAP_NET_RAW kept: socket(AF_PACKET)":                          "ok",
	}
	if abi < 6 {
		want["kill(parent, 0)"] = "EPERM" // different uid, no CAP_KILL
	}
	for _, a := range testActions() {
		t.Run(a.Name, func(t *testing.T) {
			res, rep, err := probe.Run(p, a, sandbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep == nil {
				t.Fatal("no report from the probe")
			}
			if w, ok := want[a.Name]; !ok {
				t.Fatalf("no expectation for %q (observed %s)", a.Name, res.Observed)
			} else if res.Observed != w && !(abi < 4 && strings.Contains(a.Name, "TCP")) {
				t.Errorf("observed %s (layer %s), want %s", res.Observed, res.Layer, w)
			}
			if !res.Pass {
				t.Errorf("result does not pass: %+v", res)
			}
			// A kill the kernel logged names its call. The kernel's
			// printk rate limit drops records in a burst like this
			// battery, so a missing name is not an error; a wrong one is.
			if wantCall, ok := killedBy[a.Name]; ok && res.Syscall != "" && res.Syscall != wantCall {
				t.Errorf("killed for %q, want %q", res.Syscall, wantCall)
			} else if ok {
				named += min(len(res.Syscall), 1)
			}
			if rep.Status.Uid != [4]uint32{61234, 61234, 61234, 61234} || rep.Status.NoNewPrivs != 1 || rep.Status.Seccomp != 2 ||
				rep.Status.CapEff != 1<<unix.CAP_NET_RAW || rep.Status.CapBnd != 1<<unix.CAP_NET_RAW {
				t.Errorf("status %s", rep.Status)
			}
			if rep.ThreadsChecked < 2 {
				t.Errorf("only %d threads read back", rep.ThreadsChecked)
			}
		})
	}
}

// killedBy is the system call seccomp kills some battery actions for.
var killedBy = map[string]string{
	"execve /bin/sh":                "execve",
	"ptrace attach to parent":       "ptrace",
	"process_vm_readv of parent":    "process_vm_readv",
	"tgkill a thread of the parent": "tgkill",
	"clone a thread with CLONE_NEWNET besides the runtime's flags": "clone",
}

// TestEnterRefuses checks policies that Enter must refuse, each in a child
// (Enter is irreversible).
func TestEnterRefuses(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name   string
		mutate func(*sandbox.Policy)
		want   string
	}{
		{"missing chroot", func(p *sandbox.Policy) { p.Chroot = "/nonexistent-ndhc-chroot" }, "layer chroot"},
		{"world-writable chroot", func(p *sandbox.Policy) { p.Chroot = os.TempDir() }, "writable by group or others"},
		{"unknown user", func(p *sandbox.Policy) { p.User = "ndhc-no-such-user" }, "layer user"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := rootPolicy(t)
			c.mutate(&p)
			a := probe.Battery()[0]
			_, _, err := probe.Run(p, a, sandbox.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	t.Run("unknown degrade layer", func(t *testing.T) {
		p := rootPolicy(t)
		_, _, err := probe.Run(p, probe.Battery()[0], sandbox.Options{Degrade: []string{"caps"}})
		var le *sandbox.LayerError
		if err == nil || !strings.Contains(err.Error(), "cannot be degraded") || errors.As(err, &le) {
			t.Fatalf("error %v", err)
		}
	})
}
