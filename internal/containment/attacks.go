//go:build linux && containment

package containment

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/internal/sockd"
)

type attack struct {
	name string
	// roles it applies to; none: every role, the supervisor included.
	roles []string
	// separate attacks end the role or its peer: they run only when
	// selected for a run.
	separate bool
	do       func(e *env) Record
}

func (a attack) applies(role string) bool { return len(a.roles) == 0 || slices.Contains(a.roles, role) }

var children = []string{"engine", "sockd", "ifch", "hostname", "dns"}

func ptr(s string) uint64 {
	p, _ := unix.BytePtrFromString(s)
	return uint64(uintptr(unsafe.Pointer(p)))
}

// Attack names, shared with the harness where it selects them.
const (
	AttackThreadBomb      = "thread bomb (threads locked in sleeps until the runtime cannot create one)"
	AttackSockdIfindex    = "ask sockd for a packet socket on another interface (lo)"
	AttackSockdUDPLoop    = "ask sockd for a UDP socket bound to 127.0.0.1"
	AttackSendtoOtherIf   = "sendto with a sockaddr_ll naming another ifindex (lo) on the DHCP packet socket"
	AttackSockdForgedDHCP = "ask sockd to transmit a DHCP message from another hardware address"
	AttackSockdForgedARP  = "ask sockd to transmit an ARP reply from another hardware address (poisoning the gateway's entry)"
	AttackKillInit        = "kill(1, SIGCONT)"
	AttackCloneNewnet     = "clone a thread with CLONE_NEWNET besides the runtime's flags"
	AttackOpenTmp         = "create /tmp/ndhc-containment"
	AttackSocketTCP       = "socket(AF_INET, SOCK_STREAM)"
	AttackMadviseHWPoison = "madvise(MADV_HWPOISON)"
)

