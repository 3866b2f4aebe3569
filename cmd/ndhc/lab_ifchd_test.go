package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabIfchd: with --ifchd, ndhc spawns no ifch of its own; the engine
// talks to a standalone ifchd, which sees the engine's uid (not root's)
// through SO_PEERCRED, authorises it and configures the interface.
func TestLabIfchd(t *testing.T) {
	l := newLab(t, "ifchd")
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build cmd/ifchd")
	}
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The engine's uid must be able to reach the socket.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	bin := filepath.Join(dir, "ifchd")
	build := exec.Command("go", "build", "-o", bin, "./../ifchd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ifchd: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "ifchd.sock")
	resolv := filepath.Join(dir, "resolv.conf")
	var out syncBuffer
	d := l.Client.Command(context.Background(), bin, "-socket", sock, "-socket-mode", "0666",
		"-allow", "61101:"+l.Client.IfName(), "-ifch-user", "61103",
		"-empty-dir", filepath.Join(dir, "empty"), "-resolv-conf", resolv, "-log-level", "info")
	d.Stdout, d.Stderr = &out, &out
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Kill()
		d.Wait()
		if t.Failed() {
			t.Logf("ifchd output:\n%s", out.String())
		}
	})
	waitFor(t, 10*time.Second, "ifchd's socket", func() bool { _, err := os.Stat(sock); return err == nil })

	c := startClient(t, l, clientOpts{args: []string{"-q", "--ifchd", sock}})
	if code := c.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if a := clientAddr(t, l); !a.IsValid() || !l.Net.Subnet.Contains(a.Addr()) {
		t.Fatalf("address %v", a)
	}
	<-c.evDone
	if _, ok := c.ready()["ifch"]; ok {
		t.Error("ndhc spawned its own ifch despite --ifchd")
	}
	if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver "+l.Net.Gateway().String()) {
		t.Errorf("ifchd's resolv.conf: %q %v", b, err)
	}
	// A client whose engine runs as a uid ifchd does not allow can reach
	// the socket (mode 0666 here) but is refused by ifchd's uid check.
	c2 := startClient(t, l, clientOpts{args: []string{"-q", "--ifchd", sock, "--engine-user", "61109"}})
	if code := c2.wait(20 * time.Second); code == 0 {
		t.Fatal("an engine uid outside ifchd's allowlist was served")
	}
	if !strings.Contains(c2.out.String(), "not-permitted") {
		t.Errorf("the engine did not report ifchd's refusal:\n%s", c2.out.String())
	}
}
