package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace a lab creates; CleanupStale
// only ever looks at namespaces whose names start with it.
const Prefix = "ndhc-"

// Interface names used inside the lab's namespaces.
const (
	// ClientIf is the client's interface in the client namespace.
	ClientIf = "eth0"
	// BridgeIf is the bridge in each network namespace; it holds the
	// network's gateway address and servers listen on it.
	BridgeIf = "br0"
	// ClientPort is the bridge port that is the client's cable end.
	ClientPort = "cli0"
	// SquatterIf is a squatter's interface in its own namespace.
	SquatterIf = "eth0"
)

// cmdTimeout bounds every `ip` command the lab runs.
const cmdTimeout = 15 * time.Second

// DefaultSubnet is the first network's subnet when Config.Subnet is unset.
var DefaultSubnet = netip.MustParsePrefix("10.77.0.0/24")

// Config describes a lab to build.
type Config struct {
	// Name labels the namespaces: 1 to 12 characters from [a-z0-9].
	// Empty means "lab".
	Name string
	// Subnet is the first network's IPv4 subnet, with a prefix length
	// from 8 to 29; the bridge gets its first host address. Zero means
	// DefaultSubnet.
	Subnet netip.Prefix
	// ClientMAC, if set, is the hardware address of the client's eth0;
	// otherwise the kernel picks a random one.
	ClientMAC net.HardwareAddr
	// Dir holds configuration, lease and log files. Empty means a new
	// temporary directory that Close removes; a given Dir is kept.
	Dir string
}

// Lab is a running set of namespaces; see the package documentation for
// its layout. Its methods are safe for concurrent use.
type Lab struct {
	// Net is the first network; Server is its namespace.
	Net *Network
	// Server is the namespace of the first network, where servers run.
	Server *NS
	// Client is the client's namespace; its interface is ClientIf.
	Client *NS

	id     string // ndhc-<name>-<pid>-<rand>
	dir    string
	ownDir bool

	mu         sync.Mutex
	closed     bool
	nets       []*Network
	squatters  []*NS
	created    []string // namespace names, in creation order
	servers    []*Server
	captures   []*Capture
	attachedTo *Network
	carrierOn  bool
}

var nameRE = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

// New builds a lab: the first network's namespace with its bridge, the
// client namespace, and the veth pair joining them, all up. On error it
// removes whatever it had created.
func New(cfg Config) (*Lab, error) {
	if cfg.Name == "" {
		cfg.Name = "lab"
	}
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("lab: name %q: want 1 to 12 characters from [a-z0-9]", cfg.Name)
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = DefaultSubnet
	}
	if err := checkSubnet(cfg.Subnet); err != nil {
		return nil, err
	}
	if cfg.ClientMAC != nil && len(cfg.ClientMAC) != 6 {
		return nil, fmt.Errorf("lab: client MAC %v: want 6 bytes", cfg.ClientMAC)
	}
	var rnd [2]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("lab: random id: %w", err)
	}
	l := &Lab{id: fmt.Sprintf("%s%s-%d-%s", Prefix, cfg.Name, os.Getpid(), hex.EncodeToString(rnd[:]))}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "ndhc-lab-")
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		l.dir, l.ownDir = d, true
	} else {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		l.dir = cfg.Dir
	}
	if err := l.build(cfg); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func checkSubnet(p netip.Prefix) error {
	if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 29 {
		return fmt.Errorf("lab: subnet %v: want IPv4 with a prefix length from 8 to 29", p)
	}
	return nil
}

func (l *Lab) build(cfg Config) error {
	n, err := l.addNetwork(cfg.Subnet)
	if err != nil {
		return err
	}
	l.Net, l.Server = n, n.NS
	cli, err := l.newNS("cli", ClientIf)
	if err != nil {
		return err
	}
	l.Client = cli
	args := []string{"-n", cli.name, "link", "add", ClientIf}
	if cfg.ClientMAC != nil {
		args = append(args, "address", cfg.ClientMAC.String())
	}
	args = append(args, "type", "veth", "peer", "name", ClientPort, "netns", n.NS.name)
	if err := ip(args...); err != nil {
		return err
	}
	if err := ip("-n", n.NS.name, "link", "set", ClientPort, "master", BridgeIf, "up"); err != nil {
		return err
	}
	if err := ip("-n", cli.name, "link", "set", ClientIf, "up"); err != nil {
		return err
	}
	l.attachedTo, l.carrierOn = n, true
	return nil
}

