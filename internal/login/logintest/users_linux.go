package logintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ndhc-go/ndhc/internal/login/loginlab"
)

// ThrowawayUser creates a user with password pw, no home directory and
// /bin/sh, removed when the test ends.
func ThrowawayUser(t testing.TB, pw string) string {
	t.Helper()
	name, remove, err := loginlab.CreateUser(pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Error(err)
		}
	})
	return name
}

// SetPassword sets name's password with chpasswd.
func SetPassword(t testing.TB, name, pw string) {
	t.Helper()
	if err := loginlab.SetPassword(name, pw); err != nil {
		t.Fatal(err)
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

// PAMConfDir writes the PAM service of loginlab.WritePAMService into a
// temporary directory and returns the directory.
func PAMConfDir(t testing.TB, service string) string {
	t.Helper()
	dir := t.TempDir()
	if err := loginlab.WritePAMService(dir, service); err != nil {
		t.Fatal(err)
	}
	return dir
}
