// Command loginbench is `make bench-login`: netlogind against OpenSSH's
// sshd (Debian 12: 9.2p1) on one machine, in one run, in a network
// namespace of its own (loopback only). It measures
//
//   - login latency: sequential logins that run `true`, alternating the two
//     servers, wall time from the client's exec to its exit, next to the
//     machine's fork+exec baseline;
//   - memory per connection: the PSS of the per-connection server
//     processes while K connections to each server are held, once
//     authenticated and running `sleep`, once sitting at the password
//     prompt.
//
// It creates, and removes at the end (also on error, SIGINT or SIGTERM):
// a throwaway user with a random password, the namespace, a temporary
// directory with both servers' host keys, sshd's configuration and
// netlogind's PAM service (pam_unix alone, through -pam-confdir), and
// /run/sshd if it was missing. sshd authenticates through the system's
// /etc/pam.d/sshd, which the tool only reads. Needs root, the binaries of
// `make build`, openssh-server and sshpass.
//
// How the per-connection processes are found (proc.go): from the server
// process the tool started, by parent pid, /proc/PID/exe and real uid,
// never by name. netlogind: the listener's children running netlogind
// under a [net] uid are [net]; those running netlogind-session as root are
// [session]. sshd 9.2 has one binary for every role (no sshd-session or
// sshd-auth yet): the master's children running sshd as root are the
// privileged monitors ("sshd: USER [priv]"); a monitor's child running
// sshd as the privilege-separation user is the pre-authentication
// "[net]", one running as the logged-in user is "USER@notty". The user's
// command, a child of [session] or of USER@notty, is not measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

type options struct {
	bin     string
	logins  int
	conns   int
	hold    time.Duration
	grace   time.Duration
	timeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "`directory` with netlogind, netlogind-session and netlogin (make build)")
	flag.IntVar(&o.logins, "logins", 30, "timed logins per server (and runs of each baseline)")
	flag.IntVar(&o.conns, "conns", 10, "connections held to each server for the memory figures")
	flag.DurationVar(&o.hold, "hold", 60*time.Second, "how long the held authenticated connections' `sleep` runs")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound of every single wait: a login, a server start, a connection reaching its state")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "loginbench: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "loginbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loginbench:", err)
		os.Exit(1)
	}
}

func (o *options) check() error {
	switch {
	case o.logins < 1 || o.logins > 10000:
		return fmt.Errorf("-logins %d: want 1 to 10000", o.logins)
	case o.conns < 1 || o.conns > netUIDLast-netUIDFirst+1-10:
		return fmt.Errorf("-conns %d: want 1 to %d (the [net] uid range)", o.conns, netUIDLast-netUIDFirst+1-10)
	case o.hold < 5*time.Second || o.hold > time.Hour:
		return fmt.Errorf("-hold %v: want 5s to 1h", o.hold)
	case o.timeout < time.Second || o.timeout > 10*time.Minute:
		return fmt.Errorf("-timeout %v: want 1s to 10m", o.timeout)
	}
	// The unauthenticated connections must outlive their own setup:
	// both servers get this long to see a password.
	o.grace = max(5*time.Minute, time.Duration(o.conns)*2*o.timeout)
	return nil
}

func run(ctx context.Context, o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it creates a user and a network namespace, and runs both servers")
	}
	if err := checkTools(); err != nil {
		return err
	}
	b := &bench{ctx: ctx, opts: o}
	if err := b.binaries(o.bin); err != nil {
		return err
	}
	defer b.cleanup()
	defer func() {
		// A signal ends whatever was running with an error of its own;
		// that error, and the servers' logs, would only mislead.
		if err != nil && ctx.Err() != nil {
			err = errors.New("interrupted; everything it created is removed")
		}
	}()
	load0 := loadavg()
	if err := b.setup(); err != nil {
		return err
	}
	r := &report{}
	if err := b.versions(r); err != nil {
		return err
	}
	if err := b.latency(r); err != nil {
		return err
	}
	if err := b.memory(r, true); err != nil {
		return err
	}
	if err := b.memory(r, false); err != nil {
		return err
	}
	r.load = load0 + " at the start, " + loadavg() + " at the end"
	b.print(r)
	return nil
}

