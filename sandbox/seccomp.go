package sandbox

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

var seccompOps = map[Op]seccomp.Operation{
	Eq: seccomp.Equal, Ne: seccomp.NotEqual,
	Lt: seccomp.LessThan, Le: seccomp.LessOrEqual,
	Gt: seccomp.GreaterThan, Ge: seccomp.GreaterOrEqual,
	BitsSet: seccomp.BitsSet, BitsClear: seccomp.BitsNotSet,
}

// Seccomp return values (linux/seccomp.h), as a filter returns them.
const (
	SeccompRetKillProcess uint32 = 0x80000000
	SeccompRetErrno       uint32 = 0x00050000
	SeccompRetAllow       uint32 = 0x7fff0000
	seccompRetActionFull  uint32 = 0xffff0000
)

// SeccompDenyErrno is what a syscall on a deny list (Policy.SeccompDefaultAllow)
// fails with: ENOSYS, as if the kernel lacked it, so that programs take
// their fallback paths (glibc retries clone3 as clone on ENOSYS only; a
// program without io_uring falls back to read and write).
const SeccompDenyErrno = syscall.ENOSYS

func nativeArch() (*arch.Info, error) { return arch.GetInfo("") }

// AuditArch returns the AUDIT_ARCH_* value of the running architecture, the
// value the compiled filter checks before anything else.
func AuditArch() (uint32, error) {
	a, err := nativeArch()
	if err != nil {
		return 0, fmt.Errorf("sandbox: %w", err)
	}
	return uint32(a.ID), nil
}

func syscallNumber(name string) (int, bool) {
	a, err := nativeArch()
	if err != nil {
		return 0, false
	}
	n, ok := a.SyscallNames[name]
	return n, ok
}

// SyscallNumber returns the number of the named syscall on the running
// architecture.
func SyscallNumber(name string) (int, error) {
	n, ok := syscallNumber(name)
	if !ok {
		return 0, fmt.Errorf("sandbox: unknown syscall %q", name)
	}
	return n, nil
}

// seccompPolicy converts the allowlist to go-seccomp-bpf's form: allowed
// syscalls, everything else kill-process. The architecture check comes
// first in the assembled program, and on amd64 x32 syscall numbers are
// refused. With SeccompDefaultAllow the list is a deny list: its entries
// fail with ENOSYS ([SeccompDenyErrno]) and everything else is allowed.
func seccompPolicy(p *Policy) seccomp.Policy {
	match, dflt := seccomp.ActionAllow, seccomp.ActionKillProcess
	if p.SeccompDefaultAllow {
		// go-seccomp-bpf's ActionErrno means EPERM; any other errno is
		// the action with the errno in its low bits, returned as is.
		match, dflt = seccomp.Action(SeccompRetErrno|uint32(SeccompDenyErrno)), seccomp.ActionAllow
	}
	plain := seccomp.SyscallGroup{Action: match}
	cond := seccomp.SyscallGroup{Action: match}
	for _, s := range p.Seccomp {
		if len(s.Any) == 0 {
			plain.Names = append(plain.Names, s.Name)
			continue
		}
		for _, list := range s.Any {
			var cs seccomp.ArgumentConditions
			for _, c := range list {
				v := c.Value
				if c.Self {
					v = uint64(os.Getpid())
				}
				cs = append(cs, seccomp.Condition{Argument: uint32(c.Arg), Operation: seccompOps[c.Op], Value: v})
			}
			cond.NamesWithCondtions = append(cond.NamesWithCondtions, seccomp.NameWithConditions{Name: s.Name, Conditions: cs})
		}
	}
	var groups []seccomp.SyscallGroup
	if len(plain.Names) > 0 {
		groups = append(groups, plain)
	}
	if len(cond.NamesWithCondtions) > 0 {
		groups = append(groups, cond)
	}
	return seccomp.Policy{DefaultAction: dflt, Syscalls: groups}
}

// CompileSeccomp validates p and assembles its allowlist into a classic BPF
// program for SECCOMP_SET_MODE_FILTER. It needs no privileges.
func CompileSeccomp(p *Policy) ([]bpf.Instruction, []bpf.RawInstruction, error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	if len(p.Seccomp) == 0 {
		return nil, nil, fmt.Errorf("sandbox: policy %s: empty seccomp allowlist", p.Role)
	}
	sp := seccompPolicy(p)
	insts, err := sp.Assemble()
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: policy %s: assembling seccomp filter: %w", p.Role, err)
	}
	if p.SeccompDefaultAllow {
		// go-seccomp-bpf sends a foreign architecture (i386 syscalls
		// through int 0x80 on amd64) to the default action: allow, for
		// a deny list, which would be a way around it. Such calls are
		// killed before the library's program runs.
		a, err := nativeArch()
		if err != nil {
			return nil, nil, fmt.Errorf("sandbox: %w", err)
		}
		archCheck := []bpf.Instruction{
			bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(a.ID), SkipTrue: 1},
			bpf.RetConstant{Val: SeccompRetKillProcess},
		}
		insts = append(archCheck, insts...)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: policy %s: assembling seccomp filter: %w", p.Role, err)
	}
	if len(raw) > 4096 {
		return nil, nil, fmt.Errorf("sandbox: policy %s: seccomp filter has %d instructions, the kernel takes 4096", p.Role, len(raw))
	}
	return insts, raw, nil
}

// SeccompData is the input a seccomp filter sees for one syscall
// (struct seccomp_data).
type SeccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// EvalSeccomp runs a compiled filter on d through an interpreter (the
// golang.org/x/net/bpf virtual machine) and returns the filter's verdict,
// for example [SeccompRetAllow] or [SeccompRetKillProcess]. It lets tests
// and audits check a policy without installing it.
//
// The virtual machine loads words in big-endian order while the kernel loads
// them in the machine's order; EvalSeccomp lays out each 32-bit word of
// seccomp_data so that the machine reads the value the kernel would.
func EvalSeccomp(prog []bpf.Instruction, d SeccompData) (uint32, error) {
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return 0, fmt.Errorf("sandbox: seccomp filter rejected by the interpreter: %w", err)
	}
	var buf [64]byte
	be := binary.BigEndian
	be.PutUint32(buf[0:], uint32(d.Nr))
	be.PutUint32(buf[4:], d.Arch)
	putWords := func(off int, v uint64) {
		lo, hi := uint32(v), uint32(v>>32)
		if !littleEndian {
			lo, hi = hi, lo
		}
		be.PutUint32(buf[off:], lo)
		be.PutUint32(buf[off+4:], hi)
	}
	putWords(8, d.IP)
	for i, a := range d.Args {
		putWords(16+8*i, a)
	}
	n, err := vm.Run(buf[:])
	if err != nil {
		return 0, fmt.Errorf("sandbox: interpreting seccomp filter: %w", err)
	}
	return uint32(n), nil
}

// SeccompAction masks a verdict down to its action (SECCOMP_RET_ACTION_FULL).
func SeccompAction(verdict uint32) uint32 { return verdict & seccompRetActionFull }
