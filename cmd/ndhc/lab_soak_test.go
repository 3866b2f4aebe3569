package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/engine"
	"github.com/ndhc-go/ndhc/internal/event"
	"github.com/ndhc-go/ndhc/internal/lab"
)

// The soak (issue 14): the real daemon, every role in its sandbox, renews
// a short lease from ISC dhcpd thousands of times while the server is
// restarted, the carrier drops and comes back, and renewals go
// unanswered until REBINDING. Nothing may be lost and no role may grow.
//
// Renewals are commanded (SIGUSR1, one at a time): a renewal counts only
// when the engine went BOUND > RENEWING > BOUND (or REBINDING > BOUND),
// ifch applied the lease again, and the server logged the ACK. Waiting
// for T1 instead would take hours: the shortest lease the client keeps
// as given is still seconds long, and 10,000 T1s of even 2 s are 5.5 h.
// The lease is short (50 s, under the 60 s below which the client logs
// a short lease; T1 15 s, T2 30 s) so that a renewal the server does not
// answer reaches REBINDING in 30 s, with 20 s left to answer it before
// the lease ends; T1 is long enough that a stall of the host under load
// does not start a renewal of its own between two commanded ones.
//
// SOAK_RENEWALS sets the number of renewals (make soak: 10,000); unset,
// the test runs its CI form of 200.

const (
	soakDefault = 200
	soakLease   = 50 * time.Second
	soakT1      = 15 * time.Second
	soakT2      = 30 * time.Second
	// soakRenewWait bounds one answered renewal. It is long because the
	// machines that run this are shared: stalls of several seconds were
	// seen under load.
	soakRenewWait = 30 * time.Second
	// soakRSSBound is how much higher a role's resident set may peak in
	// the second half of the run than in the first.
	soakRSSBound = 2 << 20
	// soakThreadSlack is how many more threads a role may have in the
	// second half of the run than at most in the first. The Go runtime
	// starts an OS thread when a goroutine blocks in a system call while
	// others are runnable, and keeps it idle afterwards: a role gains a
	// thread or two early (the supervisor went from 10 to 12 in the first
	// 250 renewals) as calls happen to overlap, up to its thread cap,
	// and then no more. A leak keeps adding; one more in the second half
	// is an overlap the runtime had not met before.
	soakThreadSlack = 1
)

var soakRoles = []string{"supervisor", "engine", "sockd", "ifch", "hostname"}

// procSample is one role's resources at one moment.
type procSample struct {
	rss, pss int64 // bytes
	fds      int
	fdNames  []string // what each descriptor is, for a failure message
	threads  int
}

func readProc(pid int) (procSample, error) {
	var s procSample
	dir := "/proc/" + strconv.Itoa(pid)
	st, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	kb := func(b []byte, key string) (int64, bool) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok || k != key {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n, err == nil
		}
		return 0, false
	}
	rss, ok1 := kb(st, "VmRSS")
	th, ok2 := kb(st, "Threads")
	if !ok1 || !ok2 {
		return s, fmt.Errorf("%s/status: no VmRSS or Threads", dir)
	}
	s.rss, s.threads = rss<<10, int(th)
	roll, err := os.ReadFile(dir + "/smaps_rollup")
	if err != nil {
		return s, err
	}
	pss, ok := kb(roll, "Pss")
	if !ok {
		return s, fmt.Errorf("%s/smaps_rollup: no Pss", dir)
	}
	s.pss = pss << 10
	fds, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	for _, e := range fds {
		target, _ := os.Readlink(dir + "/fd/" + e.Name())
		s.fdNames = append(s.fdNames, e.Name()+"="+target)
	}
	return s, nil
}

// soakRun is the state of one soak.
type soakRun struct {
	t    *testing.T
	l    *lab.Lab
	srv  *lab.Server
	c    *daemon
	addr netip.Prefix
	sup  int // the supervisor's pid: SIGUSR1 goes there
	pids map[string]int

	done                    int // renewals done
	signals                 int // SIGUSR1 sent
	acks, reqs, bounds      int // counted at the end
	restarts, flaps, rebind int
	samples                 []map[string]procSample
	sampledAt               []int // renewals done at each sample
}