// report is what the run found.
type report struct {
	sshV, sshdPkg, sshpassV, netlogindV string
	load                                string
	trueRuns, sshpassRuns               summary
	sshRuns, netlogRuns                 summary
	auth, unauth                        memFigures
}

// memFigures are the PSS sums of one phase, in kB over all K
// connections, by process kind.
type memFigures struct {
	netNet, netSession int64 // netlogind: [net], [session]
	sshPriv, sshChild  int64 // sshd: [priv], and [net] or USER@notty
	listener, master   int64 // the servers' own process, for scale
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (b *bench) versions(r *report) error {
	out, err := b.command("", "ssh", "-V")
	if err != nil {
		return err
	}
	r.sshV = strings.TrimSpace(out)
	if out, err := b.command("", "dpkg-query", "-W", "-f", "${Version}", "openssh-server"); err == nil {
		r.sshdPkg = "openssh-server " + strings.TrimSpace(out)
	}
	if out, err := b.command("", "sshpass", "-V"); err == nil {
		r.sshpassV, _, _ = strings.Cut(out, "\n")
	}
	out, err = b.command("", b.netlogind, "version")
	if err != nil {
		return err
	}
	r.netlogindV = strings.TrimSpace(out)
	return nil
}

// The clients' command lines. -F none keeps root's and the system's ssh
// configuration out (a ControlMaster there would reuse one connection);
// LogLevel=ERROR drops the known-hosts warning.
func (b *bench) sshArgv(command string) []string {
	return []string{"ssh", "-F", "none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR",
		"-p", strconv.Itoa(sshdPort), b.user + "@127.0.0.1", command}
}

func (b *bench) sshpassArgv(command string) []string {
	return append([]string{"sshpass", "-p", b.password}, b.sshArgv(command)...)
}

func (b *bench) netloginArgv(command string) []string {
	return []string{b.netlog, "-connect", fmt.Sprintf("127.0.0.1:%d", netlogPort), "-fingerprint", b.fingerprint, "-c", command}
}

func (b *bench) answers() string { return b.user + "\n" + b.password + "\n" }

// timed runs one client to its end in the namespace and returns the wall
// time from just before the fork to the reaped exit. A non-zero exit is
// an error.
func (b *bench) timed(argv []string, stdin string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := b.start(cmd); err != nil {
		return 0, fmt.Errorf("%s: %w", argv[0], err)
	}
	err := b.wait(cmd)
	took := time.Since(start)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no exit within %v", b.opts.timeout)
		}
		return 0, fmt.Errorf("%s: %w\noutput: %s", filepath.Base(argv[0]), err, tail(out.String()))
	}
	return took, nil
}

// latency times N logins per server, alternating them, and N runs of
// each baseline, all interleaved so that the machine's load, which
// changes (fuzzers in the background), falls on all four alike.
func (b *bench) latency(r *report) error {
	ssh := func() (time.Duration, error) { return b.timed(b.sshpassArgv("true"), "") }
	nl := func() (time.Duration, error) { return b.timed(b.netloginArgv("true"), b.answers()) }
	tr := func() (time.Duration, error) { return b.timed([]string{"/bin/true"}, "") }
	sp := func() (time.Duration, error) { return b.timed([]string{"sshpass", "-p", b.password, "/bin/true"}, "") }
	// One login each first, not counted: the first reads the binaries and
	// the PAM modules from disk.
	if _, err := ssh(); err != nil {
		return b.loginFailed(fmt.Errorf("sshd login: %w", err))
	}
	if _, err := nl(); err != nil {
		return b.loginFailed(fmt.Errorf("netlogind login: %w", err))
	}
	var tTrue, tSshpass, tSSH, tNL []time.Duration
	for i := range b.opts.logins {
		steps := []struct {
			name string
			f    func() (time.Duration, error)
			into *[]time.Duration
		}{{"/bin/true", tr, &tTrue}, {"sshpass /bin/true", sp, &tSshpass}, {"sshd login", ssh, &tSSH}, {"netlogind login", nl, &tNL}}
		if i%2 == 1 {
			steps[2], steps[3] = steps[3], steps[2]
		}
		for _, s := range steps {
			d, err := s.f()
			if err != nil {
				return b.loginFailed(fmt.Errorf("%s %d of %d: %w", s.name, i+1, b.opts.logins, err))
			}
			*s.into = append(*s.into, d)
		}
		if i%8 == 7 {
			b.reapOrphans()
		}
	}
	b.reapOrphans()
	r.trueRuns, r.sshpassRuns, r.sshRuns, r.netlogRuns = summarize(tTrue), summarize(tSshpass), summarize(tSSH), summarize(tNL)
	return nil
}

