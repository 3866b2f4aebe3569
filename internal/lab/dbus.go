package lab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// BusSocketName is the name of the private bus's socket in its directory,
// the one a real system bus uses (the dns role's chroot is that directory).
const BusSocketName = "system_bus_socket"

// lockedBuffer is dbus-daemon's output, written by exec's copier and read
// at cleanup.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// StartBus runs a private dbus-daemon whose configuration is conf with
// @LISTEN@ replaced by its address, on a socket named BusSocketName in a
// root-owned directory of mode 0755 (the directories above it 0711), and
// returns the socket's path and a connection to the bus. It skips the
// test when dbus-daemon is missing, or fails it when $CI is set (CI
// installs it). The daemon is killed at the test's cleanup.
func StartBus(t testing.TB, conf []byte) (string, *dbus.Conn) {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dbus-daemon missing: .ci/dns-check installs it in CI")
		}
		t.Skip("needs dbus-daemon (Debian package dbus-daemon)")
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, BusSocketName)
	confPath := filepath.Join(t.TempDir(), "bus.conf")
	if err := os.WriteFile(confPath, bytes.ReplaceAll(conf, []byte("@LISTEN@"), []byte("unix:path="+sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd := exec.Command(daemon, "--config-file="+confPath, "--nofork", "--nopidfile", "--nosyslog")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dbus-daemon output:\n%s", out.String())
		}
	})
	up := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			up = true
			break
		}
	}
	if !up {
		t.Fatalf("dbus-daemon's socket %s did not appear within 10 s", sock)
	}
	conn, err := dbus.Connect("unix:path=" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sock, conn
}
