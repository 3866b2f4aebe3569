// Command demo is `make demo`: a network-namespace lab with a real DHCP
// server (dnsmasq), the sandboxed ndhc client getting a lease in it, and a
// table of every ndhc process as the kernel reports it. Everything happens
// inside namespaces the demo creates and removes; the host's interfaces and
// its /etc/resolv.conf are never touched.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

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
	start := time.Now()
	cmd := l.Client.Command(context.Background(), bin, "-i", l.Client.IfName(), "--state-dir", state,
		"--empty-dir", filepath.Join(dir, "empty"), "--resolv-conf", resolv)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
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

	var addr netip.Prefix
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !addr.IsValid(); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			fmt.Print(out.String())
			return fmt.Errorf("ndhc exited before binding: %v", err)
		default:
		}
		if addrs, err := l.Client.Addrs(); err == nil {
			for _, a := range addrs {
				if a.Addr().Is4() {
					addr = a
				}
			}
		}
	}
	if !addr.IsValid() {
		fmt.Print(out.String())
		return fmt.Errorf("no lease within 20s")
	}
	took := time.Since(start)
	time.Sleep(100 * time.Millisecond) // let routes and resolv.conf land
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

	step("every ndhc process, as the kernel reports it (/proc/PID/status)")
	if err := processTable(cmd.Process.Pid, out.String()); err != nil {
		return err
	}
	step("the client's log")
	fmt.Print(indent(out.String()))
	fmt.Println("\n   Next: `bin/ndhc policy` shows each role's full policy, `bin/ndhc audit` proves it.")
	return nil
}

// processTable prints the supervisor and its children.
func processTable(supervisor int, log string) error {
	pids := append([]int{supervisor}, lab.ChildPIDs(supervisor)...)
	landlock := landlockByRole(log)
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
		role := lab.NdhcRole(pid)
		ll := landlock[role]
		if ll == "" {
			ll = "?"
		}
		seccomp := map[int]string{0: "off", 1: "strict", 2: "filter"}[st.Seccomp]
		fmt.Fprintf(tw, "   %d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", pid, role, st.Uid[1], sandbox.FormatCaps(st.CapEff), sandbox.FormatCaps(st.CapBnd), st.NoNewPrivs, seccomp, ll)
	}
	return tw.Flush()
}

var sandboxed = regexp.MustCompile(`msg="role sandboxed".* child=(\w+) .*landlock_abi=(\d+)`)

// landlockByRole reads the Landlock ABI each role reported after entering
// its sandbox (no /proc file shows a Landlock domain).
func landlockByRole(log string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if g := sandboxed.FindStringSubmatch(sc.Text()); g != nil {
			m[g[1]] = "enforced, ABI " + g[2]
		}
	}
	return m
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
