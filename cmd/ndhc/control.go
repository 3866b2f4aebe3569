package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/internal/control"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
)

// controlSocketPath resolves --control-socket: empty is the default path
// of iface, "none" no socket.
func controlSocketPath(flag, iface string) string {
	switch flag {
	case "":
		return control.DefaultPath(iface)
	case "none":
		return ""
	}
	return flag
}

// lookupGroup resolves --control-group: a group name or a number.
func lookupGroup(name string) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("control-group %q: %w", name, err)
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("control-group %q: gid %q", name, g.Gid)
	}
	return uint32(n), nil
}

// controlFlags are the flags every control command takes.
type controlFlags struct {
	fs      *flag.FlagSet
	iface   string
	socket  string
	asJSON  bool
	timeout time.Duration
	wait    bool
}

func newControlFlags(cmd string) *controlFlags {
	c := &controlFlags{fs: flag.NewFlagSet("ndhc "+cmd, flag.ContinueOnError)}
	c.fs.StringVar(&c.iface, "interface", "", "interface of the running client (also -i)")
	c.fs.StringVar(&c.iface, "i", "", "short for --interface")
	c.fs.StringVar(&c.socket, "control-socket", "", "the client's control socket (default /run/ndhc/IFACE/control)")
	c.fs.BoolVar(&c.asJSON, "json", false, "print the state as one JSON object (wait: one a line)")
	switch cmd {
	case "wait":
		c.fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long, exit 5")
	case "renew", "release", "rebind":
		c.fs.BoolVar(&c.wait, "wait", false, "after the command is accepted, wait for the next change of state and print it")
		c.fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "with --wait: give up after this long, exit 5")
	}
	return c
}

func (c *controlFlags) parse(args []string) int {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if c.fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", c.fs.Name(), c.fs.Arg(0))
		return exitcode.Usage
	}
	if !roles.ValidInterfaceName(c.iface) {
		fmt.Fprintf(os.Stderr, "%s: give the interface with -i IFACE (a Linux interface name)\n", c.fs.Name())
		return exitcode.Usage
	}
	if c.socket == "none" || c.timeout < 0 || c.timeout > control.MaxWait {
		fmt.Fprintf(os.Stderr, "%s: bad --control-socket or --timeout (0 to %v)\n", c.fs.Name(), control.MaxWait)
		return exitcode.Usage
	}
	c.socket = controlSocketPath(c.socket, c.iface)
	return -1
}

// controlCmd is `ndhc show|renew|release|rebind|wait -i IFACE`.
func controlCmd(cmd string, args []string, out io.Writer) int {
	c := newControlFlags(cmd)
	if code := c.parse(args); code >= 0 {
		return code
	}
	if cmd == "wait" {
		return c.waitBound(out)
	}
	conn, err := control.Dial(c.socket, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v (is ndhc running on %s?)\n", cmd, err, c.iface)
		return exitcode.Failure
	}
	defer conn.Close()
	var before *control.State
	if c.wait {
		// The state before the command, to see the next change.
		r, err := conn.Do(control.Request{Op: control.Show}, 5*time.Second)
		if code := replyError(cmd, r, err); code != exitcode.OK {
			return code
		}
		before = r.State
		conn.Close()
		if conn, err = control.Dial(c.socket, 0); err != nil {
			fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", cmd, err)
			return exitcode.Failure
		}
	}
	r, err := conn.Do(control.Request{Op: control.Op(cmd)}, 5*time.Second)
	if code := replyError(cmd, r, err); code != exitcode.OK {
		return code
	}
	if r.Status == control.StatusOK {
		printState(out, r.State, c.asJSON)
		return exitcode.OK
	}
	if !c.wait {
		if !c.asJSON {
			fmt.Fprintf(out, "%s: accepted (handed to the client on %s)\n", cmd, c.iface)
		}
		return exitcode.OK
	}
	// The change the command leads to: a lease obtained after the one
	// held before (renew, rebind), or the release done.
	return c.stream(cmd, out, func(st *control.State) bool {
		if cmd == "release" {
			return st.State == "RELEASED"
		}
		return st.Bound() && st.Obtained.After(before.Obtained)
	})
}

// replyError reports a failed exchange or a refused request.
func replyError(cmd string, r control.Reply, err error) int {
	if err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", cmd, err)
		return exitcode.Failure
	}
	switch r.Status {
	case control.StatusRefused, control.StatusError:
		fmt.Fprintf(os.Stderr, "ndhc %s: %s: %s\n", cmd, r.Status, r.Error)
		return exitcode.Failure
	}
	return exitcode.OK
}

