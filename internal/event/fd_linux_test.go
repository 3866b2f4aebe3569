package event

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFD(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := OpenFD(int(w.Fd()))
	if err != nil {
		t.Fatalf("pipe refused: %v", err)
	}
	s.Write(Record{Event: "done"})
	buf := make([]byte, 256)
	if n, err := r.Read(buf); err != nil || n == 0 || buf[n-1] != '\n' {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := OpenFD(int(f.Fd())); err == nil {
		t.Error("a regular file accepted")
	}
	if _, err := OpenFD(987); err == nil {
		t.Error("a closed descriptor accepted")
	}
}
