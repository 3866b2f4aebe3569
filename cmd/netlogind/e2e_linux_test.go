package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/logintest"
)

// The end-to-end tests run the three real binaries: netlogind (static),
// netlogind-session (cgo, libpam) and netlogin, against a throwaway user
// and a PAM service of the test's own (pam_unix, pam_env).

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: netlogind runs as root, creates [net] uids and a chroot, and the test creates a user")
	}
}

// bins builds the binaries once per test binary run.
var binDir string

func buildAll(t *testing.T) string {
	t.Helper()
	if binDir != "" {
		return binDir
	}
	dir, err := os.MkdirTemp("", "netlogind-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogind", false)
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogind-session", true)
	logintest.Build(t, dir, "github.com/ndhc-go/ndhc/cmd/netlogin", false)
	binDir = dir
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

const pamService = "netlogind-test"

// testDaemon is one running netlogind.
type testDaemon struct {
	bins, dir, sock, ns string
	cmd                 *exec.Cmd
	log                 *bytes.Buffer
	done                chan error
}

// startDaemon starts netlogind on a UNIX socket (and on TCP in ns when ns
// is set) with extra flags, and waits until it answers.
func startDaemon(t *testing.T, ns string, extra ...string) *testDaemon {
	t.Helper()
	requireRoot(t)
	d := &testDaemon{bins: buildAll(t), dir: t.TempDir(), ns: ns, log: &bytes.Buffer{}, done: make(chan error, 1)}
	d.sock = filepath.Join(d.dir, "netlogind.sock")
	args := []string{filepath.Join(d.bins, "netlogind"),
		"-unix", d.sock, "-unix-mode", "0600",
		"-run-dir", filepath.Join(d.dir, "run"),
		"-pam-service", pamService, "-pam-confdir", logintest.PAMConfDir(t, pamService),
		"-net-uids", "62800-62899",
		"-fail-delay", "1s", "-log-level", "debug"}
	args = append(args, extra...)
	if ns != "" {
		d.cmd = logintest.NSCommand(context.Background(), ns, args...)
	} else {
		d.cmd = exec.Command(args[0], args[1:]...)
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	for range 200 {
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			return d
		}
		select {
		case err := <-d.done:
			t.Fatalf("netlogind exited: %v\n%s", err, d.log)
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("netlogind not answering after 5 s\n%s", d.log)
	return nil
}

// stop sends SIGTERM and checks the daemon exits 0, leaving neither
// socket nor child behind.
func (d *testDaemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd.ProcessState != nil {
		return
	}
	pid := d.cmd.Process.Pid
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("netlogind exit: %v\n%s", err, d.log)
		}
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Errorf("netlogind still running 15 s after SIGTERM\n%s", d.log)
	}
	if _, err := os.Stat(d.sock); err == nil {
		t.Errorf("socket %s left behind", d.sock)
	}
	if kids := children(pid); len(kids) > 0 {
		t.Errorf("processes left behind: %v", kids)
	}
	if t.Failed() {
		t.Logf("netlogind log:\n%s", d.log)
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == fmt.Sprint(pid) {
			var p int
			fmt.Sscan(e.Name(), &p)
			out = append(out, p)
		}
	}
	return out
}

// result is one run of netlogin.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// login runs netlogin with answers on its standard input (one per
// prompt) and the given flags.
func (d *testDaemon) client(t *testing.T, answers []string, flags ...string) result {
	t.Helper()
	argv := append([]string{filepath.Join(d.bins, "netlogin")}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if d.ns != "" {
		cmd = logintest.NSCommand(ctx, d.ns, argv...)
	} else {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	cmd.Stdin = strings.NewReader(strings.Join(answers, "\n") + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("netlogin: %v", err)
	}
	return r
}

func TestLoginAndCommands(t *testing.T) {
	d := startDaemon(t, "")
	user := logintest.ThrowawayUser(t, "Corr3ct horse")
	r := d.client(t, []string{user, "Corr3ct horse"}, "-unix", d.sock, "-c", "id -un; echo out; echo err >&2; exit 3", "-c", "env")
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0 (the last command's)\nstdout %q\nstderr %q\n%s", r.code, r.stdout, r.stderr, d.log)
	}
	if !strings.Contains(r.stdout, user+"\nout\n") || !strings.Contains(r.stderr, "err\n") {
		t.Errorf("stdout %q stderr %q: want the user's name, out and err", r.stdout, r.stderr)
	}
	env := map[string]string{}
	for _, l := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	if env["FOO"] != "bar" || env["USER"] != user || env["PATH"] != "/usr/local/bin:/usr/bin:/bin" {
		t.Errorf("environment %v: want FOO=bar from pam_env, USER, and the fixed PATH", env)
	}
	if v, ok := env["LD_PRELOAD"]; ok {
		t.Errorf("LD_PRELOAD=%q from pam_env reached the command", v)
	}
	r = d.client(t, []string{user, "Corr3ct horse"}, "-unix", d.sock, "-c", "exit 7")
	if r.code != 7 {
		t.Errorf("exit status %d, want 7", r.code)
	}
	r = d.client(t, []string{user, "Corr3ct horse"}, "-unix", d.sock, "-c", "kill -KILL $$")
	if r.code != 128+9 {
		t.Errorf("a command killed by SIGKILL: exit status %d, want 137", r.code)
	}
}

// TestWrongPasswordUnknownUser: the same answer, in the same time, for a
// wrong password and for a user that does not exist.
func TestWrongPasswordUnknownUser(t *testing.T) {
	d := startDaemon(t, "")
	user := logintest.ThrowawayUser(t, "s3cret")
	// Each three times, the fastest of each compared: a loaded machine
	// only ever adds time to a run (seen: 0.5 s to one of two single
	// runs), and equal fastest times are what a client can measure.
	var wrong, unknown result
	for i := range 3 {
		w := d.client(t, []string{user, "not it"}, "-unix", d.sock, "-c", "true")
		u := d.client(t, []string{"nosuchuser" + fmt.Sprint(os.Getpid()), "not it"}, "-unix", d.sock, "-c", "true")
		if w.code != 5 || u.code != 5 {
			t.Fatalf("exit statuses %d and %d, want 5 (authentication failed)", w.code, u.code)
		}
		if i == 0 || w.took < wrong.took {
			wrong = w
		}
		if i == 0 || u.took < unknown.took {
			unknown = u
		}
	}
	// The user's name is echoed back in nothing: the two runs print the
	// same bytes.
	if wrong.stdout != unknown.stdout || wrong.stderr != unknown.stderr {
		t.Errorf("different answers:\nwrong password: %q %q\nunknown user:   %q %q", wrong.stdout, wrong.stderr, unknown.stdout, unknown.stderr)
	}
	if diff := wrong.took - unknown.took; diff > 300*time.Millisecond || diff < -300*time.Millisecond {
		t.Errorf("wrong password took %v, unknown user %v", wrong.took, unknown.took)
	}
	if wrong.took < time.Second {
		t.Errorf("a failed login answered after %v, before the 1 s fail delay", wrong.took)
	}
}

// TestExpiredPassword: an expired password is changed through the flow,
// and the new one works.
func TestExpiredPassword(t *testing.T) {
	d := startDaemon(t, "")
	user := logintest.ThrowawayUser(t, "0ld-Passw0rd")
	if out, err := exec.Command("chage", "-d", "0", user).CombinedOutput(); err != nil {
		t.Fatalf("chage: %v: %s", err, out)
	}
	// Username, the old password; then pam_unix asks for the current one
	// again, and the new one twice.
	r := d.client(t, []string{user, "0ld-Passw0rd", "0ld-Passw0rd", "N3w-Passw0rd", "N3w-Passw0rd"}, "-unix", d.sock, "-c", "echo changed")
	if r.code != 0 || !strings.Contains(r.stdout, "changed") || !strings.Contains(r.stderr, "New password") {
		t.Fatalf("expired password flow: status %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if r := d.client(t, []string{user, "N3w-Passw0rd"}, "-unix", d.sock, "-c", "echo again"); r.code != 0 {
		t.Errorf("the new password: status %d %q", r.code, r.stderr)
	}
}

// TestTLS: netlogin verifies the server by its pinned fingerprint or its
// CA, and refuses a wrong fingerprint before any protocol byte.
func TestTLS(t *testing.T) {
	requireRoot(t)
	bins := buildAll(t)
	keys := t.TempDir()
	key, cert := filepath.Join(keys, "host.key"), filepath.Join(keys, "host.crt")
	out, err := exec.Command(filepath.Join(bins, "netlogin"), "keygen", "-key", key, "-cert", cert, "-host", "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v: %s", err, out)
	}
	fp := regexp.MustCompile(`SHA256:[0-9a-f]{64}`).FindString(string(out))
	if fp == "" {
		t.Fatalf("keygen printed no fingerprint: %s", out)
	}
	ns := logintest.NamedNetNS(t)
	d := startDaemon(t, ns, "-listen", "127.0.0.1:2323", "-key", key, "-cert", cert)
	user := logintest.ThrowawayUser(t, "tls-Passw0rd")
	r := d.client(t, []string{user, "tls-Passw0rd"}, "-connect", "127.0.0.1:2323", "-fingerprint", fp, "-c", "echo over tls")
	if r.code != 0 || r.stdout != "over tls\n" {
		t.Errorf("pinned fingerprint: status %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = d.client(t, []string{user, "tls-Passw0rd"}, "-connect", "127.0.0.1:2323", "-ca", cert, "-c", "echo ca")
	if r.code != 0 || r.stdout != "ca\n" {
		t.Errorf("CA file: status %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	bad := "SHA256:" + strings.Repeat("ab", 32)
	r = d.client(t, []string{user, "tls-Passw0rd"}, "-connect", "127.0.0.1:2323", "-fingerprint", bad, "-c", "echo must not run")
	if r.code == 0 || strings.Contains(r.stdout, "must not run") {
		t.Errorf("wrong fingerprint: status %d stdout %q: want refused", r.code, r.stdout)
	}
	if strings.Contains(r.stderr, "Password") {
		t.Errorf("wrong fingerprint: a prompt came through: %q", r.stderr)
	}
}

// TestInheritedDescriptorsClosed: a descriptor the daemon's parent left
// open without close-on-exec reaches neither [net] nor [session].
func TestInheritedDescriptorsClosed(t *testing.T) {
	requireRoot(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	bins := buildAll(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	// The pipe's write end as fd 9, without close-on-exec, through a
	// shell that leaves it open for netlogind.
	cmd := exec.Command("/bin/sh", "-c", `exec "$@" 9>&3`, "sh", filepath.Join(bins, "netlogind"),
		"-unix", sock, "-run-dir", filepath.Join(dir, "run"), "-net-uids", "62790-62799", "-log-level", "error")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var c net.Conn
	for range 200 {
		if c, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if c == nil {
		t.Fatalf("netlogind not answering: %v", err)
	}
	defer c.Close()
	c.Read(make([]byte, 64)) // the greeting: both processes are up
	target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	kids := children(cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("%d children, want [net] and [session]", len(kids))
	}
	for _, pid := range append(kids, cmd.Process.Pid) {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); l == target {
				t.Errorf("process %d holds the parent's pipe as fd %s", pid, e.Name())
			}
		}
	}
}
