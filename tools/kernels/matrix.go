package main

import (
	"debug/elf"
	"fmt"
	"regexp"
	"strings"
)

// Arch is a guest architecture: how to boot it under qemu and which ELF
// machine the binaries put into its initramfs must be built for.
type Arch struct {
	Name    string      // Debian's name: amd64, arm64
	Qemu    string      // the qemu system emulator
	QemuPkg string      // the Debian package that has it
	Machine []string    // machine and CPU arguments
	Console string      // the serial console device as the kernel names it
	ELF     elf.Machine // e_machine of the ndhc and busybox binaries
	// VDSOClock is a clocksource whose clock_gettime stays in the vDSO,
	// SyscallClocks those that make it a real syscall. arm64's only
	// clocksource (arch_sys_counter) is vDSO-capable: nothing to choose.
	VDSOClock     string
	SyscallClocks []string
}

var (
	amd64 = &Arch{
		Name:    "amd64",
		Qemu:    "qemu-system-x86_64",
		QemuPkg: "qemu-system-x86",
		// KVM hangs on the machines this was measured on: always TCG. The
		// default pc machine has the HPET and the PIIX4 ACPI PM timer, so
		// every clocksource the matrix asks for exists.
		Machine:       []string{"-accel", "tcg"},
		Console:       "ttyS0",
		ELF:           elf.EM_X86_64,
		VDSOClock:     "tsc",
		SyscallClocks: []string{"hpet", "acpi_pm"},
	}
	arm64 = &Arch{
		Name:    "arm64",
		Qemu:    "qemu-system-aarch64",
		QemuPkg: "qemu-system-arm",
		// cpu max for the newest instructions Go and the kernel use;
		// pauth-impdef because TCG's architected pointer-authentication
		// algorithm (QARMA) is slow to emulate.
		Machine: []string{"-accel", "tcg", "-M", "virt", "-cpu", "max,pauth-impdef=on"},
		Console: "ttyAMA0",
		ELF:     elf.EM_AARCH64,
	}
	arches = []*Arch{amd64, arm64}
)

// Kernel is one Debian kernel package line. Meta is the metapackage that
// depends on the current build of that line, so the matrix follows
// Debian's security updates without naming ABI numbers here.
type Kernel struct {
	Name string // short name used in row names: 6.1, 6.12-cloud
	Arch *Arch
	Meta string
	// LandlockABI is the ABI the kernel reports with Landlock enabled
	// (measured; DESIGN.md "Kernels in the field"); 0 means not checked.
	LandlockABI int
	// Smoke marks a flavour that gets one row instead of the full set:
	// the cloud kernels share the generic kernels' code and Landlock, and
	// differ in configuration (drivers, timers), which one boot exercises.
	Smoke bool
}

func kernelsFor(a *Arch) []*Kernel {
	return []*Kernel{
		{Name: "6.1", Arch: a, Meta: "linux-image-" + a.Name, LandlockABI: 2},
		{Name: "6.12", Arch: a, Meta: "linux-image-6.12-" + a.Name, LandlockABI: 6},
		// Cloud images get their address by DHCP: ndhc's likeliest home.
		// Debian builds the cloud flavour for amd64 and arm64.
		{Name: "6.1-cloud", Arch: a, Meta: "linux-image-cloud-" + a.Name, LandlockABI: 2, Smoke: true},
		{Name: "6.12-cloud", Arch: a, Meta: "linux-image-6.12-cloud-" + a.Name, LandlockABI: 6, Smoke: true},
	}
}

// AuditStep is one `ndhc audit --json` run in the guest and what it must
// show.
type AuditStep struct {
	Degrade    bool   // pass --allow-degraded-sandbox=landlock
	ExpectPass bool   // exit 0 and "pass": true
	MustName   string // when failing: the output must name this (case-insensitive)
}

// Name is the step's name on the guest's marker lines.
func (a AuditStep) Name() string {
	if a.Degrade {
		return "degraded"
	}
	return "strict"
}