func attacks() []attack {
	var as []attack
	// Signals to other processes.
	as = append(as,
		attack{name: AttackKillInit, do: func(e *env) Record { return sysRec(e, "dac/caps", "kill", 1, uint64(unix.SIGCONT)) }},
		attack{name: "kill(parent, 0)", do: func(e *env) Record { return sysRec(e, "dac/caps", "kill", uint64(parent), 0) }},
		attack{name: "tgkill(1, 1, SIGCONT)", do: func(e *env) Record { return sysRec(e, "dac/caps", "tgkill", 1, 1, uint64(unix.SIGCONT)) }},
		attack{name: "tgkill(parent, parent, 0)", do: func(e *env) Record {
			return sysRec(e, "dac/caps", "tgkill", uint64(parent), uint64(parent), 0)
		}},
		attack{name: "fcntl(2, F_SETOWN, 1)", do: func(e *env) Record { return sysRec(e, "kernel", "fcntl", 2, unix.F_SETOWN, 1) }},
		attack{name: "fcntl(2, F_SETSIG, SIGKILL)", do: func(e *env) Record {
			return sysRec(e, "kernel", "fcntl", 2, unix.F_SETSIG, uint64(unix.SIGKILL))
		}},
		attack{name: "pidfd_open(1)", do: func(e *env) Record { return sysRec(e, "dac/caps", "pidfd_open", 1, 0) }},
		attack{name: "ptrace(PTRACE_ATTACH, parent)", do: func(e *env) Record {
			return sysRec(e, "dac/caps", "ptrace", unix.PTRACE_ATTACH, uint64(parent))
		}},
	)
	// Threads and processes in new namespaces, execution.
	as = append(as,
		attack{name: AttackCloneNewnet, do: func(e *env) Record {
			flags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_NEWNET)
			if e.allowed("clone", flags) && e.sel != e.cur {
				return Record{Outcome: GotThrough, Observed: "the role's filter allows it (not made: a raw clone would crash the runtime)"}
			}
			return dangerous(e, "clone", flags)
		}},
		attack{name: "fork (clone with SIGCHLD only)", do: func(e *env) Record {
			if e.allowed("clone", uint64(unix.SIGCHLD)) && e.sel != e.cur {
				return Record{Outcome: GotThrough, Observed: "the role's filter allows it (not made)"}
			}
			return dangerous(e, "clone", uint64(unix.SIGCHLD))
		}},
		attack{name: "unshare(CLONE_NEWUSER|CLONE_NEWNET)", do: func(e *env) Record {
			return sysRec(e, "kernel", "unshare", unix.CLONE_NEWUSER|unix.CLONE_NEWNET)
		}},
		attack{name: "execve(/bin/sh)", do: func(e *env) Record {
			if e.allowed("execve", ptr("/bin/sh")) && e.sel != e.cur {
				return Record{Outcome: GotThrough, Observed: "the role's filter allows it (not made)"}
			}
			return dangerous(e, "execve", ptr("/bin/sh"), 0, 0)
		}},
		attack{name: "mount(tmpfs, /, MS_REMOUNT)", do: func(e *env) Record {
			return sysRec(e, "caps", "mount", ptr("none"), ptr("/"), ptr("tmpfs"), unix.MS_REMOUNT)
		}},
		attack{name: "setuid(0)", do: func(e *env) Record { return sysRec(e, "caps", "setuid", 0) }},
		attack{name: "bpf(BPF_PROG_LOAD)", do: func(e *env) Record { return sysRec(e, "caps", "bpf", 5, 0, 0) }},
		attack{name: "io_uring_setup", do: func(e *env) Record { return sysRec(e, "kernel", "io_uring_setup", 1, 0) }},
	)
	// Memory.
	as = append(as,
		attack{name: AttackMadviseHWPoison, do: func(e *env) Record {
			if e.allowed("madvise", 0, 4096, unix.MADV_HWPOISON) && e.sel != e.cur {
				return Record{Outcome: GotThrough, Observed: "the role's filter allows it (not made: it would offline a page until reboot)"}
			}
			return dangerous(e, "madvise", 0, 4096, unix.MADV_HWPOISON)
		}},
		attack{name: "madvise(MADV_MERGEABLE)", do: func(e *env) Record {
			return sysRec(e, "kernel", "madvise", 0, 4096, unix.MADV_MERGEABLE)
		}},
		attack{name: "memory bomb (anonymous writable mmap, 16 MiB at a time, up to 2 GiB)", do: memoryBomb},
		attack{name: AttackThreadBomb, roles: children, separate: true, do: threadBomb},
	)
	// Files, the terminal, sockets.
	as = append(as,
		// Not the supervisor's: it opened every descriptor it holds (the
		// roles' channels, the instance's lock, the kernel log reader).
		attack{name: "read a descriptor it was not handed (pread of every open descriptor 2..1023)", roles: children, do: readInherited},
		attack{name: "open /dev/tty read-write", do: func(e *env) Record { return openRec(e, "/dev/tty", unix.O_RDWR) }},
		attack{name: AttackOpenTmp, do: func(e *env) Record { return createRec(e, "/tmp/ndhc-containment") }},
		attack{name: "create /etc/ndhc-containment", do: func(e *env) Record { return createRec(e, "/etc/ndhc-containment") }},
		attack{name: "create ../ndhc-containment (above its directory)", do: func(e *env) Record { return createRec(e, "../ndhc-containment") }},
		attack{name: AttackSocketTCP, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		}},
		attack{name: "socket(AF_NETLINK, NETLINK_ROUTE)", do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		}},
	)
	// The engine's own descriptors.
	eng := []string{"engine"}
	as = append(as,
		attack{name: "write another interface's lease (../eth-other/lease)", roles: eng, do: func(e *env) Record { return createRec(e, "../eth-other/lease") }},
		attack{name: "read the shared DUID (../duid)", roles: eng, do: func(e *env) Record { return openRec(e, "../duid", unix.O_RDONLY) }},
		attack{name: "create a file in its directory (filling the state directory)", roles: eng, do: fillStateDir},
		attack{name: "grow its own lease file past RLIMIT_FSIZE (up to 16 MiB)", roles: eng, do: growLease},
		attack{name: "netlink dump of routes, addresses and neighbours through the link-event socket", roles: eng, do: netlinkDump},
		attack{name: AttackSendtoOtherIf, roles: eng, do: func(e *env) Record {
			return packetSend(e, "sendto", func(fd int, frame []byte) error {
				return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: 1, Protocol: htons(unix.ETH_P_IP), Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
			})
		}},
		attack{name: "sendto with a sockaddr_ll naming another ethertype (ARP) on the DHCP packet socket", roles: eng, do: func(e *env) Record {
			return packetSend(e, "sendto", func(fd int, frame []byte) error {
				return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: e.ifindex, Protocol: htons(unix.ETH_P_ARP), Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
			})
		}},
		attack{name: "write(2) of a raw frame on the DHCP packet socket", roles: eng, do: func(e *env) Record {
			return packetSend(e, "write", func(fd int, frame []byte) error { _, err := unix.Write(fd, frame); return err })
		}},
		attack{name: AttackSockdIfindex, roles: eng, separate: true, do: func(e *env) Record {
			return sockdAsk(e, sockd.OpOpen, client.SocketRaw, 1, [4]byte{}, [4]byte{}, nil)
		}},
		attack{name: AttackSockdUDPLoop, roles: eng, separate: true, do: func(e *env) Record {
			return sockdAsk(e, sockd.OpOpen, client.SocketUDP, uint32(e.ifindex), [4]byte{127, 0, 0, 1}, [4]byte{10, 0, 0, 1}, nil)
		}},
		attack{name: "ask sockd for a UDP socket on an address the interface does not hold (10.250.0.1)", roles: eng, do: func(e *env) Record {
			return sockdAsk(e, sockd.OpOpen, client.SocketUDP, uint32(e.ifindex), [4]byte{10, 250, 0, 1}, [4]byte{10, 250, 0, 2}, nil)
		}},
		attack{name: "ask sockd to transmit a DHCP broadcast from an address the interface does not hold (10.250.0.1)", roles: eng, do: func(e *env) Record {
			return sockdAsk(e, sockd.OpTransmit, client.SocketRaw, uint32(e.ifindex), [4]byte{10, 250, 0, 1}, [4]byte{}, bootRequest(e.mac))
		}},
		attack{name: AttackSockdForgedDHCP, roles: eng, separate: true, do: func(e *env) Record {
			return sockdAsk(e, sockd.OpTransmit, client.SocketRaw, uint32(e.ifindex), [4]byte{}, [4]byte{}, bootRequest([6]byte{2, 0xba, 0xd0, 0, 0, 1}))
		}},
		attack{name: AttackSockdForgedARP, roles: eng, separate: true, do: func(e *env) Record {
			arp := []byte{0, 1, 8, 0, 6, 4, 0, 2, 2, 0xba, 0xd0, 0, 0, 1, 10, 77, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 77, 0, 1}
			return sockdAsk(e, sockd.OpTransmit, client.SocketARP, uint32(e.ifindex), [4]byte{}, [4]byte{}, arp)
		}},
	)
	as = append(as, dnsAttacks()...)
	return as
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// atFDCWD is AT_FDCWD as a 64-bit system call argument.
const atFDCWD = uint64(1<<64 + unix.AT_FDCWD)

