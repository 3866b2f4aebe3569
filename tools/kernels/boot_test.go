package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBootRow boots real guests: the rows named by NDHC_KERNELS_ROWS (a
// -run regexp, e.g. "amd64/6.12/1cpu$"), with ../../bin/ndhc. It needs
// root, qemu and the package registry, and takes about a minute per row,
// so `go test ./...` skips it unless asked; `make kernels` is the real
// entry point.
func TestBootRow(t *testing.T) {
	rows := os.Getenv("NDHC_KERNELS_ROWS")
	if rows == "" {
		t.Skip("set NDHC_KERNELS_ROWS to a row regexp to boot guests (see `kernels -list`)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath(amd64.Qemu); err != nil {
		t.Skipf("%s not found: install the Debian package %s", amd64.Qemu, amd64.QemuPkg)
	}
	ndhc, err := filepath.Abs("../../bin/ndhc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ndhc); err != nil {
		t.Skipf("%s: run make build first", ndhc)
	}
	var out, errw bytes.Buffer
	code := run([]string{"-ndhc", ndhc, "-run", rows}, &out, &errw)
	t.Logf("%s%s", errw.String(), out.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
}
