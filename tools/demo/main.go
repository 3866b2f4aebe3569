// Command demo is `make demo`: a network-namespace lab with a real DHCP
// server (dnsmasq), the sandboxed ndhc client getting a lease in it, and a
// table of every ndhc process as the kernel reports it. Everything happens
// inside namespaces the demo creates and removes; the host's interfaces and
// its /etc/resolv.conf are never touched.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/lab"
	"github.com/ndhc-go/ndhc/sandbox"
)

func main() {
	bin := flag.String("ndhc", "bin/ndhc", "the ndhc binary to run")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func run(bin string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: it creates network namespaces and the client enters its sandboxes")
	}
	if m := lab.Missing("ip", "dnsmasq"); m != "" {
		return fmt.Errorf("missing %s; %s", m, lab.InstallHint())
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	lab.CleanupStale()
	step("building the lab: a server namespace running dnsmasq and a client namespace, joined by a veth pair")
	l, err := lab.New(lab.Config{Name: "demo", Subnet: netip.MustParsePrefix("10.77.0.0/24")})
	if err != nil {
		return err
	}
	defer func() {
		l.Close()
		fmt.Println("\n== lab removed: namespaces, servers and files are gone")
	}()
	// Ctrl-C still tears the lab down.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		l.Close()
		os.Exit(130)
	}()
	gw := l.Net.Gateway()
	if _, err := l.StartDnsmasq(lab.ServerConfig{
		Router: gw, DNS: []netip.Addr{gw}, Domain: "lab.example", SearchList: []string{"lab.example", "corp.example"},
		ClasslessRoutes: []lab.StaticRoute{{Dst: netip.MustParsePrefix("192.168.77.0/24"), Gateway: gw}, {Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw}},
		MTU:             1400,
	}); err != nil {
		return err
	}
	fmt.Printf("   server %s (namespace %s), client interface %s (namespace %s)\n", gw, l.Server.Name(), l.Client.IfName(), l.Client.Name())

	dir := l.Dir()
	resolv := filepath.Join(dir, "resolv.conf")
	state := filepath.Join(dir, "state")
	step("starting the client: ndhc -i %s (sandboxed supervisor, engine, sockd, ifch)", l.Client.IfName())
	var out logBuffer
	// ndhc reports what it does on its event stream (--event-fd): one JSON
	// record a line on a pipe, descriptor 3 in the child (ExtraFiles[0]).
	evR, evW, err := os.Pipe()
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := l.Client.Command(context.Background(), bin, "-i", l.Client.IfName(), "--state-dir", state,
		"--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", resolv, "--event-fd", "3")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = []*os.File{evW}
	err = cmd.Start()
	evW.Close()
	if err != nil {
		evR.Close()
		return err
	}
	events := newRecorder()
	go events.read(evR)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	}()

	// The lease is on the interface once ifch reports it configured (or
	// refused); the engine's state record to BOUND names the address.
	outcome, err := events.wait(20*time.Second, func(r event.Record) bool {
		return r.Event == "configured" || r.Event == "refused" || r.Event == "done"
	})
	if err != nil {
		select {
		case werr := <-done:
			done <- werr
			err = fmt.Errorf("%w (ndhc: %v)", err, werr)
		case <-time.After(time.Second):
		}
		fmt.Print(out.String())
		return fmt.Errorf("no lease: %w", err)
	}
	switch outcome.Event {
	case "refused":
		fmt.Print(out.String())
		return fmt.Errorf("ifch refused the lease %s: %s", outcome.Address, outcome.Cause)
	case "done":
		fmt.Print(out.String())
		return fmt.Errorf("ndhc exited before binding, status %d", *outcome.Code)
	}
	addr := outcome.Address
	if bound, ok := events.last(func(r event.Record) bool { return r.Event == "state" && r.To == "BOUND" }); ok && bound.Address != "" {
		addr = bound.Address
	}
	took := outcome.Time.Sub(start)
	fmt.Printf("   address %s on %s, %d ms after start (default fast ARP conflict check included)\n", addr, l.Client.IfName(), took.Milliseconds())

	step("what ifch configured")
	if o, err := l.Client.Run(context.Background(), "ip", "-4", "addr", "show", "dev", l.Client.IfName()); err == nil {
		fmt.Print(indent(o))
	}
	if o, err := l.Client.Run(context.Background(), "ip", "-4", "route", "show"); err == nil {
		fmt.Print(indent(o))
	}
	if b, err := os.ReadFile(resolv); err == nil {
		fmt.Printf("   resolv.conf (a file in the lab directory, not the host's):\n%s", indent(string(b)))
	}
	step("the saved lease: ndhc status")
	if o, err := exec.Command(bin, "status", "-i", l.Client.IfName(), "--state-dir", state).CombinedOutput(); err == nil {
		fmt.Print(indent(string(o)))
	}

	if err := events.failed(); err != nil {
		return err
	}
	step("every ndhc process, as the kernel reports it (/proc/PID/status)")
	if err := processTable(cmd.Process.Pid, events.ready()); err != nil {
		return err
	}
	step("the client's log")
	fmt.Print(indent(out.String()))
	fmt.Println("\n   Next: `bin/ndhc policy` shows each role's full policy, `bin/ndhc audit` proves it.")
	return nil
}

