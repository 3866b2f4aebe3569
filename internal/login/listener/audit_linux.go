package listener

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// netControls are [net]'s own rows in `netlogind audit`, beyond the
// framework's battery: what one connection could try against another.
// Each neighbour is a process of another [net] uid, started as root before
// the probe enters the policy, that ends by itself after a few seconds.
func netControls() []probe.Action {
	return []probe.Action{
		{Name: "kill another connection's [net] (another uid)", Prepare: neighbour, Do: func(s any) error {
			return unix.Kill(s.(int), unix.SIGKILL)
		}},
		{Name: "ptrace another connection's [net]", Prepare: neighbour, Do: func(s any) error {
			return unix.PtraceSeize(s.(int))
		}},
		{Name: "read another connection's [net] memory (process_vm_readv)", Prepare: neighbour, Do: func(s any) error {
			b := make([]byte, 8)
			_, err := unix.ProcessVMReadv(s.(int), []unix.Iovec{{Base: &b[0], Len: 8}}, []unix.RemoteIovec{{Base: 0x400000, Len: 8}}, 0)
			return err
		}},
		{Name: "open /etc/shadow through /proc/<listener>/root", Prepare: listenerPID, Do: func(s any) error {
			f, err := os.Open(fmt.Sprintf("/proc/%d/root/etc/shadow", s.(int)))
			if err == nil {
				f.Close()
			}
			return err
		}},
	}
}

// neighbour starts a sleeping process under another [net] uid and returns
// its pid.
func neighbour() (any, error) {
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "5"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: policies.NetloginNetUIDLast, Gid: policies.NetloginNetUIDLast}, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, err
	}
	go p.Wait()
	return p.Pid, nil
}

func listenerPID() (any, error) { return os.Getppid(), nil }

// AuditActions is every action a probe child of netlogind may be asked to
// run.
func AuditActions() []probe.Action {
	return append(append(probe.Battery(), probe.IPCRoundTrip(), probe.RuntimeStress()), netControls()...)
}

// AuditSubject is what `netlogind audit` runs: [net]'s policy under uid
// (one of the range) and chroot emptyDir, with the battery and its own
// rows.
func AuditSubject(uid uint32, emptyDir string) probe.Subject {
	return probe.Subject{Policy: policies.NetloginNet(uid, emptyDir), Actions: AuditActions()}
}

// Policy returns [net]'s policy, as `netlogind policy` shows it.
func Policy(uid uint32, emptyDir string) sandbox.Policy { return policies.NetloginNet(uid, emptyDir) }
