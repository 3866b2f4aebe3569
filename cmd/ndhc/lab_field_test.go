package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestLabInheritedDescriptor: a root-only file left open by whoever
// started ndhc (fd 4 here) is visible to no process of ndhc's, sandboxed
// role or supervisor.
func TestLabInheritedDescriptor(t *testing.T) {
	l := newLab(t, "inherit")
	if _, err := l.StartDnsmasq(richServer(l)); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := startClient(t, l, clientOpts{inherit: []*os.File{f}})
	c.boundAddr(20*time.Second, 0)
	ready := c.ready()
	for _, role := range []string{"supervisor", "engine", "sockd", "ifch"} {
		r, ok := ready[role]
		if !ok {
			t.Fatalf("no ready record for %s", role)
		}
		dir := "/proc/" + strconv.Itoa(r.Pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			t.Fatalf("%s: no descriptors listed in %s", role, dir)
		}
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == secret {
				t.Errorf("%s (pid %d) holds the inherited file on fd %s", role, r.Pid, e.Name())
			}
		}
	}
}
