package logintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

var userSeq atomic.Int32

// ThrowawayUser creates a user with password pw, no home directory and
// /bin/sh, removed when the test ends.
func ThrowawayUser(t testing.TB, pw string) string {
	t.Helper()
	name := fmt.Sprintf("nlt%d%d", os.Getpid(), userSeq.Add(1))
	if out, err := exec.Command("useradd", "-M", "-N", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	SetPassword(t, name, pw)
	return name
}

// SetPassword sets name's password with chpasswd.
func SetPassword(t testing.TB, name, pw string) {
	t.Helper()
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
}

// Build builds the package pkg (an import path) into dir, with cgo when
// cgo is set (netlogind-session) and static otherwise, and returns the
// binary's path.
func Build(t testing.TB, dir, pkg string, cgo bool) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH to build %s: %v", pkg, err)
	}
	cmd := exec.Command(gobin, "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if cgo {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v: %s", pkg, err, out)
	}
	return bin
}

// PAMConfDir writes a PAM service named service into a temporary
// directory (for pam_start_confdir, so the system's /etc/pam.d is never
// touched) and returns the directory: pam_unix for every stack, and
// pam_env setting FOO=bar, which must reach commands, and LD_PRELOAD and
// PATH, which must not.
func PAMConfDir(t testing.TB, service string) string {
	t.Helper()
	dir := t.TempDir()
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
			t.Fatal(err)
		}
	}
	return dir
}
