//go:build linux && containment

package logincontainment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/sandbox"
)

type attack struct {
	name string
	// separate attacks end [net] or its connection: they run only when
	// selected for a connection.
	separate bool
	// tls: the separate attack needs a TLS connection.
	tls bool
	do  func(e *env) Record
}

// Attack names, shared with the harness where it selects them.
const (
	AttackCreateTmp     = "open a file: create /tmp/netlogind-containment"
	AttackSocketInet    = "create a socket: socket(AF_INET, SOCK_STREAM)"
	AttackConnectOut    = "connect out: connect(2) the client socket to 127.0.0.1:22"
	AttackKillOtherNet  = "signal another connection's [net]: kill(pid, SIGKILL)"
	AttackPtraceOther   = "ptrace(PTRACE_ATTACH) another connection's [net]"
	AttackMemoryBomb    = "memory bomb (anonymous writable mmap, 16 MiB at a time, up to 2 GiB)"
	AttackSignClient    = "ask the listener to sign a TLS 1.3 client CertificateVerify input"
	AttackSignTwice     = "ask the listener to sign twice"
	AttackCtlGarbage    = "send the listener a message that is not a signing request"
	AttackSignPlain     = "ask the listener to sign on a plain (UNIX socket) connection"
	AttackSessionJunk   = "write garbage to [session] (a frame of unknown type)"
	AttackSessionCmd    = "send [session] a well-formed Command before authentication"
	AttackReadUnhanded  = "read the host key through a descriptor it was not handed (pread of every open descriptor)"
	AttackVMReadvParent = "read the listener's memory (the host key): process_vm_readv"
)

func ptr(s string) uint64 {
	p, _ := unix.BytePtrFromString(s)
	return uint64(uintptr(unsafe.Pointer(p)))
}

// atFDCWD is AT_FDCWD as a 64-bit system call argument.
const atFDCWD = uint64(1<<64 + unix.AT_FDCWD)

// target is the process the attacks on another [net] aim at: the
// selection's, or the listener when the harness named none (the filter's
// answer does not depend on it).
func (e *env) target() uint64 {
	if e.sel.Target > 0 {
		return uint64(e.sel.Target)
	}
	return uint64(e.parent)
}