// DaemonStep is the daemon leasing from udhcpd over a veth pair in the
// guest. The daemon is always expected to bind and renew: a row where it
// must be refused would be a different step.
type DaemonStep struct {
	Degrade bool
}

// Row is one guest boot: a kernel, how it is booted, and what ndhc must
// do in it.
type Row struct {
	Kernel      *Kernel
	Variant     string
	VCPUs       int
	Clocksource string // asked on the command line; "" leaves the kernel's choice
	NoLandlock  bool   // boot with an lsm= list that leaves Landlock out
	Audits      []AuditStep
	Daemon      *DaemonStep
}

// Name is what -run matches: arch/kernel/variant.
func (r *Row) Name() string {
	return r.Kernel.Arch.Name + "/" + r.Kernel.Name + "/" + r.Variant
}

// matrix is every row for the given kernels. Each condition appears at
// least once per kernel rather than as a full product:
//   - the clocksource decides whether clock_gettime stays in the vDSO (tsc)
//     or becomes a real syscall (hpet, acpi_pm), which the seccomp lists
//     must then allow;
//   - the vCPU count decides what the kernel picks by itself: 6.1 marks the
//     TSC unstable under TCG with two vCPUs and falls back to the HPET,
//     6.12 keeps the TSC; the 2cpu row records that choice, and one row per
//     syscall clocksource asks for it so that every kernel takes that path;
//   - Landlock's absence is tested on the vDSO clocksource so that its row
//     can fail only for Landlock reasons.
func matrix(kernels []*Kernel) []*Row {
	strict := []AuditStep{{ExpectPass: true}}
	var rows []*Row
	for _, k := range kernels {
		if k.Smoke {
			rows = append(rows, &Row{Kernel: k, Variant: "2cpu", VCPUs: 2, Audits: strict, Daemon: &DaemonStep{}})
			continue
		}
		rows = append(rows,
			&Row{Kernel: k, Variant: "1cpu", VCPUs: 1, Audits: strict, Daemon: &DaemonStep{}},
			&Row{Kernel: k, Variant: "2cpu", VCPUs: 2, Audits: strict, Daemon: &DaemonStep{}})
		for i, cs := range k.Arch.SyscallClocks {
			// Alternate the vCPU count so that each clocksource is not
			// only ever seen on one of them.
			n := 2 - i%2
			rows = append(rows, &Row{Kernel: k, Variant: fmt.Sprintf("%dcpu-%s", n, cs), VCPUs: n, Clocksource: cs,
				Audits: strict, Daemon: &DaemonStep{}})
		}
		rows = append(rows, &Row{Kernel: k, Variant: "no-landlock", VCPUs: 1, Clocksource: k.Arch.VDSOClock, NoLandlock: true,
			Audits: []AuditStep{
				// Refused by name without the operator's consent...
				{ExpectPass: false, MustName: "landlock"},
				// ...and every other layer proven with it.
				{Degrade: true, ExpectPass: true},
			},
			Daemon: &DaemonStep{Degrade: true}})
	}
	return rows
}

// selectRows keeps the rows whose name matches the -run regexp (all when
// it is empty).
func selectRows(rows []*Row, run string) ([]*Row, error) {
	if run == "" {
		return rows, nil
	}
	re, err := regexp.Compile(run)
	if err != nil {
		return nil, fmt.Errorf("-run: %w", err)
	}
	var out []*Row
	for _, r := range rows {
		if re.MatchString(r.Name()) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		names := make([]string, len(rows))
		for i, r := range rows {
			names[i] = r.Name()
		}
		return nil, fmt.Errorf("-run %q matches no row; rows:\n  %s", run, strings.Join(names, "\n  "))
	}
	return out, nil
}

// withoutLandlock is Debian's built-in LSM order (CONFIG_LSM) with
// Landlock removed, so that the guest runs every other LSM it would
// normally run and only Landlock is absent.
func withoutLandlock(configLSM string) string {
	var keep []string
	for _, l := range strings.Split(configLSM, ",") {
		if l = strings.TrimSpace(l); l != "" && l != "landlock" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, ",")
}
