package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/login/loginlab"
)

const (
	sshdPath    = "/usr/sbin/sshd"
	sshdRunDir  = "/run/sshd" // sshd 9.2's privilege-separation chroot
	sshdPort    = 2222
	netlogPort  = 2323
	pamService  = "loginbench"
	netUIDFirst = 62900
	netUIDLast  = 62999
)

// bench is one run: what it created, in order, so that it can all be
// undone.
type bench struct {
	ctx  context.Context
	opts options

	cleanups []cleanupStep

	dir             string // temporary directory: keys, configs, PAM service
	user, password  string
	userUID         uint32
	sshdUID         uint32 // sshd's privilege-separation user
	ns              string
	runner          *nsRunner
	netlogind       string // absolute, symlinks resolved: compared with /proc/PID/exe
	session, netlog string
	fingerprint     string
	nl, sshd        *daemon
	held            []*heldClient
	sshdPAMModules  []string

	startedMu sync.Mutex
	started   map[int]bool // children an exec.Cmd waits for
}

type cleanupStep struct {
	what string
	fn   func() error
}

// later registers an undo step; they run last first.
func (b *bench) later(what string, fn func() error) {
	b.cleanups = append(b.cleanups, cleanupStep{what, fn})
}

// cleanup runs every undo step, last first, and reports the ones that
// failed on stderr (the run's result stands; a leftover is named).
func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		s := b.cleanups[i]
		if err := s.fn(); err != nil {
			fmt.Fprintf(os.Stderr, "loginbench: cleanup: %s: %v\n", s.what, err)
		}
	}
	b.cleanups = nil
}

// syncBuffer collects a process's output; the tool reads it while the
// process still writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the end of a log, for error messages.
func tail(s string) string {
	const max = 3000
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}

// nsRunner is one OS thread inside the bench's network namespace. Every
// process the tool starts in the namespace is forked from it, so no `ip
// netns exec` (one more fork, exec and mount namespace) sits in the timed
// path. The thread is never released: Pdeathsig of the processes it
// started fires when their parent thread ends, so it must live as long as
// the tool.
type nsRunner struct{ reqs chan func() }

func enterNetNS(name string) (*nsRunner, error) {
	f, err := os.Open(filepath.Join("/run/netns", name))
	if err != nil {
		return nil, err
	}
	r := &nsRunner{reqs: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		errc <- err
		if err != nil {
			return // the locked thread exits with the goroutine
		}
		for fn := range r.reqs {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("entering network namespace %s: %w", name, err)
	}
	return r, nil
}

// do runs fn on the namespace's thread.
func (r *nsRunner) do(fn func() error) error {
	done := make(chan error, 1)
	r.reqs <- func() { done <- fn() }
	return <-done
}

// command runs a short setup command on the host (outside the namespace),
// bounded by the per-wait timeout.
func (b *bench) command(stdin string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// checkTools names what is missing, with the package to install.
func checkTools() error {
	var missing []string
	for _, t := range []string{sshdPath, "ssh", "ssh-keygen", "sshpass", "ip", "useradd", "userdel", "chpasswd"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: apt-get install --no-install-recommends openssh-server sshpass iproute2 passwd", strings.Join(missing, ", "))
	}
	return nil
}

// binaries finds netlogind, netlogind-session and netlogin in dir.
func (b *bench) binaries(dir string) error {
	var err error
	find := func(name string) string {
		p, e := filepath.EvalSymlinks(filepath.Join(dir, name))
		if e == nil {
			p, e = filepath.Abs(p)
		}
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w (run make build first)", name, e)
		}
		return p
	}
	b.netlogind, b.session, b.netlog = find("netlogind"), find("netlogind-session"), find("netlogin")
	return err
}

func randomHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// setup creates everything the run needs; each step registers its undo
// before the next begins.
func (b *bench) setup() error {
	// Orphans (sshd's per-connection processes outlive a killed master)
	// come to the tool instead of init, so the final sweep finds and
	// reaps them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
	}
	dir, err := os.MkdirTemp("", "loginbench-")
	if err != nil {
		return err
	}
	b.later("remove "+dir, func() error { return os.RemoveAll(dir) })
	b.dir = dir
	// Searchable by [net] and sshd's unprivileged children.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}

	su, err := user.Lookup("sshd")
	if err != nil {
		return fmt.Errorf("sshd's privilege-separation user: %w (is openssh-server installed?)", err)
	}
	uid, _ := strconv.ParseUint(su.Uid, 10, 32)
	b.sshdUID = uint32(uid)

	if err := b.createUser(); err != nil {
		return err
	}

	ns, removeNS, err := loginlab.NamedNetNS()
	if err != nil {
		return err
	}
	b.ns = ns
	b.later("delete network namespace "+b.ns, removeNS)
	if b.runner, err = enterNetNS(b.ns); err != nil {
		return err
	}

	if _, err := os.Stat(sshdRunDir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(sshdRunDir, 0o755); err != nil {
			return err
		}
		b.later("remove "+sshdRunDir, func() error { return os.Remove(sshdRunDir) })
	}

	b.later("kill and reap the tool's remaining descendants", b.sweep)

	if b.sshdPAMModules, err = pamModules("/etc/pam.d", "sshd"); err != nil {
		return fmt.Errorf("reading sshd's PAM service: %w", err)
	}
	if err := b.writeFiles(); err != nil {
		return err
	}
	out, err := b.command("", b.netlog, "keygen", "-key", filepath.Join(dir, "host.key"), "-cert", filepath.Join(dir, "host.crt"), "-host", "127.0.0.1")
	if err != nil {
		return err
	}
	if b.fingerprint = regexp.MustCompile(`SHA256:[0-9a-f]{64}`).FindString(out); b.fingerprint == "" {
		return fmt.Errorf("netlogin keygen printed no fingerprint: %q", out)
	}
	if _, err := b.command("", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "loginbench", "-f", filepath.Join(dir, "ssh_host_ed25519_key")); err != nil {
		return err
	}
	if err := b.startDaemons(); err != nil {
		return err
	}
	// Clients go first, so that the servers see their connections end.
	b.later("kill the held clients", func() error { b.releaseHeld(); return nil })
	return nil
}