// findRec is find without copying the records: the soak collects tens
// of thousands.
func (c *daemon) findRec(from int, match func(event.Record) bool) (event.Record, int, bool) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	for i := from; i < len(c.events); i++ {
		if match(c.events[i]) {
			return c.events[i], i, true
		}
	}
	return event.Record{}, -1, false
}

// await is waitRec for the soak: bounded, polling every 2 ms, failing
// if the client exits.
func (s *soakRun) await(d time.Duration, what string, from int, match func(event.Record) bool) int {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, i, ok := s.c.findRec(from, match); ok {
			return i
		}
		select {
		case err := <-s.c.done:
			s.c.done <- err
			s.t.Fatalf("ndhc exited (%v) while waiting for %s; states since: %v", err, what, s.c.states(from))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %v waiting for %s; states since: %v", d, what, s.c.states(from))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *soakRun) mark() int {
	s.c.evMu.Lock()
	defer s.c.evMu.Unlock()
	return len(s.c.events)
}

func (s *soakRun) usr1() {
	s.t.Helper()
	if err := syscall.Kill(s.sup, syscall.SIGUSR1); err != nil {
		s.t.Fatalf("SIGUSR1 to the supervisor (pid %d): %v", s.sup, err)
	}
	s.signals++
}

// checkAddr fails unless the kernel holds the leased address, alone.
func (s *soakRun) checkAddr(when string) {
	s.t.Helper()
	if a := clientKernelAddr(s.t, s.l); a.prefix != s.addr {
		s.t.Fatalf("%s: interface has %+v, want %v", when, a, s.addr)
	}
}

// renew commands one renewal and waits until it is bound and applied:
// exactly BOUND > RENEWING > BOUND, then ifch's configured record.
func (s *soakRun) renew(i int) {
	s.t.Helper()
	m := s.mark()
	s.usr1()
	b := s.await(soakRenewWait, fmt.Sprintf("renewal %d bound", i), m, state("BOUND"))
	s.await(soakRenewWait, fmt.Sprintf("renewal %d configured", i), b, is("configured"))
	if got := s.c.states(m); !slices.Equal(got, []string{"BOUND>RENEWING", "RENEWING>BOUND"}) {
		s.t.Fatalf("renewal %d: states %v, want BOUND>RENEWING, RENEWING>BOUND", i, got)
	}
	s.checkAddr(fmt.Sprintf("after renewal %d", i))
}

// restart restarts the server between two renewals.
func (s *soakRun) restart() {
	s.t.Helper()
	if err := s.srv.Restart(); err != nil {
		s.t.Fatal(err)
	}
	s.restarts++
}

// flap drops the carrier and brings it back: the gateway answers from the
// same MAC, so the lease is kept with no DHCP at all.
func (s *soakRun) flap() {
	s.t.Helper()
	m := s.mark()
	if err := s.l.SetCarrier(false); err != nil {
		s.t.Fatal(err)
	}
	s.await(5*time.Second, "carrier down", m, is("carrier-down"))
	time.Sleep(300 * time.Millisecond)
	if err := s.l.SetCarrier(true); err != nil {
		s.t.Fatal(err)
	}
	s.await(5*time.Second, "carrier up", m, is("carrier-up"))
	s.await(5*time.Second, "the gateway check", m, is("gateway-same"))
	if got := s.c.states(m); len(got) != 0 {
		s.t.Fatalf("flap %d: states %v, want none", s.flaps+1, got)
	}
	s.checkAddr("after a flap")
	s.flaps++
}

// rebinding stops the server, commands a renewal that goes unanswered
// until T2 (REBINDING, broadcast), starts the server again and commands
// one more request, which the restarted server answers.
func (s *soakRun) rebinding() {
	s.t.Helper()
	if err := s.srv.Stop(); err != nil {
		s.t.Fatal(err)
	}
	m := s.mark()
	s.usr1()
	s.await(5*time.Second, "RENEWING with the server down", m, state("RENEWING", "BOUND"))
	s.await(soakT2+5*time.Second, "REBINDING at T2", m, state("REBINDING", "RENEWING"))
	s.checkAddr("in REBINDING")
	if err := s.srv.Restart(); err != nil {
		s.t.Fatal(err)
	}
	s.usr1()
	b := s.await(soakRenewWait, "bound from REBINDING", m, state("BOUND"))
	s.await(soakRenewWait, "configured from REBINDING", b, is("configured"))
	if got, want := s.c.states(m), []string{"BOUND>RENEWING", "RENEWING>REBINDING", "REBINDING>BOUND"}; !slices.Equal(got, want) {
		s.t.Fatalf("rebinding %d: states %v, want %v", s.rebind+1, got, want)
	}
	s.checkAddr("after REBINDING")
	s.rebind++
	s.restarts++
}

// sample reads every role's resources once they are steady. Right after
// the configured record the engine is still busy with the renewal's last
// actions: it rewrites its lease file, and it closes the UDP socket of
// RENEWING (or, after the first bind, swaps the raw socket for the ARP
// defence's, a round trip to sockd). So the roles are read again, every
// 20 ms for at most 5 s, until no role holds the lease or IAID file and
// two reads in a row show every role with the same descriptors. A set
// that never settles is kept as read, and a leak still shows in the
// comparison of the first and last samples.
func (s *soakRun) sample(done int) {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var prev map[string]procSample
	for {
		m := map[string]procSample{}
		writing := ""
		for _, r := range soakRoles {
			p, err := readProc(s.pids[r])
			if err != nil {
				s.t.Fatalf("%s (pid %d) after %d renewals: %v", r, s.pids[r], done, err)
			}
			m[r] = p
			for _, f := range p.fdNames {
				if strings.HasSuffix(f, "/"+engine.LeaseFile) || strings.HasSuffix(f, "/"+engine.IAIDFile) {
					writing = r + " " + f
				}
			}
		}
		expired := time.Now().After(deadline)
		if writing == "" && (sameDescriptors(prev, m) || expired) {
			s.samples = append(s.samples, m)
			s.sampledAt = append(s.sampledAt, done)
			return
		}
		if expired {
			s.t.Fatalf("after %d renewals: %s still open after 5 s", done, writing)
		}
		prev = m
		time.Sleep(20 * time.Millisecond)
	}
}

// sameDescriptors reports whether every role holds the same descriptors
// in a and b.
func sameDescriptors(a, b map[string]procSample) bool {
	if a == nil {
		return false
	}
	for r, p := range b {
		if !slices.Equal(a[r].fdNames, p.fdNames) {
			return false
		}
	}
	return true
}

func soakSize(t *testing.T) int {
	v := os.Getenv("SOAK_RENEWALS")
	if v == "" {
		return soakDefault
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 20 {
		t.Fatalf("SOAK_RENEWALS=%q: want a number of renewals, at least 20", v)
	}
	return n
}

var dhcpdAckRE = regexp.MustCompile(`(?m)^DHCPACK on (\d+\.\d+\.\d+\.\d+) to `)
var dhcpdReqRE = regexp.MustCompile(`(?m)^DHCPREQUEST for (\d+\.\d+\.\d+\.\d+) `)

// TestLabSoak: SOAK_RENEWALS renewals, with a server restart or a carrier
// flap every 1/40th of the run and one to three renewals driven into
// REBINDING with the server down. Every role keeps its pid and its
// descriptors; its threads and its resident set peak no higher in the
// second half than in the first (within soakThreadSlack, soakRSSBound);
// the server acknowledged exactly the requests the client bound on; the
// address never left the interface.
func TestLabSoak(t *testing.T) {
	n := soakSize(t)
	lab.RequireServer(t, lab.ISCDhcpd)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux): the hostname role runs in a UTS namespace of its own")
	}
	l := lab.NewT(t, lab.Config{Name: "soak"})
	srv, err := l.StartISCDhcpd(lab.ServerConfig{
		Router: l.Net.Gateway(), DNS: []netip.Addr{l.Net.Gateway()}, Domain: "lab.example", Hostname: "soak-host",
		LeaseTime: soakLease, RenewTime: soakT1, RebindTime: soakT2,
		// A fresh lease, written to the lease file, on every request.
		Extra: "dhcp-cache-threshold 0;",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Info, not debug: the test keeps ndhc's whole output. Role users of
	// its own: RLIMIT_NPROC counts every thread of a uid, and lab tests
	// running at the same time must not spend the soak's budget (or it
	// theirs).
	c := startClient(t, l, clientOpts{wrap: []string{"unshare", "--uts", "--"},
		args: []string{"--set-hostname", "--log-level", "info",
			"--supervisor-user", "61140", "--engine-user", "61141", "--sockd-user", "61142", "--ifch-user", "61143", "--hostname-user", "61144"}})
	s := &soakRun{t: t, l: l, srv: srv, c: c, pids: map[string]int{}}
	start := time.Now()
	var bi int
	s.addr, bi = c.boundAddr(30*time.Second, 0)
	s.await(10*time.Second, "the gateway's MAC", 0, is("gateway"))
	s.await(10*time.Second, "the lease configured", 0, is("configured"))
	for _, r := range soakRoles {
		s.pids[r] = c.rolePid(r)
	}
	s.sup = s.pids["supervisor"]
	for _, r := range soakRoles[1:] {
		if pp := lab.ParentPID(s.pids[r]); pp != s.sup {
			t.Fatalf("%s (pid %d) has parent %d, want the supervisor %d", r, s.pids[r], pp, s.sup)
		}
	}
	s.checkAddr("after the first bind")
	s.sample(0)

	// The summary is printed however the run ends: a failure's figures
	// are the evidence.
	t.Cleanup(func() { s.summary(time.Since(start)) })

	// Every 1/40th of the run a server restart or a carrier flap, in
	// turn; at a quarter, half and three quarters (half alone in a run
	// under 1,000) a renewal driven into REBINDING instead.
	every := max(5, n/40)
	sampleEvery := max(1, n/40)
	rebindAt := map[int]bool{n / 2: true}
	if n >= 1000 {
		rebindAt[n/4], rebindAt[3*n/4] = true, true
	}
	other := 0
	for i := 1; i <= n; i++ {
		switch {
		case rebindAt[i]:
			s.rebinding() // the REBINDING > BOUND is renewal i
		case i%every == 0:
			if other%2 == 0 {
				s.restart()
			} else {
				s.flap()
			}
			other++
			s.renew(i)
		default:
			s.renew(i)
		}
		s.done = i
		if i%sampleEvery == 0 {
			s.sample(i)
		}
	}
	if s.sampledAt[len(s.sampledAt)-1] != n {
		s.sample(n)
	}

	// Nothing lost: every bound state the client reported is an ACK the
	// server logged, and the other way round; every renewal is one.
	rs := c.records()
	var bounds, renewals, signals int
	for i, r := range rs {
		switch {
		case r.Event == "state" && r.To == "BOUND":
			bounds++
			if r.From == "RENEWING" || r.From == "REBINDING" {
				renewals++
			}
			if r.Address != s.addr.String() {
				t.Errorf("bound on %s, want %v throughout", r.Address, s.addr)
			}
		case r.Event == "state" && i > bi && r.To != "RENEWING" && r.To != "REBINDING":
			// After the first bind, only renewals: never back to INIT.
			t.Errorf("unexpected state record %+v", r)
		case r.Event == "signal":
			signals++
		case slices.Contains([]string{"exit", "exiting", "lease-expired", "conflict", "refused", "gateway-changed", "done"}, r.Event):
			t.Errorf("unexpected record %+v", r)
		}
	}
	log := srv.Log()
	for _, m := range dhcpdAckRE.FindAllStringSubmatch(log, -1) {
		s.acks++
		if m[1] != s.addr.Addr().String() {
			t.Errorf("server acked %s, want %v", m[1], s.addr.Addr())
		}
	}
	s.reqs = len(dhcpdReqRE.FindAllStringIndex(log, -1))
	s.bounds = bounds
	acks := s.acks
	if renewals != n {
		t.Errorf("client reports %d renewals, want %d", renewals, n)
	}
	if acks != bounds {
		t.Errorf("server logged %d ACKs, client bound %d times (%d renewals)", acks, bounds, renewals)
	}
	if signals != s.signals {
		t.Errorf("supervisor reported %d signals, %d sent", signals, s.signals)
	}

	// Every role alive with its first pid, and flat.
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	for _, r := range soakRoles {
		pid := s.pids[r]
		if processGone(pid) {
			t.Errorf("%s (pid %d) is gone", r, pid)
		}
		if got := c.count(0, func(x event.Record) bool { return x.Event == "ready" && x.Role == r }); got != 1 {
			t.Errorf("%s: %d ready records, want 1 (no restart)", r, got)
		}
		a, b := first[r], last[r]
		if b.fds != a.fds {
			t.Errorf("%s: %d descriptors at the start, %d at the end:\n%v\n%v", r, a.fds, b.fds, a.fdNames, b.fdNames)
		}
		h := len(s.samples) / 2
		if t1, t2 := soakPeakThreads(s.samples[:h+1], r), soakPeakThreads(s.samples[h:], r); t2 > t1+soakThreadSlack {
			t.Errorf("%s: up to %d threads in the second half, %d in the first (slack %d)", r, t2, t1, soakThreadSlack)
		}
		// The first half holds the collector's warm-up: a role's RSS grows
		// by some 5 MiB after the first bind until its heap reaches the
		// runtime's first goal (4 MiB), sooner or later depending on how
		// much it allocates per renewal, and then saws between
		// collections. Warm-up and sawtooth do not raise the peak again;
		// a leak does.
		p1, p2 := soakPeak(s.samples[:h+1], r), soakPeak(s.samples[h:], r)
		if p2 > p1+soakRSSBound {
			t.Errorf("%s: RSS peaked at %d KiB in the second half, %d KiB in the first (bound +%d KiB): %v", r, p2>>10, p1>>10, soakRSSBound>>10, soakSeries(s.samples, r))
		}
	}
}

// summary logs the figures of the run: counts, and per role the
// resources after the first bind and at the last sample.
func (s *soakRun) summary(elapsed time.Duration) {
	t := s.t
	t.Logf("soak: %d renewals (%d through REBINDING) in %v; %d server restarts, %d carrier flaps; server: %d REQUESTs, %d ACKs; client: %d binds, %d SIGUSR1",
		s.done, s.rebind, elapsed.Round(time.Second), s.restarts, s.flaps, s.reqs, s.acks, s.bounds, s.signals)
	if len(s.samples) == 0 {
		return
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	var tb strings.Builder
	fmt.Fprintf(&tb, "%-10s %7s %9s %9s %9s %9s %9s %9s %5s %5s %4s %4s\n", "role", "pid", "rss0 KiB", "rss1 KiB", "peak1/2", "peak2/2", "pss0 KiB", "pss1 KiB", "fd0", "fd1", "th0", "th1")
	h := len(s.samples) / 2
	for _, r := range soakRoles {
		a, b := first[r], last[r]
		fmt.Fprintf(&tb, "%-10s %7d %9d %9d %9d %9d %9d %9d %5d %5d %4d %4d\n", r, s.pids[r], a.rss>>10, b.rss>>10,
			soakPeak(s.samples[:h+1], r)>>10, soakPeak(s.samples[h:], r)>>10, a.pss>>10, b.pss>>10, a.fds, b.fds, a.threads, b.threads)
	}
	t.Logf("per role, after the first bind (0) and after renewal %d (1):\n%s", s.sampledAt[len(s.sampledAt)-1], tb.String())
	var sb strings.Builder
	for _, r := range soakRoles {
		fmt.Fprintf(&sb, "%-10s RSS KiB %v\n", r, soakSeries(s.samples, r))
	}
	for _, r := range soakRoles {
		th := make([]int, len(s.samples))
		for i, m := range s.samples {
			th[i] = m[r].threads
		}
		fmt.Fprintf(&sb, "%-10s threads %v\n", r, th)
	}
	t.Logf("samples after renewals %v:\n%s", s.sampledAt, sb.String())
}

// soakPeak is a role's highest RSS in ss.
func soakPeak(ss []map[string]procSample, role string) int64 {
	var p int64
	for _, m := range ss {
		p = max(p, m[role].rss)
	}
	return p
}

// soakPeakThreads is a role's highest thread count in ss.
func soakPeakThreads(ss []map[string]procSample, role string) int {
	var p int
	for _, m := range ss {
		p = max(p, m[role].threads)
	}
	return p
}

func soakSeries(ss []map[string]procSample, role string) []int64 {
	out := make([]int64, len(ss))
	for i, m := range ss {
		out[i] = m[role].rss >> 10
	}
	return out
}