func (b *bench) loginFailed(err error) error {
	return fmt.Errorf("%w\nnetlogind log:\n%s\nsshd log:\n%s", err, tail(b.nl.log.String()), tail(b.sshd.log.String()))
}

// ids names the two servers' per-connection processes for proc.go.
func (b *bench) ids() (netlogindIDs, sshdIDs) {
	return netlogindIDs{listener: b.nl.cmd.Process.Pid, netExe: b.netlogind, sessionExe: b.session, uidFirst: netUIDFirst, uidLast: netUIDLast},
		sshdIDs{master: b.sshd.cmd.Process.Pid, exe: sshdPath, privsepUID: b.sshdUID, user: b.userUID}
}

// waitFor polls /proc until ok holds for a snapshot, the client h exits
// (a failed login), or the timeout.
func (b *bench) waitFor(what string, h *heldClient, ok func(*procTable) bool) (*procTable, error) {
	deadline := time.Now().Add(b.opts.timeout)
	for {
		t, err := readProcs("/proc")
		if err != nil {
			return nil, err
		}
		if ok(t) {
			return t, nil
		}
		if time.Now().After(deadline) {
			return nil, b.loginFailed(fmt.Errorf("%s: not reached within %v; client output: %s", what, b.opts.timeout, tail(h.out.String())))
		}
		var exited <-chan struct{}
		if h != nil {
			exited = h.done
		}
		select {
		case <-exited:
			return nil, b.loginFailed(fmt.Errorf("%s: the client exited (%v): %s", what, h.cmd.ProcessState, tail(h.out.String())))
		case <-b.ctx.Done():
			return nil, b.ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// memory holds K connections to each server, authenticated and running
// `sleep` or sitting at the password prompt, sums the PSS of their
// per-connection processes, and lets them go.
func (b *bench) memory(r *report, authed bool) error {
	nid, sid := b.ids()
	if _, err := b.waitFor("no connection left from the previous phase", nil, func(t *procTable) bool {
		n, s := classifyNetlogind(t, nid), classifySSHD(t, sid)
		return len(n.net)+len(n.session)+len(n.other) == 0 && len(s.priv)+len(s.other) == 0
	}); err != nil {
		return err
	}
	sleep := fmt.Sprintf("sleep %d", int(b.opts.hold/time.Second))
	for i := range b.opts.conns {
		want := i + 1
		var h *heldClient
		var err error
		if authed {
			h, err = b.hold(b.sshpassArgv(sleep), nil, "", false)
		} else {
			mark := filepath.Join(b.dir, fmt.Sprintf("asked-%d", i))
			h, err = b.hold(b.sshArgv("true"), []string{"SSH_ASKPASS=" + filepath.Join(b.dir, "askpass"), "SSH_ASKPASS_REQUIRE=force", "LOGINBENCH_MARK=" + mark}, "", false)
			if err == nil {
				_, err = b.waitFor("ssh at its password prompt", h, func(*procTable) bool { _, e := os.Stat(mark); return e == nil })
			}
		}
		if err != nil {
			return err
		}
		if _, err := b.waitFor(fmt.Sprintf("sshd connection %d of %d %s", want, b.opts.conns, phaseName(authed)), h, func(t *procTable) bool {
			s := classifySSHD(t, sid)
			if authed {
				return len(s.priv) == want && len(s.postauth) == want && s.commands == want && len(s.preauth) == 0
			}
			return len(s.priv) == want && len(s.preauth) == want && len(s.postauth) == 0
		}); err != nil {
			return err
		}

		if authed {
			h, err = b.hold(b.netloginArgv(sleep), nil, b.answers(), false)
		} else {
			// The user name only; the pipe stays open, so netlogin waits at
			// the password prompt.
			h, err = b.hold(b.netloginArgv("true"), nil, b.user+"\n", true)
			if err == nil {
				// The prompt text is pam_unix's.
				_, err = b.waitFor("netlogin at its password prompt", h, func(*procTable) bool { return strings.Contains(h.out.String(), "Password") })
			}
		}
		if err != nil {
			return err
		}
		if _, err := b.waitFor(fmt.Sprintf("netlogind connection %d of %d %s", want, b.opts.conns, phaseName(authed)), h, func(t *procTable) bool {
			n := classifyNetlogind(t, nid)
			if authed {
				return len(n.net) == want && len(n.session) == want && n.commands == want
			}
			return len(n.net) == want && len(n.session) == want && n.commands == 0
		}); err != nil {
			return err
		}
	}
	// One snapshot for both servers; every connection must still be there.
	t, err := readProcs("/proc")
	if err != nil {
		return err
	}
	n, s := classifyNetlogind(t, nid), classifySSHD(t, sid)
	k := b.opts.conns
	sshChildren := s.postauth
	if !authed {
		sshChildren = s.preauth
	}
	if len(n.net) != k || len(n.session) != k || len(s.priv) != k || len(sshChildren) != k || len(n.other)+len(s.other) > 0 {
		return fmt.Errorf("%s: at the measurement netlogind has %d [net], %d [session], %d others; sshd %d [priv], %d children, %d others; want %d each and no others (a held command ended? see -hold)",
			phaseName(authed), len(n.net), len(n.session), len(n.other), len(s.priv), len(sshChildren), len(s.other), k)
	}
	var m memFigures
	for _, x := range []struct {
		into *int64
		ps   []*proc
	}{{&m.netNet, n.net}, {&m.netSession, n.session}, {&m.sshPriv, s.priv}, {&m.sshChild, sshChildren}} {
		if *x.into, err = t.sumPSS(x.ps); err != nil {
			return err
		}
	}
	if m.listener, err = t.pss(nid.listener); err != nil {
		return err
	}
	if m.master, err = t.pss(sid.master); err != nil {
		return err
	}
	if authed {
		r.auth = m
	} else {
		r.unauth = m
	}
	b.releaseHeld()
	b.reapOrphans()
	return nil
}

func phaseName(authed bool) string {
	if authed {
		return "authenticated"
	}
	return "unauthenticated"
}

func (b *bench) print(r *report) {
	o := b.opts
	var u unix.Utsname
	unix.Uname(&u)
	fmt.Printf("loginbench: netlogind against OpenSSH sshd, in network namespace %s (loopback only)\n", b.ns)
	fmt.Printf("machine: Linux %s, %d CPUs, load average %s\n", unix.ByteSliceToString(u.Release[:]), runtime.NumCPU(), r.load)
	fmt.Printf("versions: %s; %s; %s; %s\n", r.sshV, r.sshdPkg, r.sshpassV, r.netlogindV)
	fmt.Println()
	fmt.Println("servers:")
	fmt.Printf("  sshd:      %s  (port %d; UsePAM yes, password only; config %s)\n", strings.Join(b.sshdArgs(), " "), sshdPort, "in the temporary directory")
	fmt.Printf("  netlogind: %s -log-level info\n", strings.Join(b.netlogindArgs(), " "))
	fmt.Println("clients (the same throwaway user and password):")
	fmt.Printf("  ssh:       %s\n", strings.Replace(strings.Join(b.sshpassArgv("CMD"), " "), b.password, "PW", 1))
	fmt.Printf("  netlogin:  %s   (user name and password on stdin)\n", strings.Join(b.netloginArgv("CMD"), " "))
	fmt.Println("PAM (the stacks differ; both check the password with pam_unix against /etc/shadow):")
	fmt.Printf("  sshd:      the system's /etc/pam.d/sshd with its includes (common-auth, common-account, common-session, common-password): %s\n", strings.Join(b.sshdPAMModules, " "))
	fmt.Printf("  netlogind: a service of the tool's own (-pam-confdir): pam_unix alone for auth, account, password and session\n")
	if slices.Contains(b.sshdPAMModules, "pam_motd") {
		if ents, err := os.ReadDir("/etc/update-motd.d"); err == nil {
			fmt.Printf("  (sshd's pam_motd runs the %d script(s) of /etc/update-motd.d at every login)\n", len(ents))
		}
	}
	fmt.Println()

	fmt.Printf("login latency: %d logins per server running `true`, alternating the servers, after one warm-up login each;\n", o.logins)
	fmt.Println("wall time from the client's fork to its reaped exit. The ssh figure includes sshpass (its own fork, exec and pty).")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmedian ms\tp10 ms\tp90 ms\truns\t")
	row := func(name string, s summary) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", name, ms(s.median), ms(s.p10), ms(s.p90), s.n)
	}
	row("baseline: fork+exec /bin/true", r.trueRuns)
	row("baseline: sshpass -p PW /bin/true", r.sshpassRuns)
	row("sshd (sshpass + ssh)", r.sshRuns)
	row("netlogind (netlogin)", r.netlogRuns)
	tw.Flush()
	fmt.Println()

	fmt.Printf("memory: PSS (/proc/PID/smaps_rollup) summed over the per-connection server processes, %d connections held to each server,\n", o.conns)
	fmt.Println("divided by the connections. Not counted: the user's command, the netlogind listener, the sshd master.")
	fmt.Println("  netlogind: [net] (its own uid) + [session] (root, netlogind-session)")
	fmt.Println("  sshd 9.2 (no sshd-session or sshd-auth binaries yet): [priv] monitor (root) + its child,")
	fmt.Println("             \"USER@notty\" (the user) once authenticated, \"[net]\" (the sshd user, chrooted) before")
	fmt.Println("  authenticated: running `sleep` (netlogin -c, ssh command); unauthenticated: the client sits at the password prompt")
	k := int64(o.conns)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kB per connection\tnetlogind\tsshd\tnetlogind/sshd\t")
	memRow := func(name, child string, m memFigures) {
		nl, sd := (m.netNet+m.netSession)/k, (m.sshPriv+m.sshChild)/k
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", name, nl, sd, ratio(float64(nl), float64(sd)))
		// Paired by privilege: what faces the client unprivileged, and
		// the root process that runs PAM.
		fmt.Fprintf(tw, "  unprivileged: [net] vs %s\t%d\t%d\t%s\t\n", child, m.netNet/k, m.sshChild/k, ratio(float64(m.netNet), float64(m.sshChild)))
		fmt.Fprintf(tw, "  root: [session] vs [priv]\t%d\t%d\t%s\t\n", m.netSession/k, m.sshPriv/k, ratio(float64(m.netSession), float64(m.sshPriv)))
	}
	memRow("authenticated, idle in a command", "USER@notty", r.auth)
	memRow("unauthenticated, at the password prompt", "sshd's [net]", r.unauth)
	fmt.Fprintf(tw, "not counted: listener / master, kB\t%d\t%d\t\t\n", r.auth.listener, r.auth.master)
	tw.Flush()
	fmt.Println()

	fmt.Println("figures (ratio netlogind/sshd; below 1: netlogind is faster or smaller):")
	fig := func(name, unit string, nl, sd float64) {
		fmt.Printf("  %-46s netlogind %8.1f %-3s  sshd %8.1f %-3s  ratio %s\n", name, nl, unit, sd, unit, ratio(nl, sd))
	}
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fig("login latency, median", "ms", msf(r.netlogRuns.median), msf(r.sshRuns.median))
	fig("login latency, p10", "ms", msf(r.netlogRuns.p10), msf(r.sshRuns.p10))
	fig("login latency, p90", "ms", msf(r.netlogRuns.p90), msf(r.sshRuns.p90))
	fig("PSS per authenticated connection", "kB", float64(r.auth.netNet+r.auth.netSession)/float64(k), float64(r.auth.sshPriv+r.auth.sshChild)/float64(k))
	fig("PSS per unauthenticated connection", "kB", float64(r.unauth.netNet+r.unauth.netSession)/float64(k), float64(r.unauth.sshPriv+r.unauth.sshChild)/float64(k))
	fmt.Printf("  %-46s %.1f ms median (p10 %.1f, p90 %.1f); sshpass /bin/true %.1f ms\n", "fork+exec baseline, /bin/true",
		msf(r.trueRuns.median), msf(r.trueRuns.p10), msf(r.trueRuns.p90), msf(r.sshpassRuns.median))
}
