// Package loginlab sets up what running netlogind for real needs outside
// a test: a throwaway user with a password, a PAM service of its own in a
// directory (used through pam_start_confdir, so the system's /etc/pam.d is
// never touched), and a named network namespace with loopback up. The
// demo and the benchmark use it directly; the tests through logintest.
// Everything it creates comes with the function that removes it.
package loginlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
)

var seq atomic.Int32

// CreateUser creates a user with password pw, no home directory and
// /bin/sh; remove deletes it.
func CreateUser(pw string) (name string, remove func() error, err error) {
	name = fmt.Sprintf("nlt%d%d", os.Getpid(), seq.Add(1))
	if out, err := exec.Command("useradd", "-M", "-N", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("useradd: %w: %s", err, out)
	}
	remove = func() error {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			return fmt.Errorf("userdel %s: %w: %s", name, err, out)
		}
		return nil
	}
	if err := SetPassword(name, pw); err != nil {
		return "", nil, errors.Join(err, remove())
	}
	return name, remove, nil
}

// SetPassword sets name's password with chpasswd.
func SetPassword(name, pw string) error {
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chpasswd: %w: %s", err, out)
	}
	return nil
}

// WritePAMService writes the PAM service named service into dir:
// pam_unix for every stack, and pam_env setting FOO=bar, which reaches
// commands, and LD_PRELOAD and PATH, which must not.
func WritePAMService(dir, service string) error {
	envfile := filepath.Join(dir, "environment")
	conffile := filepath.Join(dir, "pam_env.conf")
	stack := fmt.Sprintf(`auth     required pam_unix.so nodelay
account  required pam_unix.so
password required pam_unix.so sha512
session  required pam_env.so readenv=1 user_readenv=0 envfile=%s conffile=%s
session  required pam_unix.so
`, envfile, conffile)
	for path, text := range map[string]string{
		filepath.Join(dir, service): stack,
		envfile:                     "LD_PRELOAD=/nonexistent.so\nFOO=bar\nPATH=/evil\n",
		conffile:                    "",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// NamedNetNS creates a named network namespace (ip netns) with loopback
// up; remove deletes it.
func NamedNetNS() (name string, remove func() error, err error) {
	name = fmt.Sprintf("nlt-%d-%d", os.Getpid(), seq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("ip netns add: %w: %s", err, out)
	}
	remove = func() error {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			return fmt.Errorf("ip netns del %s: %w: %s", name, err, out)
		}
		return nil
	}
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return "", nil, errors.Join(fmt.Errorf("loopback up: %w: %s", err, out), remove())
	}
	return name, remove, nil
}

// NSCommand runs argv inside the named namespace, in its own process
// group, killed with the group when ctx ends or this process dies.
func NSCommand(ctx context.Context, ns string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}
