package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadyFDFlag: --ready-fd refuses stdin, stderr and the event
// stream's descriptor, and a regular file (the supervisor's file-size
// limit would cut it off); it takes a pipe and makes it close-on-exec.
func TestReadyFDFlag(t *testing.T) {
	for _, args := range [][]string{
		{"-i", "eth0", "--ready-fd", "0"},
		{"-i", "eth0", "--ready-fd", "2"},
		{"-i", "eth0", "--ready-fd", "-2"},
		{"-i", "eth0", "--event-fd", "3", "--ready-fd", "3"},
	} {
		if err := newClientFlags().parse(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if err := newClientFlags().parse([]string{"-i", "eth0", "--ready-fd", "4"}); err != nil {
		t.Errorf("--ready-fd 4: %v", err)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := openReadyFD(int(f.Fd())); err == nil {
		t.Error("a regular file accepted")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// A descriptor of its own, as one inherited without close-on-exec.
	fd, err := unix.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := openReadyFD(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("pipe refused: %v", err)
	}
	defer got.Close()
	if flags, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d flags %#x (%v): want close-on-exec, so no role inherits it", fd, flags, err)
	}
}
