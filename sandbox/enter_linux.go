//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Secure bits (linux/securebits.h); x/sys/unix does not define them.
const (
	secbitNoRoot                = 1 << 0
	secbitNoRootLocked          = 1 << 1
	secbitNoSetuidFixup         = 1 << 2
	secbitNoSetuidFixupLocked   = 1 << 3
	secbitKeepCapsLocked        = 1 << 5
	secbitNoCapAmbientRaise     = 1 << 6
	secbitNoCapAmbientRaiseLock = 1 << 7
	lockedSecurebits            = secbitNoRoot | secbitNoRootLocked | secbitNoSetuidFixup | secbitNoSetuidFixupLocked | secbitKeepCapsLocked | secbitNoCapAmbientRaise | secbitNoCapAmbientRaiseLock
	linuxCapabilityVersion3     = 0x20080522
)

// ResolveIDs turns a policy's user and group (names or numbers) into ids.
// It reads the system's user database, so call it before the chroot. Roles
// never run as root: uid or gid 0 is an error.
func ResolveIDs(userName, groupName string) (uid, gid uint32, err error) {
	if uid, err = ResolveUser(userName); err != nil {
		return 0, 0, err
	}
	if gid, err = ResolveGroup(groupName); err != nil {
		return 0, 0, err
	}
	if uid == 0 || gid == 0 {
		return 0, 0, fmt.Errorf("sandbox: refusing uid %d gid %d: roles never run as root", uid, gid)
	}
	return uid, gid, nil
}

