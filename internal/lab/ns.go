package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NS is one of the lab's network namespaces and its main interface.
type NS struct {
	name   string
	ifName string
	lab    *Lab
}

// Name is the namespace's name, as `ip netns list` shows it.
func (n *NS) Name() string { return n.name }

// IfName is the namespace's main interface: ClientIf, BridgeIf or
// SquatterIf.
func (n *NS) IfName() string { return n.ifName }

// Path is the namespace's file under /run/netns.
func (n *NS) Path() string { return filepath.Join(netnsDir, n.name) }

// Command returns a command that runs argv inside the namespace through
// `ip netns exec`; it is killed when ctx is done, and it is put in its own
// process group and killed with SIGKILL if this process dies. Close kills
// it too if it is running inside the namespace by then (one still being
// started while Close runs may escape it).
func (n *NS) Command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// Run runs argv inside the namespace and returns its combined output; a
// non-zero exit is an error that includes the output.
func (n *NS) Run(ctx context.Context, argv ...string) (string, error) {
	out, err := n.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s in %s: %w: %s", strings.Join(argv, " "), n.name, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Do runs fn on an OS thread that has joined the namespace, and returns
// its error. The thread leaves the namespace again afterwards (or, if
// that fails, is thrown away), so no other goroutine ever runs inside it.
// fn must not start goroutines that expect to be in the namespace.
// Sockets opened by fn stay in the namespace after Do returns.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocking on a failed return discards the thread.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(n.Path())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: %w", err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: setns %s: %w", n.name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("lab: setns back from %s: %w", n.name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// link returns the namespace's main interface; call it inside Do.
func (n *NS) link() (netlink.Link, error) {
	lk, err := netlink.LinkByName(n.ifName)
	if err != nil {
		return nil, fmt.Errorf("lab: %s in %s: %w", n.ifName, n.name, err)
	}
	return lk, nil
}

// MAC is the hardware address of the namespace's main interface.
func (n *NS) MAC() (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := n.Do(func() error {
		lk, err := n.link()
		if err != nil {
			return err
		}
		mac = append(net.HardwareAddr(nil), lk.Attrs().HardwareAddr...)
		return nil
	})
	return mac, err
}

// LinkState is what a namespace's main interface reports about itself.
type LinkState struct {
	// Up is the administrative state (IFF_UP).
	Up bool
	// Carrier is the lower layer's state (IFF_LOWER_UP).
	Carrier bool
	// MTU is the interface MTU.
	MTU int
}

// Link returns the state of the namespace's main interface.
func (n *NS) Link() (LinkState, error) {
	var st LinkState
	err := n.Do(func() error {
		lk, err := n.link()
		if err != nil {
			return err
		}
		a := lk.Attrs()
		st = LinkState{Up: a.Flags&net.FlagUp != 0, Carrier: a.RawFlags&unix.IFF_LOWER_UP != 0, MTU: a.MTU}
		return nil
	})
	return st, err
}

// SetLink sets the namespace's main interface administratively up or
// down (for a cable pull on the client, use Lab.SetCarrier).
func (n *NS) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("-n", n.name, "link", "set", n.ifName, state)
}

// Addrs lists the IPv4 addresses on the namespace's main interface.
func (n *NS) Addrs() ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := n.Do(func() error {
		lk, err := n.link()
		if err != nil {
			return err
		}
		as, err := netlink.AddrList(lk, netlink.FAMILY_V4)
		if err != nil {
			return fmt.Errorf("lab: addresses in %s: %w", n.name, err)
		}
		for _, a := range as {
			p, ok := prefixOf(a.IPNet)
			if ok {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// Route is an IPv4 route as the kernel reports it.
type Route struct {
	// Dst is the destination; 0.0.0.0/0 for the default route.
	Dst netip.Prefix
	// Gateway is the next hop; the zero Addr for an on-link route.
	Gateway netip.Addr
	// Dev is the output interface's name.
	Dev string
	// Table is the routing table (254 is main).
	Table int
}

// String renders the route like `ip route` does, roughly.
func (r Route) String() string {
	s := r.Dst.String()
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	return s + " dev " + r.Dev
}

// Routes lists the IPv4 routes of every table in the namespace, except
// the kernel's local table.
func (n *NS) Routes() ([]Route, error) {
	var out []Route
	err := n.Do(func() error {
		rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return fmt.Errorf("lab: routes in %s: %w", n.name, err)
		}
		for _, r := range rs {
			if r.Table == unix.RT_TABLE_LOCAL {
				continue
			}
			rt := Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Table: r.Table}
			if r.Dst != nil {
				p, ok := prefixOf(r.Dst)
				if !ok {
					continue
				}
				rt.Dst = p
			}
			if gw, ok := netip.AddrFromSlice(r.Gw); ok {
				rt.Gateway = gw.Unmap()
			}
			if lk, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				rt.Dev = lk.Attrs().Name
			}
			out = append(out, rt)
		}
		return nil
	})
	return out, err
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if !a.Is4() || (bits != 32 && bits != 128) {
		return netip.Prefix{}, false
	}
	if bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

// Pids lists the processes running inside the namespace.
func (n *NS) Pids() ([]int, error) { return nsPids(n.name) }

// errClosed is returned by operations on a closed lab.
var errClosed = errors.New("lab: closed")