// newNS creates the namespace <id>-<suffix> with loopback up and IPv6 off.
func (l *Lab) newNS(suffix, ifName string) (*NS, error) {
	name := l.id + "-" + suffix
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errClosed
	}
	l.created = append(l.created, name)
	l.mu.Unlock()
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	ns := &NS{name: name, ifName: ifName, lab: l}
	if err := ip("-n", name, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	// No IPv6: no DAD, router solicitations or MLD reports in captures.
	err := ns.Do(func() error {
		for _, k := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6"
			if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: disable ipv6 in %s: %w", name, err)
	}
	return ns, nil
}

// ID is the common prefix of the names of this lab's namespaces.
func (l *Lab) ID() string { return l.id }

// Dir is the directory holding the lab's configuration, lease and log files.
func (l *Lab) Dir() string { return l.dir }

// Networks lists the lab's networks, the first one first.
func (l *Lab) Networks() []*Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Network(nil), l.nets...)
}

// Network is one L2 segment: a namespace with a bridge holding the
// gateway address, where servers run and squatters are plugged in.
type Network struct {
	// NS is the network's namespace; its IfName is BridgeIf.
	NS *NS
	// Subnet is the network's IPv4 subnet.
	Subnet netip.Prefix

	lab   *Lab
	index int // 1 for the first network
}

// Gateway is the bridge's address: the first host address of the subnet.
func (n *Network) Gateway() netip.Addr { return n.Subnet.Masked().Addr().Next() }