// processTable prints the supervisor and its children, as /proc shows
// them; ready holds each role's "ready" record, keyed by pid.
func processTable(supervisor int, ready map[int]event.Record) error {
	pids := append([]int{supervisor}, lab.ChildPIDs(supervisor)...)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   PID\tROLE\tUID\tCAPABILITIES\tBOUNDING\tNoNewPrivs\tSeccomp\tLANDLOCK")
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		st, err := sandbox.ParseStatus(b)
		if err != nil {
			return err
		}
		role, ll := lab.NdhcRole(pid), "?"
		if r, ok := ready[pid]; ok {
			role, ll = r.Role, landlock(r.Report)
		}
		seccomp := map[int]string{0: "off", 1: "strict", 2: "filter"}[st.Seccomp]
		fmt.Fprintf(tw, "   %d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", pid, role, st.Uid[1], sandbox.FormatCaps(st.CapEff), sandbox.FormatCaps(st.CapBnd), st.NoNewPrivs, seccomp, ll)
	}
	return tw.Flush()
}

// landlock describes the Landlock domain a role reported after entering
// its sandbox (no /proc file shows one).
func landlock(rep *sandbox.Report) string {
	switch {
	case rep == nil:
		return "?"
	case slices.Contains(rep.Degraded, sandbox.LayerLandlock):
		return "skipped (degraded)"
	case rep.LandlockABI == 0:
		return "none"
	}
	return fmt.Sprintf("enforced, ABI %d", rep.LandlockABI)
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("   " + line + "\n")
	}
	return b.String()
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recorder collects ndhc's event records as they arrive.
type recorder struct {
	mu      sync.Mutex
	recs    []event.Record
	err     error         // why the stream ended: io.EOF or a bad record
	changed chan struct{} // closed and replaced when recs or err change
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

// read decodes the stream strictly, one record a line with no unknown
// field, until ndhc closes it or a line is not a record.
func (c *recorder) read(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rec, err := decode(sc.Bytes())
		if err != nil {
			c.update(nil, err)
			return
		}
		c.update(&rec, nil)
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	c.update(nil, err)
}

// decode parses one line of the event stream.
func decode(line []byte) (event.Record, error) {
	var rec event.Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("malformed event record %q: %w", line, err)
	}
	if dec.More() {
		return rec, fmt.Errorf("malformed event record %q: more than one value on the line", line)
	}
	if rec.Event == "" || rec.Time.IsZero() {
		return rec, fmt.Errorf("malformed event record %q: no event or time", line)
	}
	if rec.Event == "done" && rec.Code == nil {
		return rec, fmt.Errorf("malformed event record %q: done without a code", line)
	}
	return rec, nil
}

func (c *recorder) update(rec *event.Record, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec != nil {
		c.recs = append(c.recs, *rec)
	}
	if err != nil {
		c.err = err
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait returns the first record that matches, waiting up to d for it.
func (c *recorder) wait(d time.Duration, match func(event.Record) bool) (event.Record, error) {
	timeout := time.After(d)
	for i := 0; ; {
		c.mu.Lock()
		for ; i < len(c.recs); i++ {
			if match(c.recs[i]) {
				r := c.recs[i]
				c.mu.Unlock()
				return r, nil
			}
		}
		err, changed := c.err, c.changed
		c.mu.Unlock()
		if errors.Is(err, io.EOF) {
			return event.Record{}, errors.New("ndhc closed its event stream")
		} else if err != nil {
			return event.Record{}, err
		}
		select {
		case <-changed:
		case <-timeout:
			return event.Record{}, fmt.Errorf("nothing within %v", d)
		}
	}
}

// last returns the latest record so far that matches.
func (c *recorder) last(match func(event.Record) bool) (event.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.recs) - 1; i >= 0; i-- {
		if match(c.recs[i]) {
			return c.recs[i], true
		}
	}
	return event.Record{}, false
}

// failed returns the error that ended the stream early: a malformed
// record, or a read error; nil while it runs or after ndhc closed it.
func (c *recorder) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(c.err, io.EOF) {
		return nil
	}
	return c.err
}

// ready returns each role's "ready" record (it entered its sandbox), keyed
// by the role's pid.
func (c *recorder) ready() map[int]event.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int]event.Record{}
	for _, r := range c.recs {
		if r.Event == "ready" && r.Pid > 0 {
			m[r.Pid] = r
		}
	}
	return m
}