// createUser makes the throwaway user both servers log in: no home
// directory, /bin/sh, a random password.
func (b *bench) createUser() error {
	b.password = "Lb-" + randomHex(12)
	name, remove, err := loginlab.CreateUser(b.password)
	if err != nil {
		return err
	}
	b.user = name
	b.later("remove user "+b.user, remove)
	u, err := user.Lookup(b.user)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return err
	}
	b.userUID = uint32(uid)
	return nil
}

// writeFiles writes netlogind's PAM service, sshd's configuration and the
// askpass program that holds ssh at its password prompt.
func (b *bench) writeFiles() error {
	pamDir := filepath.Join(b.dir, "pam")
	if err := os.Mkdir(pamDir, 0o755); err != nil {
		return err
	}
	pam := "auth     required pam_unix.so\naccount  required pam_unix.so\npassword required pam_unix.so sha512\nsession  required pam_unix.so\n"
	// Room for every held connection and some; the defaults (netlogind: 32
	// per source, 10 new a second; sshd: random drops from 10 startups)
	// would refuse the bench's own bursts from 127.0.0.1.
	room := b.opts.conns + 10
	sshdConfig := fmt.Sprintf(`# loginbench's own sshd: loopback of the bench's network namespace, password
# logins through PAM (the system's /etc/pam.d/sshd) for the throwaway user only.
Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
AuthorizedKeysFile none
PermitRootLogin no
AllowUsers %s
MaxStartups %d:30:%d
LoginGraceTime %d
`, sshdPort, filepath.Join(b.dir, "ssh_host_ed25519_key"), filepath.Join(b.dir, "sshd.pid"), b.user, room, room+100, int(b.opts.grace/time.Second))
	// ssh runs it for the password; it marks that the prompt was reached
	// and then never answers. Bounded: the tool kills it long before.
	askpass := "#!/bin/sh\n: > \"$LOGINBENCH_MARK\"\nexec sleep 900\n"
	for path, f := range map[string]struct {
		text string
		mode os.FileMode
	}{
		filepath.Join(pamDir, pamService):   {pam, 0o644},
		filepath.Join(b.dir, "sshd_config"): {sshdConfig, 0o644},
		filepath.Join(b.dir, "askpass"):     {askpass, 0o755},
	} {
		if err := os.WriteFile(path, []byte(f.text), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// daemon is a server the tool started in the namespace.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

func (b *bench) netlogindArgs() []string {
	room := strconv.Itoa(b.opts.conns + 10)
	return []string{b.netlogind,
		"-listen", fmt.Sprintf("127.0.0.1:%d", netlogPort),
		"-key", filepath.Join(b.dir, "host.key"), "-cert", filepath.Join(b.dir, "host.crt"),
		"-run-dir", filepath.Join(b.dir, "run"),
		"-pam-service", pamService, "-pam-confdir", filepath.Join(b.dir, "pam"),
		"-net-uids", fmt.Sprintf("%d-%d", netUIDFirst, netUIDLast),
		"-max-per-source", room, "-max-unauth", room, "-rate", "1000", "-burst", "1000",
		"-auth-timeout", b.opts.grace.String(),
	}
}

func (b *bench) sshdArgs() []string {
	return []string{sshdPath, "-D", "-e", "-f", filepath.Join(b.dir, "sshd_config")}
}

func (b *bench) startDaemons() error {
	var err error
	if b.nl, err = b.startDaemon("netlogind", b.netlogindArgs(), netlogPort); err != nil {
		return err
	}
	b.sshd, err = b.startDaemon("sshd", b.sshdArgs(), sshdPort)
	return err
}

// startDaemon starts argv in the namespace and waits until it listens on
// port.
func (b *bench) startDaemon(name string, argv []string, port int) (*daemon, error) {
	d := &daemon{name: name, log: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.start(d.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { d.err = b.wait(d.cmd); close(d.done) }()
	b.later("stop "+name, d.stop)
	deadline := time.Now().Add(b.opts.timeout)
	for {
		table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", d.cmd.Process.Pid))
		if err == nil && listening(table, port) {
			return d, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not listening on port %d after %v\n%s", name, port, b.opts.timeout, tail(d.log.String()))
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s exited: %v\n%s", name, d.err, tail(d.log.String()))
		case <-b.ctx.Done():
			return nil, b.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the daemon with SIGTERM, then SIGKILL. Its per-connection
// processes, which sshd detaches into sessions of their own, are the
// sweep's.
func (d *daemon) stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
		return fmt.Errorf("%s still running 10 s after SIGTERM; killed", d.name)
	}
}

// start starts cmd on the namespace's thread and notes its pid as one
// that os/exec reaps.
func (b *bench) start(cmd *exec.Cmd) error {
	if err := b.runner.do(cmd.Start); err != nil {
		return err
	}
	b.startedMu.Lock()
	if b.started == nil {
		b.started = map[int]bool{}
	}
	b.started[cmd.Process.Pid] = true
	b.startedMu.Unlock()
	return nil
}

// wait waits for a command that start started, and forgets its pid.
func (b *bench) wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	b.startedMu.Lock()
	delete(b.started, cmd.Process.Pid)
	b.startedMu.Unlock()
	return err
}

// reapOrphans reaps the tool's children that no exec.Cmd waits for:
// processes orphaned below it (sshd's per-connection processes can
// outlive their parent by a moment) that the subreaper inherited. Each is
// waited for by pid, so no exec.Cmd loses its child's status; without
// this, a long run would pile up zombies.
func (b *bench) reapOrphans() {
	t, err := readProcs("/proc")
	if err != nil {
		return
	}
	b.startedMu.Lock()
	defer b.startedMu.Unlock()
	for _, p := range t.children(os.Getpid()) {
		if !b.started[p.pid] {
			var ws unix.WaitStatus
			unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// sweep kills whatever still descends from the tool (the user's commands
// and sshd's per-connection processes left by a stopped master) and reaps
// them. Only the tool's own descendants are touched. It runs after every
// started process was waited for, so reaping any child steals no one's
// exit status.
func (b *bench) sweep() error {
	var left []*proc
	for range 50 {
		t, err := readProcs("/proc")
		if err != nil {
			return err
		}
		left = t.descendants(os.Getpid())
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	var names []string
	for _, p := range left {
		names = append(names, fmt.Sprintf("%d %s", p.pid, p.title))
	}
	return fmt.Errorf("processes left after 50 rounds: %s", strings.Join(names, "; "))
}

// heldClient is a client kept connected for the memory figures.
type heldClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // kept open: netlogin waits on it for an answer
	out   *syncBuffer
	done  chan struct{}
}

// hold starts a client in the namespace and leaves it running.
func (b *bench) hold(argv, env []string, stdin string, keepOpen bool) (*heldClient, error) {
	h := &heldClient{out: &syncBuffer{}, done: make(chan struct{})}
	h.cmd = exec.Command(argv[0], argv[1:]...)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if keepOpen {
		w, err := h.cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		h.stdin = w
	} else {
		h.cmd.Stdin = strings.NewReader(stdin)
	}
	if err := b.start(h.cmd); err != nil {
		return nil, err
	}
	b.held = append(b.held, h)
	go func() { b.wait(h.cmd); close(h.done) }()
	if keepOpen {
		if _, err := io.WriteString(h.stdin, stdin); err != nil {
			return h, err
		}
	}
	return h, nil
}

// releaseHeld kills every held client's session (the client and what it
// started: sshpass, ssh, askpass) and waits for them.
func (b *bench) releaseHeld() {
	for _, h := range b.held {
		syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
		if h.stdin != nil {
			h.stdin.Close()
		}
	}
	for _, h := range b.held {
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "loginbench: client %d not reaped 10 s after SIGKILL\n", h.cmd.Process.Pid)
		}
	}
	b.held = nil
}