// Host returns the i-th host address of the subnet (1 is the gateway).
func (n *Network) Host(i int) netip.Addr {
	a := n.Subnet.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Broadcast is the subnet's broadcast address.
func (n *Network) Broadcast() netip.Addr {
	return n.Host(1<<(32-n.Subnet.Bits()) - 1)
}

// Mask is the subnet mask in dotted-quad form.
func (n *Network) Mask() netip.Addr {
	m := net.CIDRMask(n.Subnet.Bits(), 32)
	return netip.AddrFrom4([4]byte(m))
}

// AddNetwork creates a further network (namespace <id>-srv<N>) with its
// own bridge and subnet, for tests that move the client to a different
// network. Subnets of different networks may overlap.
func (l *Lab) AddNetwork(subnet netip.Prefix) (*Network, error) {
	if err := checkSubnet(subnet); err != nil {
		return nil, err
	}
	return l.addNetwork(subnet)
}

func (l *Lab) addNetwork(subnet netip.Prefix) (*Network, error) {
	l.mu.Lock()
	idx := len(l.nets) + 1
	l.mu.Unlock()
	suffix := "srv"
	if idx > 1 {
		suffix = "srv" + strconv.Itoa(idx)
	}
	ns, err := l.newNS(suffix, BridgeIf)
	if err != nil {
		return nil, err
	}
	n := &Network{NS: ns, Subnet: subnet.Masked(), lab: l, index: idx}
	gw := netip.PrefixFrom(n.Gateway(), subnet.Bits())
	steps := [][]string{
		{"-n", ns.name, "link", "add", BridgeIf, "type", "bridge", "stp_state", "0", "forward_delay", "0"},
		{"-n", ns.name, "addr", "add", gw.String(), "broadcast", n.Broadcast().String(), "dev", BridgeIf},
		{"-n", ns.name, "link", "set", BridgeIf, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	l.nets = append(l.nets, n)
	l.mu.Unlock()
	return n, nil
}

// SetCarrier plugs (up) or pulls (down) the client's cable: it sets the
// far end of the client's veth pair up or down, so the client sees its
// carrier change while its own interface stays administratively up.
func (l *Lab) SetCarrier(up bool) error {
	l.mu.Lock()
	n := l.attachedTo
	l.mu.Unlock()
	state := "down"
	if up {
		state = "up"
	}
	if err := ip("-n", n.NS.name, "link", "set", ClientPort, state); err != nil {
		return err
	}
	l.mu.Lock()
	l.carrierOn = up
	l.mu.Unlock()
	return nil
}

// MoveClient re-plugs the client's cable into network n: carrier drops,
// the far end moves to n's bridge, and carrier comes back if it was on
// before the call (call SetCarrier(false) first to keep it off).
func (l *Lab) MoveClient(n *Network) error {
	if n == nil || n.lab != l {
		return errors.New("lab: move client: network of another lab")
	}
	l.mu.Lock()
	from, on := l.attachedTo, l.carrierOn
	l.mu.Unlock()
	if from == n {
		return nil
	}
	steps := [][]string{
		{"-n", from.NS.name, "link", "set", ClientPort, "down"},
		{"-n", from.NS.name, "link", "set", ClientPort, "netns", n.NS.name},
		{"-n", n.NS.name, "link", "set", ClientPort, "master", BridgeIf},
	}
	if on {
		steps = append(steps, []string{"-n", n.NS.name, "link", "set", ClientPort, "up"})
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.attachedTo = n
	l.mu.Unlock()
	return nil
}

// ClientNetwork is the network the client's cable is plugged into.
func (l *Lab) ClientNetwork() *Network {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attachedTo
}

// AddSquatter adds a squatter to the first network; see
// Network.AddSquatter.
func (l *Lab) AddSquatter(addr netip.Addr) (*NS, error) { return l.Net.AddSquatter(addr) }

// AddSquatter creates a namespace on network n's segment whose interface
// (SquatterIf) owns addr, so that its kernel answers ARP for addr: the
// address-conflict case. The address must lie in n's subnet.
func (n *Network) AddSquatter(addr netip.Addr) (*NS, error) {
	if !n.Subnet.Contains(addr) {
		return nil, fmt.Errorf("lab: squatter address %v outside %v", addr, n.Subnet)
	}
	l := n.lab
	l.mu.Lock()
	k := len(l.squatters) + 1
	l.mu.Unlock()
	ns, err := l.newNS("sq"+strconv.Itoa(k), SquatterIf)
	if err != nil {
		return nil, err
	}
	port := "sq" + strconv.Itoa(k)
	steps := [][]string{
		{"-n", ns.name, "link", "add", SquatterIf, "type", "veth", "peer", "name", port, "netns", n.NS.name},
		{"-n", n.NS.name, "link", "set", port, "master", BridgeIf, "up"},
		{"-n", ns.name, "addr", "add", netip.PrefixFrom(addr, n.Subnet.Bits()).String(), "dev", SquatterIf},
		{"-n", ns.name, "link", "set", SquatterIf, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	l.squatters = append(l.squatters, ns)
	l.mu.Unlock()
	return ns, nil
}

// Logs returns the logs of every server started in the lab, each under a
// header line, for printing when a test fails.
func (l *Lab) Logs() string {
	l.mu.Lock()
	srvs := append([]*Server(nil), l.servers...)
	l.mu.Unlock()
	var b strings.Builder
	for _, s := range srvs {
		fmt.Fprintf(&b, "==== %s in %s (%s)\n%s\n", s.kind, s.ns.name, s.p.log, s.Log())
	}
	return b.String()
}

// Close stops every server, kills every process left in the lab's
// namespaces, deletes the namespaces and, if the lab made its own
// directory, removes it. It is idempotent, bounded in time, and returns
// the first error met while still trying every step.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	srvs := append([]*Server(nil), l.servers...)
	caps := append([]*Capture(nil), l.captures...)
	names := append([]string(nil), l.created...)
	l.mu.Unlock()

	for _, c := range caps {
		c.Stop()
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, s := range srvs {
		keep(s.Stop())
	}
	for i := len(names) - 1; i >= 0; i-- {
		keep(deleteNS(names[i]))
	}
	if l.ownDir {
		keep(os.RemoveAll(l.dir))
	}
	return first
}

// deleteNS kills the processes inside a namespace, waits a bounded time
// for them to go, and deletes the namespace. A namespace that does not
// exist is not an error.
func deleteNS(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := nsPids(name)
		if err != nil || len(pids) == 0 {
			break
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: processes %v in %s survive SIGKILL", pids, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	err := ip("netns", "delete", name)
	if _, serr := os.Stat(filepath.Join(netnsDir, name)); err != nil && errors.Is(serr, os.ErrNotExist) {
		// Another test process's CleanupStale removed it first.
		return nil
	}
	return err
}

// nsPids lists the processes whose network namespace is the named one.
func nsPids(name string) ([]int, error) {
	out, err := ipOut("netns", "pids", name)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("lab: ip netns pids %s: bad pid %q", name, f)
		}
		if p != os.Getpid() {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

const netnsDir = "/run/netns"

// staleRE matches the namespaces New creates and captures the owner pid.
var staleRE = regexp.MustCompile(`^ndhc-[a-z0-9]{1,12}-([0-9]+)-[0-9a-f]{4}-(srv[0-9]*|cli|sq[0-9]+)$`)

// staleOwner returns the pid of the process that created the named lab
// namespace, and whether the name is one New creates at all.
func staleOwner(name string) (int, bool) {
	m := staleRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// CleanupStale deletes lab namespaces (and kills the processes in them)
// whose creating process no longer exists, as left by crashed runs. It
// never touches a namespace whose name New would not have made, nor one
// whose owner is alive (another test may be using it). It returns the
// names it deleted.
func CleanupStale() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var gone []string
	var first error
	for _, e := range ents {
		pid, ok := staleOwner(e.Name())
		if !ok || processAlive(pid) {
			continue
		}
		if err := deleteNS(e.Name()); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		gone = append(gone, e.Name())
	}
	return gone, first
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ip runs the ip command with a timeout.
func ip(args ...string) error {
	_, err := ipOut(args...)
	return err
}

func ipOut(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("lab: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
