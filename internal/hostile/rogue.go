package hostile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ndhc-go/ndhc/internal/lab"
	"golang.org/x/sys/unix"
)

// DHCP message types (option 53) the rogue reads and writes.
const (
	Discover byte = 1
	Offer    byte = 2
	Request  byte = 3
	Decline  byte = 4
	Ack      byte = 5
	Nak      byte = 6
	Release  byte = 7
)

// Req is one client message the rogue saw.
type Req struct {
	Time   time.Time
	Type   byte // option 53; 0 if absent
	XID    uint32
	MAC    net.HardwareAddr // the Ethernet source
	CHAddr [16]byte
	CIAddr netip.Addr
	Src    netip.Addr // IPv4 source
}

// Responder returns the Ethernet frames to send in answer to req (none to
// stay silent).
type Responder func(req Req) [][]byte

// Rogue is a DHCP server on a lab network's bridge: an AF_PACKET socket
// opened inside the network's namespace reads what clients send to port
// 67 and writes whatever frames its Responder builds. It never sends
// anywhere but that bridge.
type Rogue struct {
	fd      int
	ifindex int
	respond Responder
	stop    chan struct{}
	done    chan struct{}

	mu   sync.Mutex
	reqs []Req
	sent int
	err  error
}

// maxReqs bounds what a rogue remembers.
const maxReqs = 10000

// Start opens the rogue's socket on ns's main interface (the bridge) and
// starts answering.
func Start(ns *lab.NS, respond Responder) (*Rogue, error) {
	r := &Rogue{fd: -1, respond: respond, stop: make(chan struct{}), done: make(chan struct{})}
	fd, ifindex, err := ns.PacketSocket(unix.SOCK_RAW, unix.ETH_P_IP, 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("hostile: %w", err)
	}
	r.fd, r.ifindex = fd, ifindex
	go r.loop()
	return r, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (r *Rogue) loop() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
		req, ok := parseRequest(buf[:n])
		if !ok {
			continue
		}
		req.Time = time.Now()
		r.mu.Lock()
		if len(r.reqs) < maxReqs {
			r.reqs = append(r.reqs, req)
		}
		r.mu.Unlock()
		if r.respond != nil {
			r.Send(r.respond(req)...)
		}
	}
}

// Send writes frames on the bridge, as they are. It returns the first
// error; a frame the kernel refuses (too short, say) is counted as not
// sent.
func (r *Rogue) Send(frames ...[]byte) error {
	var first error
	for _, f := range frames {
		if len(f) < 14 {
			continue
		}
		sa := &unix.SockaddrLinklayer{Ifindex: r.ifindex, Protocol: htons(unix.ETH_P_IP), Halen: 6}
		copy(sa.Addr[:], f[:6])
		if err := unix.Sendto(r.fd, f, 0, sa); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		r.mu.Lock()
		r.sent++
		r.mu.Unlock()
	}
	return first
}

// Requests returns what the rogue has seen so far.
func (r *Rogue) Requests() []Req {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Req(nil), r.reqs...)
}

// Sent is the number of frames sent so far.
func (r *Rogue) Sent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}

// Err is the error that stopped the receiving loop, if any.
func (r *Rogue) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Stop ends the rogue and closes its socket; it may be called more than
// once.
func (r *Rogue) Stop() {
	r.mu.Lock()
	select {
	case <-r.stop:
		r.mu.Unlock()
		<-r.done
		return
	default:
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
	unix.Close(r.fd)
}

// parseRequest reads a BOOTREQUEST to port 67 out of an Ethernet frame.
func parseRequest(f []byte) (Req, bool) {
	if len(f) < 14+20+8+240 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return Req{}, false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 17 || len(ip) < ihl+8 {
		return Req{}, false
	}
	u := ip[ihl:]
	if binary.BigEndian.Uint16(u[2:4]) != 67 {
		return Req{}, false
	}
	b := u[8:]
	if len(b) < 240 || b[0] != 1 {
		return Req{}, false
	}
	req := Req{
		XID:    binary.BigEndian.Uint32(b[4:8]),
		MAC:    append(net.HardwareAddr(nil), f[6:12]...),
		CIAddr: netip.AddrFrom4([4]byte(b[12:16])),
		Src:    netip.AddrFrom4([4]byte(ip[12:16])),
	}
	copy(req.CHAddr[:], b[28:44])
	for i := 240; i < len(b); {
		switch b[i] {
		case 0:
			i++
			continue
		case 255:
			return req, true
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return req, true
		}
		if b[i] == 53 && b[i+1] == 1 {
			req.Type = b[i+2]
		}
		i += 2 + int(b[i+1])
	}
	return req, true
}
