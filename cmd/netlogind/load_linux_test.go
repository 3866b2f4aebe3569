package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/internal/login/client"
	"github.com/ndhc-go/ndhc/internal/login/logintest"
	"github.com/ndhc-go/ndhc/internal/login/wire"
)

// Load: 200 connections at once, 150 of them unauthenticated and silent
// at the username prompt; the 50 others log in while the 150 are held,
// run a command, and end. NETLOGIND_LOAD=idle,authed overrides the counts.
func TestLoad(t *testing.T) {
	idle, authed := 150, 50
	if v := os.Getenv("NETLOGIND_LOAD"); v != "" {
		a, b, _ := strings.Cut(v, ",")
		idle, _ = strconv.Atoi(a)
		authed, _ = strconv.Atoi(b)
	}
	d := startDaemon(t, "", "-net-uids", "63000-63299", "-max-conns", "256", "-max-unauth", fmt.Sprint(idle+authed+10), "-max-per-source", "256",
		"-rate", "1000", "-burst", "1000", "-auth-timeout", "180s", "-log-level", "info")
	user := logintest.ThrowawayUser(t, "L0ad-test")

	// The silent ones: connected, greeted, prompted, and then nothing.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.Dial("unix", d.sock)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		held = append(held, c)
	}
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		r := wire.NewReader(c)
		for {
			m, err := r.Read()
			if err != nil {
				t.Fatalf("idle connection %d: no prompt: %v", i, err)
			}
			if m.Type == wire.TypePrompt {
				break
			}
		}
	}
	pid := d.cmd.Process.Pid
	if n := len(children(pid)); n != 2*idle {
		t.Fatalf("%d processes for %d idle connections, want %d", n, idle, 2*idle)
	}
	idleMem := memory(t, pid)

	// The authenticated ones, all at once, each holding its session until
	// every one has logged in, so that 200 connections are up together.
	var loggedIn sync.WaitGroup
	loggedIn.Add(authed)
	peak := make(chan struct{})
	type outcome struct {
		status int
		out    string
		err    error
	}
	results := make(chan outcome, authed)
	start := time.Now()
	for i := range authed {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			conn, err := client.Dial(ctx, client.Options{Network: "unix", Address: d.sock})
			if err != nil {
				loggedIn.Done()
				results <- outcome{err: err}
				return
			}
			defer conn.Close()
			ui := &scriptUI{answers: []string{user, "L0ad-test"}, commands: []string{fmt.Sprintf("echo $((%d*7))", i)}, loggedIn: &loggedIn, peak: peak}
			status, err := client.Run(ctx, conn, ui)
			results <- outcome{status: status, out: ui.out.String(), err: err}
		}()
	}
	waited := make(chan struct{})
	go func() { loggedIn.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(150 * time.Second):
		t.Fatal("the authenticated connections did not all log in within 150 s")
	}
	loginTime := time.Since(start)
	n := len(children(pid))
	total := memory(t, pid)
	close(peak)
	for i := range authed {
		r := <-results
		if r.err != nil || r.status != 0 {
			t.Errorf("authenticated connection: status %d, err %v", r.status, r.err)
			continue
		}
		if !strings.HasSuffix(r.out, "\n") {
			t.Errorf("connection %d: output %q", i, r.out)
		}
	}
	if n != 2*(idle+authed) {
		t.Errorf("%d processes at the peak, want %d", n, 2*(idle+authed))
	}
	// The silent ones are still there, untouched, once the others' two
	// processes each have gone.
	for i := 0; i < 100 && len(children(pid)) > 2*idle; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(children(pid)); n != 2*idle {
		t.Errorf("%d processes after the authenticated ones ended, want %d", n, 2*idle)
	}
	t.Logf("%d unauthenticated idle connections: [net] median PSS %d kB, [session] median %d kB, per connection %d kB",
		idle, idleMem.netMedian, idleMem.sessionMedian, idleMem.netMedian+idleMem.sessionMedian)
	t.Logf("peak, %d connections (%d authenticated, each in its session): [net] median %d kB, [session] median %d kB, all %d processes %d kB; %d logins took %v together",
		idle+authed, authed, total.netMedian, total.sessionMedian, total.count, total.sum, authed, loginTime.Round(time.Millisecond))
	for _, c := range held {
		c.Close()
	}
	held = nil
	deadline := time.Now().Add(60 * time.Second)
	for len(children(pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(children(pid)); n > 0 {
		t.Errorf("%d processes left 60 s after every client went away", n)
	}
}

// scriptUI answers prompts from a list and runs commands once every
// client of the load has logged in.
type scriptUI struct {
	answers, commands []string
	loggedIn          *sync.WaitGroup
	peak              chan struct{}
	once              sync.Once
	out               bytes.Buffer
}

func (u *scriptUI) Text(string) {}

func (u *scriptUI) Prompt(text string, echo bool) ([]byte, error) {
	if len(u.answers) == 0 {
		return nil, fmt.Errorf("unexpected prompt %q", text)
	}
	a := u.answers[0]
	u.answers = u.answers[1:]
	return []byte(a), nil
}

func (u *scriptUI) NextCommand() (string, bool, error) {
	u.once.Do(func() {
		u.loggedIn.Done()
		<-u.peak
	})
	if len(u.commands) == 0 {
		return "", false, nil
	}
	c := u.commands[0]
	u.commands = u.commands[1:]
	return c, true, nil
}

func (u *scriptUI) Stdout() io.Writer { return &u.out }
func (u *scriptUI) Stderr() io.Writer { return io.Discard }

// memoryFigures sums the proportional set size of the daemon's children.
type memoryFigures struct {
	count, sum               int
	netMedian, sessionMedian int
}

func memory(t *testing.T, daemon int) memoryFigures {
	t.Helper()
	var nets, sessions []int
	var f memoryFigures
	for _, p := range children(daemon) {
		kb, err := pss(p)
		if err != nil {
			continue // gone meanwhile
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		if filepath.Base(exe) == "netlogind-session" {
			sessions = append(sessions, kb)
		} else {
			nets = append(nets, kb)
		}
		f.count++
		f.sum += kb
	}
	f.netMedian, f.sessionMedian = median(nets), median(sessions)
	return f
}

func median(v []int) int {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// pss reads a process's proportional set size in kB.
func pss(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no Pss in smaps_rollup of %d", pid)
}
