package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
	"golang.org/x/sys/unix"
)

// All times in this tool are CLOCK_REALTIME in nanoseconds since the
// epoch: the exec mark (time.Now just before the fork and exec), the
// kernel's receive timestamp of a packet (SO_TIMESTAMPNS, which the kernel
// stamps with CLOCK_REALTIME when the frame enters the stack) and the
// receive time of a netlink event (time.Now in the goroutine blocked in
// recvmsg on the subscribed socket: netlink carries no kernel timestamp).
// A clock step during a run would show as an absurd figure in that run.
func nowNS() int64 { return time.Now().UnixNano() }

// discoverWatch reads DHCPDISCOVERs arriving at the server namespace's
// bridge with their kernel receive timestamps.
type discoverWatch struct {
	fd   int
	mu   sync.Mutex
	seen []int64 // kernel timestamps of DISCOVERs, in arrival order
	done chan struct{}
	stop chan struct{}
}

// watchDiscovers opens an AF_PACKET socket on the server's bridge (in its
// namespace) with SO_TIMESTAMPNS, and starts reading.
func watchDiscovers(ns *lab.NS) (*discoverWatch, error) {
	fd, _, err := ns.PacketSocket(unix.SOCK_DGRAM, unix.ETH_P_IP, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	w := &discoverWatch{fd: fd, done: make(chan struct{}), stop: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *discoverWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(w.fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		if !isDiscover(buf[:n]) {
			continue
		}
		ts, ok := kernelStamp(oob[:oobn])
		if !ok {
			continue
		}
		w.mu.Lock()
		w.seen = append(w.seen, ts)
		w.mu.Unlock()
	}
}

// kernelStamp returns the SCM_TIMESTAMPNS of a control message buffer.
func kernelStamp(oob []byte) (int64, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return sec*1e9 + nsec, true
		}
	}
	return 0, false
}

// isDiscover reports whether b (an IPv4 packet) is a UDP datagram to port
// 67 holding a DHCPDISCOVER.
func isDiscover(b []byte) bool {
	if len(b) < 28 || b[0]>>4 != 4 || b[9] != 17 {
		return false
	}
	ihl := int(b[0]&0x0f) * 4
	if len(b) < ihl+8 || binary.BigEndian.Uint16(b[ihl+2:]) != 67 {
		return false
	}
	return lab.Packet{Payload: b[ihl+8:]}.MessageType() == lab.Discover
}

// first returns the timestamp of the first DISCOVER at or after since.
func (w *discoverWatch) first(since int64) (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.seen {
		if t >= since {
			return t, true
		}
	}
	return 0, false
}

func (w *discoverWatch) Close() {
	close(w.stop)
	<-w.done
	unix.Close(w.fd)
}

// addrEvent is one RTM_NEWADDR or RTM_DELADDR for the watched interface.
type addrEvent struct {
	at   int64 // receive time, CLOCK_REALTIME ns
	add  bool
	addr netip.Prefix
}

// addrWatch is a NETLINK_ROUTE socket in the client namespace subscribed
// to RTNLGRP_IPV4_IFADDR, opened before the client starts.
type addrWatch struct {
	fd      int
	ifindex int
	events  chan addrEvent
	done    chan struct{}
	stop    chan struct{}
	mu      sync.Mutex
	all     []addrEvent
}

func watchAddrs(ns *lab.NS) (*addrWatch, error) {
	w := &addrWatch{events: make(chan addrEvent, 64), done: make(chan struct{}), stop: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ns.IfName())
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds()) // to notice Close
		if err := errors.Join(
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
			unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR}),
		); err != nil {
			unix.Close(fd)
			return err
		}
		w.fd, w.ifindex = fd, ifi.Index
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	go w.loop()
	return w, nil
}

func (w *addrWatch) loop() {
	defer close(w.done)
	defer close(w.events)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		at := nowNS()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		for _, ev := range parseAddrMsgs(buf[:n], w.ifindex, at) {
			w.mu.Lock()
			w.all = append(w.all, ev)
			w.mu.Unlock()
			select {
			case w.events <- ev:
			default:
			}
		}
	}
}

// parseAddrMsgs returns the IPv4 address events for interface ifindex in
// one read from a NETLINK_ROUTE socket; anything malformed or foreign is
// skipped.
func parseAddrMsgs(b []byte, ifindex int, at int64) []addrEvent {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil
	}
	var out []addrEvent
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR && m.Header.Type != unix.RTM_DELADDR {
			continue
		}
		if len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		bits := int(m.Data[1])
		if bits > 32 || int(binary.NativeEndian.Uint32(m.Data[4:])) != ifindex {
			continue
		}
		// The attributes, walked here: syscall.ParseNetlinkRouteAttr
		// panics on some malformed lengths (found by FuzzParseAddrMsgs).
		for a := m.Data[unix.SizeofIfAddrmsg:]; len(a) >= unix.SizeofRtAttr; {
			l := int(binary.NativeEndian.Uint16(a[0:]))
			typ := binary.NativeEndian.Uint16(a[2:])
			if l < unix.SizeofRtAttr || l > len(a) {
				break
			}
			if v := a[unix.SizeofRtAttr:l]; typ == unix.IFA_LOCAL && len(v) == 4 {
				out = append(out, addrEvent{at: at, add: m.Header.Type == unix.RTM_NEWADDR,
					addr: netip.PrefixFrom(netip.AddrFrom4([4]byte(v)), bits)})
			}
			a = a[min((l+3)&^3, len(a)):]
		}
	}
	return out
}

// wait returns the first address added for which ok holds, or an error
// after timeout.
func (w *addrWatch) wait(timeout time.Duration, ok func(netip.Prefix) bool) (addrEvent, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, open := <-w.events:
			if !open {
				return addrEvent{}, errors.New("netlink socket closed")
			}
			if ev.add && ok(ev.addr) {
				return ev, nil
			}
		case <-t.C:
			return addrEvent{}, fmt.Errorf("no address within %v", timeout)
		}
	}
}

// added returns every address added while the watch ran.
func (w *addrWatch) added() []netip.Prefix {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []netip.Prefix
	for _, e := range w.all {
		if e.add {
			out = append(out, e.addr)
		}
	}
	return out
}

func (w *addrWatch) Close() {
	close(w.stop)
	for range w.events { // drain until the loop has seen stop
	}
	<-w.done
	unix.Close(w.fd)
}