func sysRec(e *env, layer, name string, args ...uint64) Record {
	_, errno, k := e.sys(name, args...)
	if k {
		return killed()
	}
	return errnoRec(errno, layer)
}

// dangerous makes a call only when the filter kills it (the selected run)
// and reports a kill otherwise.
func dangerous(e *env, name string, args ...uint64) Record {
	_, errno, k := e.sys(name, args...)
	if k {
		return killed()
	}
	return Record{Outcome: GotThrough, Observed: "made and survived: " + kit.ErrnoName(errno)}
}

func openRec(e *env, path string, flags int) Record {
	fd, errno, k := e.sys("openat", uint64(unix.AT_FDCWD&0xffffffff)|0xffffffff00000000, ptr(path), uint64(flags|unix.O_CLOEXEC|unix.O_NOCTTY), 0)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "chroot/landlock"}
	}
	unix.Close(int(fd))
	return Record{Outcome: GotThrough, Observed: "opened " + path}
}

// createRec creates path; in a chroot, a name above the root lands in the
// root, which the record says (it stayed in its own directory).
func createRec(e *env, path string) Record {
	fd, errno, k := e.sys("openat", uint64(unix.AT_FDCWD&0xffffffff)|0xffffffff00000000, ptr(path), uint64(unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL|unix.O_CLOEXEC), 0o600)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "chroot/landlock"}
	}
	unix.Close(int(fd))
	base := path[strings.LastIndexByte(path, '/')+1:]
	inside := false
	if _, err := os.Stat("/" + base); err == nil && !strings.HasPrefix(path, "/") {
		inside = true
	}
	os.Remove(path)
	if inside {
		return Record{Outcome: Blocked, Observed: "created " + base + " in its own directory: the chroot's root has no parent", Layer: "chroot"}
	}
	return Record{Outcome: GotThrough, Observed: "created " + path}
}

func memoryBomb(e *env) Record {
	total, err := kit.MapUntilRefused(16<<20, 2<<30)
	if err != nil {
		return Record{Outcome: Blocked, Observed: fmt.Sprintf("%v after %d MiB", err, total>>20), Layer: "rlimit (RLIMIT_DATA)"}
	}
	return Record{Outcome: GotThrough, Observed: fmt.Sprintf("%d MiB mapped writable (the battery's own cap)", total>>20)}
}

