package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stand-in clients run in the client namespace with a script that
// only reports what it was told: the script prints "lab-event NAME" and
// then each environment variable as "lab-env KEY=VALUE". Nothing is
// configured on the interface.

// ClientEvent is one invocation of a stand-in client's script.
type ClientEvent struct {
	// Name is the event: udhcpc's first argument (deconfig, bound, renew,
	// nak, leasefail) or dhclient's $reason (PREINIT, REBOOT, BOUND,
	// EXPIRE, FAIL, ...).
	Name string
	// Env holds the variables the client passed, such as ip, router
	// (udhcpc) or new_ip_address (dhclient).
	Env map[string]string
}

// ClientRun is what a stand-in client did.
type ClientRun struct {
	// Output is everything the client and its script printed.
	Output string
	// Events are the script invocations, in order.
	Events []ClientEvent
}

// Bound returns the last event in which the client took a lease.
func (r *ClientRun) Bound() (ClientEvent, bool) {
	for i := len(r.Events) - 1; i >= 0; i-- {
		switch r.Events[i].Name {
		case "bound", "renew", "BOUND", "REBOOT", "RENEW", "REBIND":
			return r.Events[i], true
		}
	}
	return ClientEvent{}, false
}

// Addr is the address of the last lease taken, if any.
func (r *ClientRun) Addr() (netip.Addr, bool) {
	ev, ok := r.Bound()
	if !ok {
		return netip.Addr{}, false
	}
	s := ev.Env["ip"]
	if s == "" {
		s = ev.Env["new_ip_address"]
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

const reportScript = `#!/bin/sh
# written by internal/lab: report the event, change nothing
echo "lab-event ${reason:-$1}"
env | while IFS= read -r line; do echo "lab-env $line"; done
exit 0
`

// parseEvents collects the script's reports from a client's output.
func parseEvents(out string) []ClientEvent {
	var evs []ClientEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "lab-event "); ok {
			evs = append(evs, ClientEvent{Name: name, Env: map[string]string{}})
			continue
		}
		if kv, ok := strings.CutPrefix(line, "lab-env "); ok && len(evs) > 0 {
			if k, v, ok := strings.Cut(kv, "="); ok {
				evs[len(evs)-1].Env[k] = v
			}
		}
	}
	return evs
}

func (l *Lab) writeScript() (string, error) {
	p := filepath.Join(l.dir, "client-script.sh")
	if err := os.WriteFile(p, []byte(reportScript), 0o755); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	return p, nil
}

// UdhcpcOptions tunes RunUdhcpc.
type UdhcpcOptions struct {
	// RequestIP asks for this address in the DISCOVER (-r).
	RequestIP netip.Addr
	// Request adds option codes to the parameter request list (-O), on
	// top of busybox's own (1, 3, 6, 12, 15, 28).
	Request []int
	// Timeout bounds the run; zero means 30 seconds.
	Timeout time.Duration
	// Args are further udhcpc arguments.
	Args []string
}

// RunUdhcpc runs busybox udhcpc once in the client namespace: it gets
// one lease (DISCOVER, OFFER, REQUEST, ACK), reports it and exits, or
// gives up after a few tries. A run that took no lease returns an error
// along with what happened.
func (l *Lab) RunUdhcpc(ctx context.Context, o UdhcpcOptions) (*ClientRun, error) {
	bin, err := findBinary("busybox")
	if err != nil {
		return nil, err
	}
	script, err := l.writeScript()
	if err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	argv := []string{bin, "udhcpc", "-f", "-q", "-n", "-i", ClientIf, "-s", script, "-t", "4", "-T", "2", "-A", "1"}
	if o.RequestIP.IsValid() {
		argv = append(argv, "-r", o.RequestIP.String())
	}
	for _, c := range o.Request {
		argv = append(argv, "-O", strconv.Itoa(c))
	}
	argv = append(argv, o.Args...)
	out, err := l.Client.Command(ctx, argv...).CombinedOutput()
	run := &ClientRun{Output: string(out), Events: parseEvents(string(out))}
	if err != nil {
		return run, fmt.Errorf("lab: udhcpc: %w", err)
	}
	if _, ok := run.Bound(); !ok {
		return run, errors.New("lab: udhcpc: no lease")
	}
	return run, nil
}

// DhclientOptions tunes RunDhclient.
type DhclientOptions struct {
	// OldLease, if set, seeds dhclient's lease file with an unexpired
	// lease for this address, so that dhclient starts in INIT-REBOOT and
	// REQUESTs it without a server identifier (a server that does not own
	// the address should NAK).
	OldLease netip.Addr
	// Until ends the run at the first event with one of these names
	// (default BOUND, REBOOT).
	Until []string
	// Timeout bounds the run; zero means 30 seconds.
	Timeout time.Duration
}

// dhclientConf asks for the options the lab's servers can send.
const dhclientConf = `# written by internal/lab
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
timeout 20;
retry 1;
initial-interval 1;
request subnet-mask, broadcast-address, time-offset, routers,
	domain-name, domain-name-servers, domain-search, host-name,
	interface-mtu, ntp-servers, rfc3442-classless-static-routes,
	dhcp-renewal-time, dhcp-rebinding-time;
`

// RunDhclient runs ISC dhclient in the foreground in the client
// namespace until one of o.Until's events (or the timeout), then kills
// it. It returns an error along with what happened if no such event came.
func (l *Lab) RunDhclient(ctx context.Context, o DhclientOptions) (*ClientRun, error) {
	bin, err := findBinary("dhclient")
	if err != nil {
		return nil, err
	}
	script, err := l.writeScript()
	if err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if len(o.Until) == 0 {
		o.Until = []string{"BOUND", "REBOOT"}
	}
	dir, err := os.MkdirTemp(l.dir, "dhclient-")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	conf := filepath.Join(dir, "dhclient.conf")
	leases := filepath.Join(dir, "dhclient.leases")
	if err := os.WriteFile(conf, []byte(dhclientConf), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var seed string
	if o.OldLease.IsValid() {
		far := time.Now().Add(24 * time.Hour).UTC().Format("2006/01/02 15:04:05")
		seed = fmt.Sprintf("lease {\n  interface %q;\n  fixed-address %s;\n  option subnet-mask 255.255.255.0;\n"+
			"  renew 0 %s;\n  rebind 0 %s;\n  expire 0 %s;\n}\n", ClientIf, o.OldLease, far, far, far)
	}
	if err := os.WriteFile(leases, []byte(seed), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := l.Client.Command(ctx, bin, "-4", "-d", "-1", "-v", "-cf", conf, "-lf", leases,
		"-pf", filepath.Join(dir, "pid"), "-sf", script, ClientIf)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start dhclient: %w", err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
		hit bool
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			out.WriteString(line + "\n")
			mu.Unlock()
			if name, ok := strings.CutPrefix(line, "lab-event "); ok {
				for _, u := range o.Until {
					if name == u {
						mu.Lock()
						hit = true
						mu.Unlock()
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	// Stop half a second after the event was seen, once the script has
	// had time to report it in full.
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		seen := time.Time{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				h := hit
				mu.Unlock()
				if h && seen.IsZero() {
					seen = time.Now()
				}
				if h && time.Since(seen) > 500*time.Millisecond {
					cancel()
					return
				}
			}
		}
	}()
	_ = cmd.Wait()
	pw.Close()
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	run := &ClientRun{Output: out.String(), Events: parseEvents(out.String())}
	if !hit {
		return run, fmt.Errorf("lab: dhclient: none of %v within %v", o.Until, o.Timeout)
	}
	return run, nil
}
