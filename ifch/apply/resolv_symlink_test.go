package apply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenResolvConfRefusesSymlink: a resolv.conf that is a symlink
// (systemd-resolved's stub-resolv.conf, say) is refused with an error that
// names the target, and the target is left as it was.
func TestOpenResolvConfRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "stub-resolv.conf")
	const orig = "nameserver 127.0.0.53\n"
	if err := os.WriteFile(target, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	r, err := OpenResolvConf(link)
	if err == nil {
		r.Close()
		t.Fatal("a symlinked resolv.conf was opened")
	}
	if !strings.Contains(err.Error(), target) {
		t.Errorf("error %q does not name the target %s", err, target)
	}
	b, err := os.ReadFile(target)
	fi, serr := os.Stat(target)
	if err != nil || string(b) != orig || serr != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("target changed: %q %v, mode %v %v", b, err, fi.Mode(), serr)
	}
	// A dangling symlink is refused too, and creates nothing.
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "absent"), dangling); err != nil {
		t.Fatal(err)
	}
	if r, err := OpenResolvConf(dangling); err == nil {
		r.Close()
		t.Fatal("a dangling symlink was opened")
	}
	if _, err := os.Lstat(filepath.Join(dir, "absent")); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was created: %v", err)
	}
	// A regular file still opens.
	plain := filepath.Join(dir, "plain")
	r, err = OpenResolvConf(plain)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}