func attacks() []attack {
	var as []attack
	// Files.
	as = append(as,
		attack{name: AttackCreateTmp, do: func(e *env) Record {
			return openRec(e, "/tmp/netlogind-containment", unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL)
		}},
		attack{name: "open the host key file (/etc/netlogind/host.key)", do: func(e *env) Record { return openRec(e, "/etc/netlogind/host.key", unix.O_RDONLY) }},
		attack{name: "open the listener's memory (/proc/<listener>/mem)", do: func(e *env) Record {
			return openRec(e, fmt.Sprintf("/proc/%d/mem", e.parent), unix.O_RDONLY)
		}},
		attack{name: "open /dev/tty read-write", do: func(e *env) Record { return openRec(e, "/dev/tty", unix.O_RDWR) }},
		attack{name: AttackReadUnhanded, do: readUnhanded},
		attack{name: AttackVMReadvParent, do: func(e *env) Record {
			buf := make([]byte, 64)
			local := unix.Iovec{Base: &buf[0]}
			local.SetLen(len(buf))
			remote := unix.RemoteIovec{Base: 0x400000, Len: 64}
			r := sysRec(e, "dac/caps", "process_vm_readv", uint64(e.parent), uint64(uintptr(unsafe.Pointer(&local))), 1, uint64(uintptr(unsafe.Pointer(&remote))), 1, 0)
			runtime.KeepAlive(buf)
			return r
		}},
	)
	// The network.
	as = append(as,
		attack{name: AttackSocketInet, do: func(e *env) Record {
			return sysRec(e, "kernel", "socket", unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		}},
		attack{name: "create a socket: socket(AF_UNIX, SOCK_STREAM)", do: func(e *env) Record {
			return sysRec(e, "kernel", "socket", unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		}},
		attack{name: "create a socket: socket(AF_NETLINK, NETLINK_ROUTE)", do: func(e *env) Record {
			return sysRec(e, "kernel", "socket", unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		}},
		attack{name: AttackConnectOut, do: connectOut},
		attack{name: "pass the client socket to [session] (sendmsg with SCM_RIGHTS)", do: passClient},
	)
	// Other processes.
	as = append(as,
		attack{name: AttackKillOtherNet, do: func(e *env) Record { return sysRec(e, "kernel", "kill", e.target(), uint64(unix.SIGKILL)) }},
		attack{name: "signal another connection's [net]: tgkill(pid, pid, SIGKILL)", do: func(e *env) Record {
			return sysRec(e, "kernel", "tgkill", e.target(), e.target(), uint64(unix.SIGKILL))
		}},
		attack{name: "signal the listener: kill(listener, SIGTERM)", do: func(e *env) Record {
			return sysRec(e, "kernel", "kill", uint64(e.parent), uint64(unix.SIGTERM))
		}},
		attack{name: "signal init: kill(1, SIGCONT)", do: func(e *env) Record { return sysRec(e, "kernel", "kill", 1, uint64(unix.SIGCONT)) }},
		attack{name: "SIGIO to the listener: fcntl(client, F_SETOWN, listener)", do: func(e *env) Record {
			fd, _ := rawFD(e.client)
			return sysRec(e, "kernel", "fcntl", uint64(fd), unix.F_SETOWN, uint64(e.parent))
		}},
		attack{name: AttackPtraceOther, do: func(e *env) Record { return sysRec(e, "dac/caps", "ptrace", unix.PTRACE_ATTACH, e.target()) }},
		attack{name: "pidfd_open another connection's [net]", do: func(e *env) Record { return sysRec(e, "kernel", "pidfd_open", e.target(), 0) }},
	)
	// Privilege, namespaces, execution.
	as = append(as,
		attack{name: "setuid(0)", do: func(e *env) Record { return sysRec(e, "caps", "setuid", 0) }},
		attack{name: "unshare(CLONE_NEWUSER|CLONE_NEWNET)", do: func(e *env) Record {
			return sysRec(e, "kernel", "unshare", unix.CLONE_NEWUSER|unix.CLONE_NEWNET)
		}},
		attack{name: "execve(/bin/sh)", do: func(e *env) Record { return dangerous(e, "execve", ptr("/bin/sh"), 0, 0) }},
		attack{name: "fork (clone with SIGCHLD only)", do: func(e *env) Record { return dangerous(e, "clone", uint64(unix.SIGCHLD)) }},
		attack{name: "io_uring_setup", do: func(e *env) Record { return sysRec(e, "kernel", "io_uring_setup", 1, 0) }},
		attack{name: "bpf(BPF_PROG_LOAD)", do: func(e *env) Record { return sysRec(e, "caps", "bpf", 5, 0, 0) }},
		attack{name: "madvise(MADV_HWPOISON)", do: func(e *env) Record { return dangerous(e, "madvise", 0, 4096, unix.MADV_HWPOISON) }},
	)
	// Memory.
	as = append(as, attack{name: AttackMemoryBomb, separate: true, do: memoryBomb})
	// What it holds: the listener's signing service, the control channel
	// and the channel to [session].
	as = append(as,
		attack{name: AttackSignClient, separate: true, tls: true, do: func(e *env) Record {
			in := append([]byte(strings.Repeat(" ", 64)+"TLS 1.3, client CertificateVerify\x00"), make([]byte, 32)...)
			return signRec(e, in, "")
		}},
		attack{name: AttackSignTwice, separate: true, tls: true, do: signTwice},
		attack{name: AttackCtlGarbage, separate: true, do: func(e *env) Record { return signRec(e, nil, "hello, listener") }},
		// A well-formed input: a connection without TLS has no handshake
		// to sign, so the listener refuses it whatever it holds.
		attack{name: AttackSignPlain, separate: true, do: func(e *env) Record {
			return signRec(e, append(append([]byte(nil), wire.SignContext...), bytes.Repeat([]byte{0x5a}, 32)...), "")
		}},
		attack{name: AttackSessionJunk, separate: true, do: func(e *env) Record {
			return toSession(e, []byte{0, 0, 0, 5, 0xee, 0xde, 0xad, 0xbe, 0xef})
		}},
		attack{name: AttackSessionCmd, separate: true, do: func(e *env) Record {
			var b []byte
			b, err := wire.Append(b, &wire.Msg{Type: wire.TypeCommand, Text: "id"})
			if err != nil {
				return Record{Outcome: Error, Observed: err.Error()}
			}
			return toSession(e, b)
		}},
	)
	return as
}

func sysRec(e *env, layer, name string, args ...uint64) Record {
	_, errno, k := e.sys(name, args...)
	if k {
		return killed()
	}
	return errnoRec(errno, layer)
}

// dangerous makes a call only when the filter kills it and it is the
// selected attack; a call the filter lets through is reported, not made.
func dangerous(e *env, name string, args ...uint64) Record {
	if e.allowed(name, args...) {
		return Record{Outcome: GotThrough, Observed: "[net]'s filter allows it (not made)"}
	}
	_, errno, k := e.sys(name, args...)
	if k {
		return killed()
	}
	return Record{Outcome: GotThrough, Observed: "made and survived: " + kit.ErrnoName(errno)}
}

func openRec(e *env, path string, flags int) Record {
	fd, errno, k := e.sys("openat", atFDCWD, ptr(path), uint64(flags|unix.O_CLOEXEC|unix.O_NOCTTY), 0o600)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "chroot/landlock"}
	}
	unix.Close(int(fd))
	if flags&unix.O_CREAT != 0 {
		os.Remove(path)
	}
	return Record{Outcome: GotThrough, Observed: "opened " + path}
}

func rawFD(c any) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd, fd >= 0
}