func threadBomb(e *env) Record {
	const most = 4096
	for range most {
		go func() {
			runtime.LockOSThread()
			ts := unix.Timespec{Sec: 60}
			for {
				unix.Nanosleep(&ts, nil)
			}
		}()
	}
	time.Sleep(10 * time.Second)
	return Record{Outcome: GotThrough, Observed: fmt.Sprintf("%d threads alive after 10 s", most)}
}

func readInherited(e *env) Record {
	var readable, open []string
	buf := make([]byte, 1)
	for fd := 2; fd < 1024; fd++ {
		_, errno, k := e.sys("fcntl", uint64(fd), unix.F_GETFD)
		if k {
			return killed()
		}
		if errno != 0 {
			continue
		}
		open = append(open, fmt.Sprint(fd))
		_, errno, k = e.sys("pread64", uint64(fd), uint64(uintptr(unsafe.Pointer(&buf[0]))), 1, 0)
		if !k && errno == 0 {
			readable = append(readable, fmt.Sprint(fd))
		}
	}
	runtime.KeepAlive(buf)
	obs := fmt.Sprintf("open: %s; readable files: [%s]", strings.Join(open, ","), strings.Join(readable, ","))
	// ifch holds resolv.conf, opened before its sandbox, and reads it back.
	if len(readable) == 0 || (e.role == "ifch" && len(readable) <= 1) {
		return Record{Outcome: Blocked, Observed: obs, Layer: "spawn (only named descriptors)"}
	}
	return Record{Outcome: GotThrough, Observed: obs}
}

func fillStateDir(e *env) Record {
	// A new file: the directory is root's, and O_CREAT is off the list.
	fd, errno, k := e.sys("openat", atFDCWD, ptr("/fill-0"), uint64(unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL|unix.O_CLOEXEC), 0o600)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "dac/landlock"}
	}
	unix.Close(int(fd))
	return Record{Outcome: GotThrough, Observed: "created /fill-0 in its directory"}
}

// growLease writes past RLIMIT_FSIZE into the engine's own lease file, then
// empties it again (the engine starts from INIT after the battery).
func growLease(e *env) Record {
	fd, errno, k := e.sys("openat", atFDCWD, ptr("/lease"), uint64(unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC), 0)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Error, Observed: "opening its own lease: " + kit.ErrnoName(errno)}
	}
	defer func() {
		unix.Close(int(fd))
		// Emptied again by an open with O_TRUNC: ftruncate is off the
		// engine's list.
		if fd, errno, _ := e.sys("openat", atFDCWD, ptr("/lease"), uint64(unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC), 0); errno == 0 {
			unix.Close(int(fd))
		}
	}()
	chunk := make([]byte, 256<<10)
	total := 0
	for range 64 {
		n, err := unix.Write(int(fd), chunk)
		total += max(n, 0)
		if err != nil {
			return Record{Outcome: Blocked, Observed: fmt.Sprintf("%v after %d KiB", err, total>>10), Layer: "rlimit (RLIMIT_FSIZE)"}
		}
	}
	return Record{Outcome: GotThrough, Observed: fmt.Sprintf("%d KiB written (the battery's own cap)", total>>10)}
}

// rawFD returns the descriptor behind one of the role's ends.
func rawFD(e *env, name string) (int, bool) {
	c, ok := e.ends[name]
	if !ok || c == nil {
		return -1, false
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd, fd >= 0
}

func netlinkDump(e *env) Record {
	fd, ok := rawFD(e, "links")
	if !ok {
		return Record{Outcome: Error, Observed: "no link-event socket"}
	}
	var got []string
	for i, typ := range []uint16{unix.RTM_GETROUTE, unix.RTM_GETADDR, unix.RTM_GETNEIGH} {
		req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofRtMsg)
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], typ)
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		binary.NativeEndian.PutUint32(req[8:], uint32(0x4e440000+i))
		req[unix.NLMSG_HDRLEN] = unix.AF_INET
		if _, errno, k := e.sys("write", uint64(fd), uint64(uintptr(unsafe.Pointer(&req[0]))), uint64(len(req))); k {
			return killed()
		} else if errno != 0 {
			got = append(got, fmt.Sprintf("write %d: %s", typ, kit.ErrnoName(errno)))
		}
		runtime.KeepAlive(req)
	}
	time.Sleep(300 * time.Millisecond)
	counts := map[uint16]int{}
	buf := make([]byte, 1<<16)
	for range 200 {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil || n <= 0 {
			break
		}
		b := buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			counts[binary.NativeEndian.Uint16(b[4:])]++
			b = b[(l+3)&^3:]
		}
	}
	dumped := counts[unix.RTM_NEWROUTE] + counts[unix.RTM_NEWADDR] + counts[unix.RTM_NEWNEIGH]
	obs := fmt.Sprintf("%d routes, %d addresses, %d neighbours read back %s", counts[unix.RTM_NEWROUTE], counts[unix.RTM_NEWADDR], counts[unix.RTM_NEWNEIGH], strings.Join(got, " "))
	if dumped > 0 {
		return Record{Outcome: GotThrough, Observed: obs}
	}
	return Record{Outcome: Blocked, Observed: obs, Layer: "bpf-filter (locked socket filter)"}
}

