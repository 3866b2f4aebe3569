//go:build linux && containment

package containment_test

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/ndhc-go/ndhc/sandbox"
)

// stubResolved answers systemd-resolved's per-link methods on the lab's
// private bus, so the dns role does its work after its battery.
type stubResolved struct{}

func (stubResolved) SetLinkDNS(int32, []struct {
	Family  int32
	Address []byte
}) *dbus.Error {
	return nil
}

func (stubResolved) SetLinkDomains(int32, []struct {
	Domain      string
	RoutingOnly bool
}) *dbus.Error {
	return nil
}

func (stubResolved) SetLinkDefaultRoute(int32, bool) *dbus.Error { return nil }
func (stubResolved) RevertLink(int32) *dbus.Error                { return nil }

// optionalRoles prepares what the optional roles need and returns the
// daemon's flags that start them: dns (--dns resolved) on a private
// dbus-daemon with a stub resolved, hook (--hook) with a program that does
// nothing, a set-user-ID root id(1) beside it, and an abstract UNIX socket
// listening in the daemon's network namespace, which neither may reach.
func optionalRoles(t *testing.T, l *lab.Lab) []string {
	t.Helper()
	conf, err := os.ReadFile("../../cmd/ndhc/testdata/dbus-lab.conf")
	if err != nil {
		t.Fatal(err)
	}
	sock, conn := lab.StartBus(t, conf)
	if err := conn.Export(stubResolved{}, "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.freedesktop.resolve1", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning org.freedesktop.resolve1: %v %v", r, err)
	}
	// dbus-daemon looks the connecting uid up: the dns role runs as a
	// user every Debian system has (as in cmd/ndhc's lab test).
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("the dns role's lab user nobody: %v", err)
	}

	dir := t.TempDir()
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	hook := filepath.Join(dir, "hook")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(dir, containment.SuidName)
	if err := os.WriteFile(suid, id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}

	var ln net.Listener
	if err := l.Client.Do(func() error {
		var err error
		ln, err = net.Listen("unix", "@"+containment.AbstractName)
		return err
	}); err != nil {
		t.Fatalf("abstract socket in the client namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })

	return []string{"--dns", "resolved", "--dbus-socket", sock, "--dns-user", u.Uid, "--hook", hook}
}

// denyListRows checks a default-allow role's live filter (the hook's): for
// every number 0..1023 with zero arguments, ENOSYS for an unconditional
// entry of its deny list and ALLOW for everything else (a conditional
// entry's conditions do not hold for zeros, which the rows check too);
// for each conditional entry, ENOSYS with arguments that meet its
// conditions; and KILL_PROCESS for a foreign architecture.
func denyListRows(prog []bpf.Instruction, p sandbox.Policy, arch uint32) []row {
	deny := sandbox.SeccompRetErrno | uint32(sandbox.SeccompDenyErrno)
	plain := map[int]bool{}
	var conds []sandbox.Syscall
	for _, s := range p.Seccomp {
		n, err := sandbox.SyscallNumber(s.Name)
		if err != nil {
			continue
		}
		if len(s.Any) == 0 {
			plain[n] = true
		} else {
			conds = append(conds, s)
		}
	}
	var rows []row
	res := func(attack string, wrong []string, ok, layer string) {
		r := row{role: "hook", attack: attack, expected: "blocked"}
		if len(wrong) > 0 {
			r.outcome, r.observed = containment.GotThrough, "wrong verdict: "+strings.Join(wrong, ", ")
		} else {
			r.outcome, r.observed, r.layer = containment.Blocked, ok, layer
		}
		rows = append(rows, r)
	}
	var wrong []string
	allowed := 0
	for nr := range 1024 {
		want := sandbox.SeccompRetAllow
		if plain[nr] {
			want = deny
		} else {
			allowed++
		}
		v, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(nr), Arch: arch})
		if err != nil || v != want {
			wrong = append(wrong, fmt.Sprintf("%d: %#x", nr, v))
		}
	}
	res("every system call number: ENOSYS on its deny list, allowed otherwise", wrong,
		fmt.Sprintf("live filter: ENOSYS for its %d unconditional entries, ALLOW for the other %d numbers 0..1023 (zero arguments)", len(plain), allowed),
		"seccomp (deny list)")
	wrong = nil
	n := 0
	for _, s := range conds {
		nr, _ := sandbox.SyscallNumber(s.Name)
		for _, list := range s.Any {
			var args [6]uint64
			var label []string
			for _, c := range list {
				switch c.Op {
				case sandbox.Ne, sandbox.Gt:
					args[c.Arg] = c.Value + 1
				case sandbox.Lt:
					args[c.Arg] = c.Value - 1
				default:
					args[c.Arg] |= c.Value
				}
				label = append(label, c.Label)
			}
			// The flags of a process clone besides the condition's.
			if s.Name == "clone" {
				args[0] |= uint64(unix.SIGCHLD)
			}
			v, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(nr), Arch: arch, Args: args})
			if err != nil || v != deny {
				wrong = append(wrong, fmt.Sprintf("%s(%s): %#x", s.Name, strings.Join(label, "&"), v))
			}
			n++
		}
	}
	res("every conditional deny-list entry with arguments meeting its conditions", wrong,
		fmt.Sprintf("live filter: ENOSYS for all %d conditions", n), "seccomp (deny list, arguments)")
	wrong = nil
	for nr := range 1024 {
		v, err := sandbox.EvalSeccomp(prog, sandbox.SeccompData{Nr: int32(nr), Arch: unix.AUDIT_ARCH_I386})
		if err != nil || sandbox.SeccompAction(v) != sandbox.SeccompRetKillProcess {
			wrong = append(wrong, fmt.Sprintf("%d: %#x", nr, v))
		}
	}
	if arch == unix.AUDIT_ARCH_I386 {
		wrong = []string{"the harness runs on i386: no foreign architecture to check"}
	}
	res("a foreign-architecture system call (AUDIT_ARCH_I386, as int 0x80 on amd64)", wrong,
		"live filter: KILL_PROCESS for all 1024 numbers (not made from the runner: it would end it; sandbox's TestSeccompDefaultAllow checks the compiled filter)",
		"seccomp (architecture check)")
	return rows
}

// kernelLimit is a row's outcome when the running kernel lacks what would
// block the attack (Landlock's scopes before ABI 6: Linux 6.12), where
// the sandbox degrades by design; it fails nothing, and says so.
const kernelLimit = "kernel-limit"

// scopeUnsupported says whether an abstract-socket attack got through
// only because this kernel's Landlock has no scopes.
func scopeUnsupported(attack, outcome string) (bool, string) {
	if outcome != containment.GotThrough || !strings.Contains(attack, "@"+containment.AbstractName) {
		return false, ""
	}
	abi, err := sandbox.LandlockABI()
	if err == nil && abi >= 6 {
		return false, ""
	}
	return true, fmt.Sprintf("this kernel's Landlock ABI is %d (%v): abstract sockets are not scoped before ABI 6", abi, err)
}