// readUnhanded looks for a descriptor that reads like a file: one the
// listener leaked (the host key it loaded, its lock file). [net] holds
// sockets, pipes and the poller's descriptors, which pread refuses, and
// its records file, opened write-only.
func readUnhanded(e *env) Record {
	var open, readable []string
	buf := make([]byte, 1)
	for fd := 0; fd < 1024; fd++ {
		_, errno, k := e.sys("fcntl", uint64(fd), unix.F_GETFD)
		if k {
			return killed()
		}
		if errno != 0 {
			continue
		}
		open = append(open, fmt.Sprint(fd))
		n, errno, k := e.sys("pread64", uint64(fd), uint64(uintptr(unsafe.Pointer(&buf[0]))), 1, 0)
		if !k && errno == 0 && n > 0 {
			readable = append(readable, fmt.Sprint(fd))
		}
	}
	runtime.KeepAlive(buf)
	obs := fmt.Sprintf("open: %s; readable: [%s]", strings.Join(open, ","), strings.Join(readable, ","))
	if len(readable) > 0 {
		return Record{Outcome: GotThrough, Observed: obs}
	}
	return Record{Outcome: Blocked, Observed: obs, Layer: "spawn (only named descriptors)"}
}

func connectOut(e *env) Record {
	fd, ok := rawFD(e.client)
	if !ok {
		return Record{Outcome: Error, Observed: "no client descriptor"}
	}
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], 22)
	r := sysRec(e, "kernel", "connect", uint64(fd), uint64(uintptr(unsafe.Pointer(&sa))), uint64(unsafe.Sizeof(sa)))
	runtime.KeepAlive(&sa)
	if r.Outcome == Blocked && r.Observed == "EISCONN" {
		r.Layer = "kernel (the socket is connected already)"
	}
	return r
}

func passClient(e *env) Record {
	cfd, ok1 := rawFD(e.client)
	sfd, ok2 := rawFD(e.session)
	if !ok1 || !ok2 {
		return Record{Outcome: Error, Observed: "no client or session descriptor"}
	}
	oob := unix.UnixRights(cfd)
	data := []byte{0}
	iov := unix.Iovec{Base: &data[0]}
	iov.SetLen(1)
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	r := sysRec(e, "kernel", "sendmsg", uint64(sfd), uint64(uintptr(unsafe.Pointer(&msg))), 0)
	runtime.KeepAlive(oob)
	runtime.KeepAlive(data)
	return r
}