// waitBound is `ndhc wait`: exit 0 once the interface is BOUND and
// configured, 5 on timeout, 1 if the daemon goes away.
func (c *controlFlags) waitBound(out io.Writer) int {
	if c.timeout <= 0 {
		fmt.Fprintln(os.Stderr, "ndhc wait: --timeout must be more than 0")
		return exitcode.Usage
	}
	return c.stream("wait", out, (*control.State).Bound)
}

// stream asks for a wait and reads states until done says so (exit 0),
// the timeout passes (exit 5) or the daemon goes away (exit 1). The
// connection is retried while the socket does not exist yet.
func (c *controlFlags) stream(name string, out io.Writer, done func(*control.State) bool) int {
	deadline := time.Now().Add(c.timeout)
	conn, err := control.Dial(c.socket, c.timeout)
	if err != nil {
		if time.Now().Before(deadline) {
			fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", name, err)
			return exitcode.Failure
		}
		fmt.Fprintf(os.Stderr, "ndhc %s: no client listening on %s within %v\n", name, c.socket, c.timeout)
		return exitcode.NoLease
	}
	defer conn.Close()
	// The daemon's end of the wait outlasts this one by a second: the
	// timeout is the client's to see, not a close to guess about.
	ms := min(max(time.Until(deadline).Milliseconds(), 1)+1000, control.MaxWait.Milliseconds())
	if err := conn.Send(control.Request{Op: control.Wait, TimeoutMS: ms}); err != nil {
		fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", name, err)
		return exitcode.Failure
	}
	var last *control.State
	for {
		r, err := conn.Next(deadline)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) || (errors.Is(err, control.ErrClosed) && !time.Now().Before(deadline)):
			if c.asJSON && last != nil {
				printState(out, last, true)
			}
			fmt.Fprintf(os.Stderr, "ndhc %s: %s: not done within %v\n", name, c.iface, c.timeout)
			return exitcode.NoLease
		case err != nil:
			fmt.Fprintf(os.Stderr, "ndhc %s: %v\n", name, err)
			return exitcode.Failure
		}
		if code := replyError(name, r, nil); code != exitcode.OK {
			return code
		}
		if r.Status != control.StatusOK {
			fmt.Fprintf(os.Stderr, "ndhc %s: unexpected %s reply\n", name, r.Status)
			return exitcode.Failure
		}
		last = r.State
		if done(r.State) {
			printState(out, r.State, c.asJSON)
			return exitcode.OK
		}
	}
}

// printState prints st for humans, or as one JSON object.
func printState(out io.Writer, st *control.State, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintf(out, "%s\n", b)
		return
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (in %s)", t.Local().Format(time.DateTime), time.Until(t).Round(time.Second))
	}
	fmt.Fprintf(out, "interface:  %s\nstate:      %s\n", st.Interface, st.State)
	if st.Address.IsValid() {
		fmt.Fprintf(out, "address:    %s (configured: %v)\n", st.Address, st.Configured)
	}
	if st.Server.IsValid() {
		fmt.Fprintf(out, "server:     %s\n", st.Server)
	}
	if st.Router.IsValid() {
		fmt.Fprintf(out, "router:     %s\n", st.Router)
	}
	if !st.Obtained.IsZero() {
		fmt.Fprintf(out, "obtained:   %s\nrenew (T1): %s\nrebind(T2): %s\nexpires:    %s\n",
			st.Obtained.Local().Format(time.DateTime), when(st.T1), when(st.T2), when(st.Expiry))
	}
	fmt.Fprintf(out, "renewals:   %d\nconflicts:  %d\nstarted:    %s\n", st.Renewals, st.Conflicts, st.Started.Local().Format(time.DateTime))
	if st.DNS != "" {
		fmt.Fprintf(out, "dns:        %s\n", st.DNS)
	}
	if st.LastError != nil {
		fmt.Fprintf(out, "last error: %s %s at %s\n", st.LastError.Event, st.LastError.Cause, st.LastError.Time.Local().Format(time.DateTime))
	}
	fmt.Fprintf(out, "roles:\n")
	for _, r := range st.Roles {
		sb := []string{fmt.Sprintf("uid %d", r.Uid), "caps " + r.Caps, fmt.Sprintf("no_new_privs %d", r.NoNewPrivs),
			fmt.Sprintf("seccomp %d (%d instructions)", r.Seccomp, r.SeccompInstructions), fmt.Sprintf("landlock ABI %d", r.LandlockABI)}
		if len(r.Degraded) > 0 {
			sb = append(sb, "degraded "+strings.Join(r.Degraded, ","))
		}
		fmt.Fprintf(out, "  %-10s pid %-7d %s\n", r.Name, r.Pid, strings.Join(sb, ", "))
	}
}