// packetSend asks sockd for the DHCP packet socket, as the engine does,
// and tries send on it.
func packetSend(e *env, call string, send func(fd int, frame []byte) error) Record {
	if !e.allowed(call) && e.sel != e.cur {
		return killed()
	}
	conn, ok := e.ends["sockd"]
	if !ok {
		return Record{Outcome: Error, Observed: "no sockd channel"}
	}
	uc, ok := conn.(*unixConn)
	if !ok {
		return Record{Outcome: Error, Observed: "sockd channel of an unexpected type"}
	}
	f, err := sockd.NewClient(uc, e.ifindex).Open(client.SocketRaw, netip.Addr{}, netip.Addr{})
	if err != nil {
		return Record{Outcome: Blocked, Observed: "sockd refused: " + err.Error(), Layer: "sockd-validation"}
	}
	defer f.Close()
	frame := make([]byte, 42)
	err = send(int(f.Fd()), frame)
	if err == nil {
		return Record{Outcome: GotThrough, Observed: "the kernel took the frame (42 bytes)"}
	}
	if errno, ok := err.(unix.Errno); ok {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "kernel"}
	}
	return Record{Outcome: Blocked, Observed: err.Error(), Layer: "kernel"}
}

// sockdAsk sends sockd a raw request: header (op, kind, ifindex, address,
// peer) and payload, bypassing the client's own checks.
func sockdAsk(e *env, op sockd.Op, kind client.Socket, ifindex uint32, addr, peer [4]byte, payload []byte) Record {
	conn, ok := e.ends["sockd"].(*unixConn)
	if !ok {
		return Record{Outcome: Error, Observed: "no sockd channel"}
	}
	req := make([]byte, sockd.HeaderSize, sockd.HeaderSize+len(payload))
	req[0], req[1], req[2] = 'S', byte(op), byte(kind)
	binary.BigEndian.PutUint32(req[4:], ifindex)
	copy(req[8:], addr[:])
	copy(req[12:], peer[:])
	req = append(req, payload...)
	if _, err := conn.Write(req); err != nil {
		return Record{Outcome: Blocked, Observed: err.Error(), Layer: "sockd-validation"}
	}
	rep := make([]byte, 64)
	oob := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := conn.ReadMsgUnix(rep, oob)
	conn.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
		return Record{Outcome: Blocked, Observed: "channel: " + err.Error(), Layer: "sockd-validation"}
	case n == 0:
		return Record{Outcome: Blocked, Observed: "sockd closed the channel", Layer: "sockd-validation"}
	case oobn > 0:
		return Record{Outcome: GotThrough, Observed: "sockd granted a descriptor"}
	}
	var r sockd.Reply
	if err := r.UnmarshalBinary(rep[:n]); err != nil {
		return Record{Outcome: Error, Observed: fmt.Sprintf("sockd's reply % x: %v", rep[:n], err)}
	}
	if r.Errno == 0 {
		return Record{Outcome: GotThrough, Observed: "sockd did it"}
	}
	return Record{Outcome: Blocked, Observed: "refused: " + kit.ErrnoName(unix.Errno(r.Errno)), Layer: "sockd-validation"}
}

// bootRequest is a minimal DHCP client message from hw.
func bootRequest(hw [6]byte) []byte {
	b := make([]byte, 300)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[28:], hw[:])
	copy(b[236:], []byte{99, 130, 83, 99})
	b[240] = 255
	return b
}

type unixConn = net.UnixConn

// parent is read at start-up: getppid is on no role's list.
var parent = os.Getppid()