// ResolveUser returns the uid of a user name or number (root included:
// the caller decides what a uid may be used for).
func ResolveUser(name string) (uint32, error) {
	uid, err := resolveID(name, func(s string) (string, error) {
		u, err := user.Lookup(s)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
	if err != nil {
		return 0, fmt.Errorf("sandbox: user %q: %w", name, err)
	}
	return uid, nil
}

// ResolveGroup returns the gid of a group name or number.
func ResolveGroup(name string) (uint32, error) {
	gid, err := resolveID(name, func(s string) (string, error) {
		g, err := user.LookupGroup(s)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
	if err != nil {
		return 0, fmt.Errorf("sandbox: group %q: %w", name, err)
	}
	return gid, nil
}

func resolveID(s string, lookup func(string) (string, error)) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}

func allThreads(trap, a1, a2, a3 uintptr) error {
	return allThreads6(trap, a1, a2, a3, 0, 0, 0)
}

func allThreadsPrctl(option, arg2, arg3, arg4 uintptr) error {
	return allThreads6(unix.SYS_PRCTL, option, arg2, arg3, arg4, 0, 0)
}

func allThreads6(trap, a1, a2, a3, a4, a5, a6 uintptr) error {
	_, _, e := syscall.AllThreadsSyscall6(trap, a1, a2, a3, a4, a5, a6)
	switch e {
	case 0:
		return nil
	case syscall.ENOTSUP:
		// syscall.AllThreadsSyscall refuses to run in a cgo build.
		return ErrCgo
	}
	return e
}

// Enter applies p to every thread of the running process: it must run as
// root with the full capability set, before the role reads any untrusted
// input. The order is fixed (see the package documentation); the first layer
// that fails stops Enter with a *LayerError, unless the layer is named in
// o.Degrade. After the last layer the kernel's view of every thread is read
// back and compared with p.
//
// Enter is irreversible: on error the process is in an undefined,
// partially restricted state and must exit.
func Enter(p Policy, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	rep := &Report{Role: p.Role}
	// Prewarm's probe makes calls no allowlist holds: it must be over.
	prewarming.Wait()
	fail := func(layer string, err error) (*Report, error) {
		return nil, &LayerError{Role: p.Role, Layer: layer, Err: err}
	}
	// The time zone is loaded on first use (the first formatted log
	// line), from /etc/localtime or $TZ's zoneinfo file: after the chroot
	// and under the allowlist that open would fail or kill the role.
	// Load it now.
	_ = time.Local.String()
	if err := p.Validate(); err != nil {
		return fail("policy", err)
	}
	if err := CheckBuild(); err != nil {
		return fail("build", err)
	}
	for _, d := range o.Degrade {
		if d != LayerLandlock && d != LayerSeccomp {
			return fail("policy", fmt.Errorf("layer %q cannot be degraded (only %s and %s can)", d, LayerLandlock, LayerSeccomp))
		}
	}
	_, prog, err := CompileSeccomp(&p)
	if err != nil {
		return fail("seccomp", err)
	}
	keep, err := CapMask(p.Caps)
	if err != nil {
		return fail("caps", err)
	}
	uid, gid, err := ResolveIDs(p.User, p.Group)
	if err != nil {
		return fail("user", err)
	}
	lastCap, err := readLastCap()
	if err != nil {
		return fail("caps", err)
	}
	// Status files are opened now and read back at the end through pread,
	// which still works after chroot, Landlock and seccomp.
	statusFiles, err := openStatusFiles()
	if err != nil {
		return fail("readback", err)
	}
	defer func() {
		for _, f := range statusFiles {
			f.Close()
		}
	}()
	pdeath := getPdeathsig()
	ApplyRuntime(&p)

	// 1. Resource limits (process-wide).
	rlimits := p.Rlimits
	if p.MemoryGrowth != 0 {
		size, err := addressSpace()
		if err != nil {
			return fail("rlimits", err)
		}
		rlimits = append(slices.Clip(rlimits), Rlimit{Resource: "AS", Max: size + p.MemoryGrowth})
	}
	for _, r := range rlimits {
		lim := unix.Rlimit{Cur: r.Max, Max: r.Max}
		if err := unix.Setrlimit(rlimitByName[r.Resource], &lim); err != nil {
			return fail("rlimits", fmt.Errorf("RLIMIT_%s=%d: %w", r.Resource, r.Max, err))
		}
	}
	syscall.Umask(int(p.Umask))

	// 2. Root directory (the fs struct is shared by every thread).
	if err := checkChrootDir(p.Chroot, uid); err != nil {
		return fail("chroot", err)
	}
	if err := unix.Chroot(p.Chroot); err != nil {
		return fail("chroot", fmt.Errorf("chroot %s: %w", p.Chroot, err))
	}
	if err := unix.Chdir("/"); err != nil {
		return fail("chroot", fmt.Errorf("chdir /: %w", err))
	}

	// 3. Secure bits: no root magic, no capability fixup on setuid (so the
	// kept capabilities survive it), no ambient raise; all locked.
	if err := allThreadsPrctl(unix.PR_SET_SECUREBITS, lockedSecurebits, 0, 0); err != nil {
		return fail("caps", fmt.Errorf("PR_SET_SECUREBITS: %w", err))
	}

	// 4. Identity (Go applies these to every thread).
	if groups, err := syscall.Getgroups(); err != nil || len(groups) > 0 {
		if err := syscall.Setgroups(nil); err != nil {
			return fail("user", fmt.Errorf("setgroups: %w", err))
		}
	}
	if err := syscall.Setresgid(int(gid), int(gid), int(gid)); err != nil {
		return fail("user", fmt.Errorf("setresgid %d: %w", gid, err))
	}
	if err := syscall.Setresuid(int(uid), int(uid), int(uid)); err != nil {
		return fail("user", fmt.Errorf("setresuid %d: %w", uid, err))
	}
	// Changing credentials clears the parent-death signal: set it again
	// and make sure the parent did not die in between.
	if pdeath != 0 {
		if err := allThreadsPrctl(unix.PR_SET_PDEATHSIG, uintptr(pdeath), 0, 0); err != nil {
			return fail("user", fmt.Errorf("PR_SET_PDEATHSIG: %w", err))
		}
	}
	if o.ParentPID != 0 && os.Getppid() != o.ParentPID {
		return fail("user", fmt.Errorf("parent %d is gone", o.ParentPID))
	}

	// 5. Bounding and ambient sets.
	for c := 0; c <= lastCap; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		// Threads inherit the bounding set of the thread that created
		// them, and Spawn's parent thread narrowed it before the fork: a
		// capability already out of this thread's set is out of every
		// thread's (the read-back below checks each one).
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && in == 0 {
			continue
		}
		if err := allThreadsPrctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0); err != nil {
			return fail("caps", fmt.Errorf("PR_CAPBSET_DROP %d: %w", c, err))
		}
	}
	if err := allThreadsPrctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0); err != nil {
		return fail("caps", fmt.Errorf("PR_CAP_AMBIENT_CLEAR_ALL: %w", err))
	}

	// 6. Permitted, effective and inheritable sets.
	hdr := unix.CapUserHeader{Version: linuxCapabilityVersion3}
	data := [2]unix.CapUserData{
		{Effective: uint32(keep), Permitted: uint32(keep)},
		{Effective: uint32(keep >> 32), Permitted: uint32(keep >> 32)},
	}
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fail("caps", fmt.Errorf("capset: %w", err))
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)

	// 7. No new privileges.
	if err := allThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0); err != nil {
		return fail("no_new_privs", err)
	}

	// 8. Landlock.
	abi, abiErr := LandlockABI()
	rep.LandlockABI = abi
	switch {
	case abiErr != nil && slices.Contains(o.Degrade, LayerLandlock):
		rep.Degraded = append(rep.Degraded, LayerLandlock)
		log.Warn("SANDBOX DEGRADED: landlock skipped by operator request; the role has no filesystem or network access control beyond chroot and seccomp",
			"policy", p.Role, "reason", abiErr)
	case abiErr != nil:
		return fail(LayerLandlock, fmt.Errorf("%w (pass --allow-degraded-sandbox=landlock to run without it)", abiErr))
	default:
		if err := applyLandlock(p.Landlock); err != nil {
			return fail(LayerLandlock, err)
		}
		if err := checkLandlockActive(p.Landlock); err != nil {
			return fail(LayerLandlock, err)
		}
		rep.LandlockEnforced, rep.LandlockMissing = LandlockRights(abi, p.Landlock)
		if len(rep.LandlockMissing) > 0 {
			log.Info("landlock rights the kernel lacks", "policy", p.Role, "abi", abi, "missing", strings.Join(rep.LandlockMissing, ","))
		}
	}

	// 9. Seccomp, synchronised to every thread.
	if err := installSeccomp(prog); err != nil {
		if slices.Contains(o.Degrade, LayerSeccomp) && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
			rep.Degraded = append(rep.Degraded, LayerSeccomp)
			log.Warn("SANDBOX DEGRADED: seccomp skipped by operator request; every syscall is reachable", "policy", p.Role, "reason", err)
		} else {
			return fail(LayerSeccomp, err)
		}
	} else {
		rep.SeccompInstructions = len(prog)
	}

	// 10. Read back what the kernel says about every thread.
	want := Expect{Uid: uid, Gid: gid, Caps: keep, Seccomp: !slices.Contains(rep.Degraded, LayerSeccomp)}
	for i, f := range statusFiles {
		st, err := preadStatus(f)
		if err != nil {
			if i > 0 && errors.Is(err, unix.ESRCH) {
				continue // that thread exited
			}
			return fail("readback", err)
		}
		if err := st.Check(want); err != nil {
			return fail("readback", fmt.Errorf("%s: %w", f.Name(), err))
		}
		if i == 0 {
			rep.Status = st
		}
		rep.ThreadsChecked++
	}
	return rep, nil
}

