//go:build linux

package sandbox

import (
	"errors"
	"fmt"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// LandlockABI returns the Landlock ABI version of the running kernel, or an
// error when Landlock is missing or disabled at boot.
func LandlockABI() (int, error) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0, fmt.Errorf("sandbox: landlock unavailable (kernel without CONFIG_SECURITY_LANDLOCK or not in lsm= list): %w", err)
	}
	if v < 1 {
		return 0, errors.New("sandbox: landlock unavailable: ABI version 0")
	}
	return v, nil
}

// applyLandlock restricts every thread to l's rules, handling every right
// the kernel knows. The caller has checked that the kernel has ABI 1 or
// later, so BestEffort only drops rights the kernel lacks; it never turns the
// call into a no-op.
func applyLandlock(l Landlock) error {
	cfg := landlock.V11
	if l.AllowSignalsOut {
		cfg.Scoped &^= landlock.ScopedSet(llsys.ScopeSignal)
	}
	if l.AllowAbstractOut {
		cfg.Scoped &^= landlock.ScopedSet(llsys.ScopeAbstractUnixSocket)
	}
	if l.AllowNetwork {
		cfg.HandledAccessNet = 0
	}
	var rules []landlock.Rule
	if len(l.RODirs) > 0 {
		rules = append(rules, landlock.RODirs(l.RODirs...))
	}
	if len(l.RWDirs) > 0 {
		rules = append(rules, landlock.RWDirs(l.RWDirs...))
	}
	if len(l.ROFiles) > 0 {
		rules = append(rules, landlock.ROFiles(l.ROFiles...))
	}
	if len(l.RWFiles) > 0 {
		rules = append(rules, landlock.RWFiles(l.RWFiles...))
	}
	if len(l.ConnectUnix) > 0 {
		rules = append(rules, landlock.PathAccess(llsys.AccessFSResolveUnix, l.ConnectUnix...))
	}
	for _, p := range l.BindTCP {
		rules = append(rules, landlock.BindTCP(p))
	}
	for _, p := range l.ConnectTCP {
		rules = append(rules, landlock.ConnectTCP(p))
	}
	for _, p := range l.BindUDP {
		rules = append(rules, landlock.BindUDP(p))
	}
	for _, p := range l.SendUDP {
		rules = append(rules, landlock.ConnectSendUDP(p))
	}
	if err := cfg.BestEffort().Restrict(rules...); err != nil {
		return err
	}
	return nil
}

// checkLandlockActive proves that this thread runs in a Landlock domain:
// the chroot's root directory must not be readable unless a rule allows it.
func checkLandlockActive(l Landlock) error {
	for _, d := range append(append([]string{}, l.RODirs...), l.RWDirs...) {
		if d == "/" {
			return nil // nothing to prove this way; the read-back still runs
		}
	}
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return errors.New("sandbox: landlock: the root directory is still readable after restrict")
	}
	if !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("sandbox: landlock self-check: open /: %w", err)
	}
	return nil
}