func memoryBomb(e *env) Record {
	total, err := kit.MapUntilRefused(16<<20, 2<<30)
	if err != nil {
		return Record{Outcome: Blocked, Observed: fmt.Sprintf("%v after %d MiB", err, total>>20), Layer: "rlimit (memory growth)"}
	}
	return Record{Outcome: GotThrough, Observed: fmt.Sprintf("%d MiB mapped writable (the battery's own cap)", total>>20)}
}

// signRec sends the listener a message on the control channel (a signing
// request for in, or raw when in is nil) and reports its answer. A
// signature is the attack getting through; the listener's expected answer
// is to refuse and kill the connection, which the harness sees.
func signRec(e *env, in []byte, raw string) Record {
	msg := []byte(raw)
	if in != nil {
		msg = append([]byte{wire.SignRequest}, in...)
	}
	if err := sandbox.Send(e.ctl, msg); err != nil {
		return Record{Outcome: Blocked, Observed: "send: " + err.Error(), Layer: "listener"}
	}
	e.ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer e.ctl.SetReadDeadline(time.Time{})
	b, err := sandbox.RecvUpTo(e.ctl, 1+64)
	switch {
	case err != nil:
		return Record{Outcome: Blocked, Observed: "no answer: " + err.Error(), Layer: "listener"}
	case len(b) == 1+64 && b[0] == wire.SignAnswer:
		return Record{Outcome: GotThrough, Observed: "the listener signed it"}
	case len(b) == 1 && b[0] == wire.SignRefused:
		return Record{Outcome: Blocked, Observed: "the listener refused ('E')", Layer: "listener (signing check)"}
	}
	return Record{Outcome: Blocked, Observed: fmt.Sprintf("answer of %d bytes", len(b)), Layer: "listener"}
}

// signTwice asks for the one signature a connection has, over a transcript
// hash of its choice (the design's allowance), then for a second.
func signTwice(e *env) Record {
	in := append(append([]byte(nil), wire.SignContext...), bytes.Repeat([]byte{0xa5}, 32)...)
	first := signRec(e, in, "")
	if first.Outcome != GotThrough {
		return Record{Outcome: Error, Observed: "the first, well-formed request was not signed: " + first.Observed}
	}
	// Written now: the listener's expected answer to the second request
	// kills [net] before it could say more.
	e.emit(Record{Attack: e.cur, Outcome: Step, Observed: "first request signed (the one signature per connection)"})
	in[len(in)-1] ^= 1
	r := signRec(e, in, "")
	r.Observed = "first request signed (the one per connection); second: " + r.Observed
	return r
}

// toSession writes b to [session] and reads what it sends until it ends
// the channel: a command's output or exit means it acted on b.
func toSession(e *env, b []byte) Record {
	if _, err := e.session.Write(b); err != nil {
		return Record{Outcome: Blocked, Observed: "write: " + err.Error(), Layer: "session"}
	}
	e.session.SetReadDeadline(time.Now().Add(15 * time.Second))
	defer e.session.SetReadDeadline(time.Time{})
	r := wire.NewReader(e.session)
	var seen []string
	for range 64 {
		m, err := r.Read()
		if err != nil {
			obs := fmt.Sprintf("[session] sent %v, then: %v", seen, err)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return Record{Outcome: GotThrough, Observed: obs + " ([session] kept the channel open)"}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				return Record{Outcome: Blocked, Observed: obs + " ([session] ended the channel)", Layer: "session (wire and turn checks)"}
			}
			return Record{Outcome: Blocked, Observed: obs, Layer: "session"}
		}
		seen = append(seen, m.Type.String())
		if m.Type == wire.TypeOutput || m.Type == wire.TypeExit {
			return Record{Outcome: GotThrough, Observed: fmt.Sprintf("[session] answered with %v", seen)}
		}
	}
	return Record{Outcome: GotThrough, Observed: fmt.Sprintf("[session] kept talking: %v", seen)}
}