func getPdeathsig() int {
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		return 0
	}
	return int(sig)
}

func readLastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 || n > 63 {
		return 0, fmt.Errorf("cap_last_cap %q: %v", b, err)
	}
	return n, nil
}

// openStatusFiles opens /proc/self/status (first) and the status file of
// every thread.
func openStatusFiles() ([]*os.File, error) {
	main, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	files := []*os.File{main}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		main.Close()
		return nil, err
	}
	for _, t := range tasks {
		f, err := os.Open(filepath.Join("/proc/self/task", t.Name(), "status"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		files = append(files, f)
	}
	return files, nil
}

// addressSpace is the process's mapped address space in bytes (the first
// field of /proc/self/statm, in pages).
func addressSpace() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("sandbox: /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sandbox: /proc/self/statm: %w", err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

func preadStatus(f *os.File) (Status, error) {
	buf := make([]byte, 8192)
	n, err := unix.Pread(int(f.Fd()), buf, 0)
	if err != nil {
		return Status{}, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return ParseStatus(buf[:n])
}

// checkChrootDir refuses a chroot directory that the role could change:
// it must be a directory owned by root and not writable by group or others,
// unless the role's own uid owns it (the engine's state directory).
func checkChrootDir(dir string, uid uint32) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("chroot directory: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("chroot directory %s is not a directory", dir)
	}
	if st.Uid != 0 && st.Uid != uid {
		return fmt.Errorf("chroot directory %s is owned by uid %d, want root or %d", dir, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("chroot directory %s is writable by group or others (mode %#o)", dir, st.Mode&0o777)
	}
	return nil
}

func installSeccomp(prog []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if e != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER, TSYNC): %w", e)
	}
	if r != 0 {
		return fmt.Errorf("seccomp TSYNC: thread %d could not be synchronised", r)
	}
	return nil
}
