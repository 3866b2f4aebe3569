//go:build linux && containment

package containment

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"unsafe"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/ndhc-go/ndhc/internal/containment/kit"
	"github.com/ndhc-go/ndhc/policies"
)

// AbstractName is the abstract UNIX socket the harness listens on in the
// daemon's network namespace: a role that reaches it crossed Landlock's
// scope (ABI 6), which the dns and hook roles must not.
const AbstractName = "ndhc-containment"

// Attack names the harness selects for runs of their own.
const (
	AttackDNSSocketDgram = "socket(AF_UNIX, SOCK_DGRAM) (not the pinned stream socket)"
)

// busPath is the bus socket inside the dns role's chroot (its directory).
var busPath = "/" + filepath.Base(policies.BusSocket)

// pinnedSocket are socket(2)'s arguments the dns policy allows.
var pinnedSocket = []uint64{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC, 0}

func dnsAttacks() []attack {
	dns := []string{"dns"}
	as := []attack{
		{name: AttackDNSSocketDgram, roles: dns, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		}},
		{name: "socket(AF_UNIX, SOCK_STREAM) blocking (another type word than the pinned one)", roles: dns, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		}},
		{name: "socket(AF_INET6, SOCK_DGRAM)", roles: dns, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		}},
		{name: "socket(AF_PACKET, SOCK_RAW)", roles: dns, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		}},
		{name: "socket(AF_UNIX, SOCK_STREAM, protocol 1)", roles: dns, do: func(e *env) Record {
			return sysRec(e, "seccomp-args", "socket", unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 1)
		}},
	}
	// Every UNIX path but the bus socket: nothing else is in the chroot.
	for _, path := range []string{
		"/run/systemd/resolve/io.systemd.Resolve",
		"/run/systemd/journal/socket",
		"/run/systemd/private",
		"/run/dbus/system_bus_socket",
		"../../run/nscd/socket",
		"/",
	} {
		as = append(as, attack{name: "connect to the UNIX path " + path, roles: dns, do: func(e *env) Record {
			return unixConnect(e, path, false)
		}})
	}
	as = append(as,
		attack{name: "connect to the abstract UNIX socket @" + AbstractName + " (the harness listens on it)", roles: dns, do: func(e *env) Record {
			return unixConnect(e, AbstractName, true)
		}},
		attack{name: "a bus connection of its own: org.freedesktop.DBus.ListNames", roles: dns, do: busListNames},
		attack{name: "a second bus connection besides the first", roles: dns, do: busSecond},
	)
	return as
}

// sockaddrUnix lays out a sockaddr_un for path, or for the abstract name
// (a leading NUL) when abstract.
func sockaddrUnix(path string, abstract bool) (*unix.RawSockaddrUnix, uint64) {
	sa := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	off := 0
	if abstract {
		off = 1
	}
	for i := 0; i < len(path) && off+i < len(sa.Path)-1; i++ {
		sa.Path[off+i] = int8(path[i])
	}
	n := 2 + off + len(path)
	if !abstract {
		n++ // the terminating NUL
	}
	return sa, uint64(n)
}

// unixConnect makes the pinned socket and connects it to path.
func unixConnect(e *env, path string, abstract bool) Record {
	fd, errno, k := e.sys("socket", pinnedSocket...)
	if k {
		return killed()
	}
	if errno != 0 {
		return Record{Outcome: Error, Observed: "the pinned socket: " + kit.ErrnoName(errno)}
	}
	defer unix.Close(int(fd))
	sa, n := sockaddrUnix(path, abstract)
	_, errno, k = e.sys("connect", uint64(fd), uint64(uintptr(unsafe.Pointer(sa))), n)
	runtime.KeepAlive(sa)
	if k {
		return killed()
	}
	switch {
	case errno == 0 || errno == unix.EINPROGRESS || errno == unix.EAGAIN:
		return Record{Outcome: GotThrough, Observed: "connected: " + kit.ErrnoName(errno)}
	case abstract && errno == unix.EPERM:
		return Record{Outcome: Blocked, Observed: "EPERM", Layer: "landlock (scope.abstract_unix, ABI 6)"}
	case abstract:
		// ECONNREFUSED would be a missing listener: it proves nothing.
		return Record{Outcome: Error, Observed: kit.ErrnoName(errno) + ": the harness's listener was not reached, so the scope is unproved"}
	case errno == unix.ENOENT || errno == unix.ENOTDIR:
		return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "chroot (nothing but the bus socket in it)"}
	case errno == unix.EACCES:
		return Record{Outcome: Blocked, Observed: "EACCES", Layer: "landlock (resolve_unix) or dac"}
	}
	return Record{Outcome: Blocked, Observed: kit.ErrnoName(errno), Layer: "kernel"}
}

// busDial connects to the bus as the role does (internal/dnsrole).
func busDial() (*dbus.Conn, error) {
	return dbus.Connect("unix:path="+busPath, dbus.WithAuth(dbus.AuthExternal(strconv.Itoa(os.Getuid()))))
}

// busListNames is what the role can do on a bus connection: any method
// the bus's policy lets any local user call. On a real host that policy
// and polkit (behind resolved) are the bounds, not the role's sandbox.
func busListNames(e *env) Record {
	if !e.allowed("socket", pinnedSocket...) || !e.allowed("connect") {
		return killed()
	}
	c, err := busDial()
	if err != nil {
		return Record{Outcome: Error, Observed: "connecting to the bus: " + err.Error()}
	}
	defer c.Close()
	var names []string
	if err := c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		return Record{Outcome: Blocked, Observed: err.Error(), Layer: "bus policy"}
	}
	return Record{Outcome: ByDesign, Observed: fmt.Sprintf("%d names listed (any local user may)", len(names)), Layer: "bus policy"}
}

func busSecond(e *env) Record {
	if !e.allowed("socket", pinnedSocket...) || !e.allowed("connect") {
		return killed()
	}
	c1, err := busDial()
	if err != nil {
		return Record{Outcome: Error, Observed: "first connection: " + err.Error()}
	}
	defer c1.Close()
	c2, err := busDial()
	if err != nil {
		return Record{Outcome: Blocked, Observed: "second connection: " + err.Error(), Layer: "bus"}
	}
	defer c2.Close()
	var uid uint32
	if err := c1.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixUser", 0, c2.Names()[0]).Store(&uid); err != nil {
		return Record{Outcome: Error, Observed: "asking the bus for the second connection's uid: " + err.Error()}
	}
	if uid == 0 {
		return Record{Outcome: GotThrough, Observed: "the second connection is credited to root"}
	}
	return Record{Outcome: ByDesign, Observed: fmt.Sprintf("accepted, credited to uid %d like the first (any local user may open several)", uid), Layer: "bus policy"}
}
