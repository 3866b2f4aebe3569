package main

import (
	"bytes"
	"debug/elf"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ndhc-go/ndhc/policies"
)

// guestInit is PID 1 in every guest: it runs the row's steps and reports
// them on the serial console.
//
//go:embed guest/init.sh
var guestInit []byte

// guestModules are loaded by the guest before its steps: veth for the pair
// that carries the DHCP traffic (Debian builds it as a module).
var guestModules = []string{"veth"}

// roleUsers are the users and groups ndhc's roles run as by default, in
// the order of policies.All, each with its own uid from firstRoleUID up,
// which also lets the host name the role in a seccomp record. Taken from
// the policies themselves: a list kept here by hand missed a new role's
// user, and the guest's audit failed on it.
var roleUsers = func() []string {
	var users []string
	for _, p := range policies.All() {
		if !slices.Contains(users, p.User) {
			users = append(users, p.User)
		}
	}
	return users
}()

const firstRoleUID = 101

// checkStatic refuses a binary that could not run in the guest: built for
// another machine, or dynamically linked (the initramfs has no libc).
func checkStatic(path string, want elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %s, the guest needs %s", path, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the guest has no libc (build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}

// buildInitramfs writes an uncompressed newc initramfs for one kernel: the
// kernel unpacks it directly, and skipping gzip saves a second of host time
// per kernel for ~10 MB.
func buildInitramfs(out string, t *kernelTree, busybox, ndhc string) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	nd, err := os.ReadFile(ndhc)
	if err != nil {
		return err
	}
	mods, err := t.modules(guestModules...)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	c := newCPIO(f)
	dir := func(name string, mode uint32) cpioEntry {
		return cpioEntry{Name: name, Mode: cpioDir | mode}
	}
	file := func(name string, mode uint32, data []byte) cpioEntry {
		return cpioEntry{Name: name, Mode: cpioFile | mode, Data: data}
	}
	modDir := "lib/modules/" + t.Release
	var order []string
	entries := []cpioEntry{
		dir("bin", 0o755), dir("sbin", 0o755), dir("etc", 0o755), dir("proc", 0o555),
		dir("sys", 0o555), dir("dev", 0o755), dir("run", 0o755), dir("tmp", 0o1777),
		dir("var", 0o755), dir("var/lib", 0o755), dir("lib", 0o755), dir("lib/modules", 0o755),
		dir(modDir, 0o755),
		// The kernel opens /dev/console for init before anything is
		// mounted: without this node init would have no stdout.
		{Name: "dev/console", Mode: cpioChar | 0o600, RMaj: 5, RMin: 1},
		// Only busybox itself: init installs the applet links at boot
		// (busybox --install -s), which works for any guest architecture
		// without running the guest's busybox on the host.
		file("bin/busybox", 0o755, bb),
		{Name: "bin/sh", Mode: cpioSymlink | 0o777, Data: []byte("busybox")},
		file("bin/ndhc", 0o755, nd),
		file("init", 0o755, guestInit),
		file("etc/passwd", 0o644, passwd()),
		file("etc/group", 0o644, group()),
	}
	for _, m := range mods {
		name := modDir + "/" + m.Name + ".ko"
		entries = append(entries, file(name, 0o644, m.Data))
		order = append(order, "/"+name)
	}
	entries = append(entries, file("etc/modules-load", 0o644, []byte(strings.Join(order, "\n")+"\n")))
	for _, e := range entries {
		if err := c.Add(e); err != nil {
			return err
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	return f.Close()
}

// passwd and group hold root and the role users.
func passwd() []byte {
	var b bytes.Buffer
	b.WriteString("root:x:0:0:root:/root:/bin/sh\n")
	for i, u := range roleUsers {
		fmt.Fprintf(&b, "%s:x:%d:%d::/nonexistent:/bin/false\n", u, firstRoleUID+i, firstRoleUID+i)
	}
	return b.Bytes()
}

func group() []byte {
	var b bytes.Buffer
	b.WriteString("root:x:0:\n")
	for i, u := range roleUsers {
		fmt.Fprintf(&b, "%s:x:%d:\n", u, firstRoleUID+i)
	}
	return b.Bytes()
}

// initramfsPath is where a kernel's initramfs is built inside the run's
// work directory.
func initramfsPath(work string, t *kernelTree) string {
	return filepath.Join(work, safeName(t.Kernel.Arch.Name+"-"+t.Release)+".cpio")
}
