// Command logindemo is `make demo-login`: netlogind in a network namespace
// of its own, a throwaway user logging in over TLS 1.3 with netlogin and
// running a command, and, while the command runs, a table of every process
// of the connection with its uid, capabilities, no_new_privs, seccomp and
// Landlock as the kernel reports them. Everything it creates (namespace,
// user, files, processes) is removed at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/listener"
	"github.com/ndhc-go/ndhc/internal/login/loginlab"
	"github.com/ndhc-go/ndhc/sandbox"
)

func main() {
	bin := flag.String("bin", "bin", "`directory` of netlogind, netlogind-session and netlogin (make build)")
	flag.Parse()
	if err := run(*bin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo-login:", err)
		os.Exit(1)
	}
}

// cleanups run in reverse order at the end, on error and on a signal.
type cleanups []func() error

func (c *cleanups) add(f func() error) { *c = append(*c, f) }

func (c cleanups) run() {
	for i := len(c) - 1; i >= 0; i-- {
		if err := c[i](); err != nil {
			fmt.Fprintln(os.Stderr, "demo-login: cleanup:", err)
		}
	}
}

func run(binDir string, stdout io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: netlogind runs as root, and the demo creates a user and a network namespace")
	}
	bin, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	for _, b := range []string{"netlogind", "netlogind-session", "netlogin"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%w (run make build)", err)
		}
	}
	var undo cleanups
	defer func() { undo.run() }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	dir, err := os.MkdirTemp("", "demo-login-")
	if err != nil {
		return err
	}
	undo.add(func() error { return os.RemoveAll(dir) })
	ns, removeNS, err := loginlab.NamedNetNS()
	if err != nil {
		return err
	}
	undo.add(removeNS)
	pw := randomPassword()
	user, removeUser, err := loginlab.CreateUser(pw)
	if err != nil {
		return err
	}
	undo.add(removeUser)
	if err := loginlab.WritePAMService(dir, "netlogind-demo"); err != nil {
		return err
	}
	key, cert := filepath.Join(dir, "host.key"), filepath.Join(dir, "host.crt")
	out, err := exec.Command(filepath.Join(bin, "netlogin"), "keygen", "-key", key, "-cert", cert, "-host", "127.0.0.1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("keygen: %w: %s", err, out)
	}
	fp := regexp.MustCompile(`SHA256:[0-9a-f]{64}`).FindString(string(out))
	fmt.Fprintf(stdout, "namespace %s, user %s, host key fingerprint %s\n\n", ns, user, fp)

	// netlogind, with its event stream on a pipe.
	evr, evw, err := os.Pipe()
	if err != nil {
		return err
	}
	var daemonLog bytes.Buffer
	daemon := loginlab.NSCommand(ctx, ns, filepath.Join(bin, "netlogind"),
		"-listen", "127.0.0.1:2323", "-key", key, "-cert", cert,
		"-run-dir", filepath.Join(dir, "run"),
		"-pam-service", "netlogind-demo", "-pam-confdir", dir,
		"-event-fd", "3", "-log-level", "warn")
	daemon.ExtraFiles = []*os.File{evw}
	daemon.Stderr = &daemonLog
	if err := daemon.Start(); err != nil {
		return err
	}
	evw.Close()
	undo.add(func() error {
		daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- daemon.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
			return errors.New("netlogind did not stop within 10 s of SIGTERM")
		}
	})
	events := make(chan listener.Record, 16)
	go func() {
		sc := bufio.NewScanner(evr)
		for sc.Scan() {
			var r listener.Record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				events <- r
			}
		}
		close(events)
	}()
	if err := waitListening(ctx, ns, bin); err != nil {
		return fmt.Errorf("%w\n%s", err, daemonLog.String())
	}

	// The login: the command sleeps so that its process shows in the table.
	cmdline := "id; echo FOO=$FOO LD_PRELOAD=${LD_PRELOAD-unset}; sleep 2"
	fmt.Fprintf(stdout, "$ netlogin -connect 127.0.0.1:2323 -fingerprint %s… -c '%s'\n", fp[:19], cmdline)
	client := loginlab.NSCommand(ctx, ns, filepath.Join(bin, "netlogin"), "-connect", "127.0.0.1:2323", "-fingerprint", fp, "-c", cmdline)
	client.Stdin = strings.NewReader(user + "\n" + pw + "\n")
	var clientOut, clientErr bytes.Buffer
	client.Stdout, client.Stderr = &clientOut, &clientErr
	if err := client.Start(); err != nil {
		return err
	}
	conn, err := waitAuthenticated(ctx, events)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, daemonLog.String())
	}
	// Give the command a moment to start under [session]: a child that
	// still has [session]'s credentials has been forked but has not yet
	// become the user; wait for the one that has.
	var command int
	for range 60 {
		if kids := childrenOf(conn.Session.Pid); len(kids) > 0 && uidOf(kids[0]) > 0 {
			command = kids[0]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows := []row{
		procRow("netlogind (listener)", daemon.Process.Pid, nil),
		procRow("[net]", conn.Net.Pid, conn.Net.Report),
		procRow("[session]", conn.Session.Pid, nil),
	}
	if command != 0 {
		rows = append(rows, procRow("command (the user's)", command, nil))
	}
	cerr := client.Wait()
	fmt.Fprint(stdout, clientOut.String())
	if cerr != nil {
		return fmt.Errorf("netlogin: %w: %s", cerr, clientErr.String())
	}
	fmt.Fprintln(stdout)
	printTable(stdout, rows)
	fmt.Fprintln(stdout, "\n[net] is the only process that reads the client's bytes; `netlogind audit` proves its sandbox.")
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// waitListening waits until netlogind accepts TCP connections.
func waitListening(ctx context.Context, ns, bin string) error {
	for ctx.Err() == nil {
		probe := loginlab.NSCommand(ctx, ns, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2323")
		if probe.Run() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("netlogind is not listening")
}

// waitAuthenticated returns the connection record of the first
// connection that authenticates.
func waitAuthenticated(ctx context.Context, events <-chan listener.Record) (listener.Record, error) {
	conns := map[uint64]listener.Record{}
	for {
		select {
		case r, ok := <-events:
			if !ok {
				return listener.Record{}, errors.New("netlogind's event stream ended")
			}
			switch r.Event {
			case listener.EventConnection:
				conns[r.Conn] = r
			case listener.EventAuthenticated:
				if c, ok := conns[r.Conn]; ok {
					return c, nil
				}
			}
		case <-ctx.Done():
			return listener.Record{}, errors.New("no login within the demo's time")
		}
	}
}

// uidOf is a process's real uid, or -1 when it cannot be read.
func uidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	st, err := sandbox.ParseStatus(b)
	if err != nil {
		return -1
	}
	return int(st.Uid[0])
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		var p int
		fmt.Sscan(f, &p)
		out = append(out, p)
	}
	return out
}

type row struct {
	name, pid, uid, caps, nnp, seccomp, landlock string
}

// procRow describes a process as its /proc status shows it; rep, when
// the process sent one, adds its Landlock report.
func procRow(name string, pid int, rep *sandbox.Report) row {
	r := row{name: name, pid: fmt.Sprint(pid), landlock: "none"}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		r.uid = "(gone)"
		return r
	}
	st, err := sandbox.ParseStatus(b)
	if err != nil {
		r.uid = "(unreadable)"
		return r
	}
	r.uid = fmt.Sprint(st.Uid[0])
	r.caps = capSummary(st.CapEff)
	if st.CapBnd != st.CapEff {
		r.caps += " (bounding " + capSummary(st.CapBnd) + ")"
	}
	r.nnp = fmt.Sprint(st.NoNewPrivs)
	r.seccomp = []string{"off", "strict", "filter"}[min(st.Seccomp, 2)]
	if rep != nil {
		if st.Seccomp == 2 {
			r.seccomp = fmt.Sprintf("filter (%d instructions)", rep.SeccompInstructions)
		}
		if rep.LandlockABI > 0 {
			r.landlock = fmt.Sprintf("ABI %d: %s handled, nothing granted", rep.LandlockABI, strings.Join(rep.LandlockEnforced, " "))
		}
	}
	return r
}

func capSummary(mask uint64) string {
	switch n := len(sandbox.CapNames(mask)); {
	case n == 0:
		return "none"
	case n > 20:
		return fmt.Sprintf("all (%d)", n)
	default:
		return strings.Join(sandbox.CapNames(mask), ",")
	}
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tPID\tUID\tCAPABILITIES\tNO_NEW_PRIVS\tSECCOMP\tLANDLOCK")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.pid, r.uid, r.caps, r.nnp, r.seccomp, r.landlock)
	}
	tw.Flush()
}
