package sandbox_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/ndhc-go/ndhc/sandbox"
	"golang.org/x/sys/unix"
)

func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	ca, cb, err := sandbox.SeqpacketConns()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

// openFDs counts this process's descriptors, to prove that rejected
// messages do not leak the descriptors they carried.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func devNull(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestRecvFD(t *testing.T) {
	a, b := pair(t)
	fd := devNull(t)
	if err := sandbox.SendFD(a, []byte("sock"), fd); err != nil {
		t.Fatal(err)
	}
	msg, f, err := sandbox.RecvFD(b, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if string(msg) != "sock" {
		t.Fatalf("message %q", msg)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		t.Fatalf("received descriptor is not /dev/null: %v %+v", err, st)
	}
}

func TestRecvRejects(t *testing.T) {
	fd := devNull(t)
	cases := []struct {
		name   string
		send   func(c *net.UnixConn) error
		wantFD bool
		size   int
		want   string
	}{
		{"two descriptors", func(c *net.UnixConn) error {
			_, _, err := c.WriteMsgUnix([]byte("sock"), unix.UnixRights(fd, fd), nil)
			return err
		}, true, 4, "exactly one descriptor"},
		{"no descriptor", func(c *net.UnixConn) error { return sandbox.Send(c, []byte("sock")) }, true, 4, "exactly one descriptor"},
		{"short message", func(c *net.UnixConn) error { return sandbox.SendFD(c, []byte("so"), fd) }, true, 4, "want exactly 4"},
		{"long message", func(c *net.UnixConn) error { return sandbox.SendFD(c, []byte("socket"), fd) }, true, 4, "want exactly 4"},
		{"descriptor where none is expected", func(c *net.UnixConn) error { return sandbox.SendFD(c, []byte("ping"), fd) }, false, 4, "unexpected control data"},
		{"wrong size without descriptor", func(c *net.UnixConn) error { return sandbox.Send(c, []byte("pingpong")) }, false, 4, "want exactly 4"},
		{"credentials control message", func(c *net.UnixConn) error {
			_, _, err := c.WriteMsgUnix([]byte("ping"), unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}), nil)
			return err
		}, false, 4, "control data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := pair(t)
			if c.name == "credentials control message" {
				rc, _ := b.SyscallConn()
				rc.Control(func(s uintptr) { unix.SetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
			}
			before := openFDs(t)
			if err := c.send(a); err != nil {
				t.Fatal(err)
			}
			var err error
			if c.wantFD {
				_, _, err = sandbox.RecvFD(b, c.size)
			} else {
				_, err = sandbox.Recv(b, c.size)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			// More is a leak; fewer happens when a finalizer closed a
			// file an earlier case left unreachable.
			if after := openFDs(t); after > before {
				t.Fatalf("descriptors leaked: %d before, %d after", before, after)
			}
		})
	}
}

func TestRecvPeerClosed(t *testing.T) {
	a, b := pair(t)
	a.Close()
	if _, err := sandbox.Recv(b, 4); !errors.Is(err, sandbox.ErrPeerClosed) {
		t.Fatalf("got %v, want ErrPeerClosed", err)
	}
	if _, err := sandbox.RecvUpTo(b, 4); !errors.Is(err, sandbox.ErrPeerClosed) {
		t.Fatalf("got %v, want ErrPeerClosed", err)
	}
}

func TestRecvUpTo(t *testing.T) {
	a, b := pair(t)
	if err := sandbox.Send(a, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got, err := sandbox.RecvUpTo(b, 8); err != nil || string(got) != "hello" {
		t.Fatalf("got %q %v", got, err)
	}
	if err := sandbox.Send(a, []byte("much too long")); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.RecvUpTo(b, 8); err == nil || !strings.Contains(err.Error(), "longer than 8") {
		t.Fatalf("oversized message: %v", err)
	}
}

func TestPeerCred(t *testing.T) {
	a, b := pair(t)
	cred, err := sandbox.PeerCred(b)
	if err != nil {
		t.Fatal(err)
	}
	if int(cred.Pid) != os.Getpid() || int(cred.Uid) != os.Getuid() {
		t.Fatalf("cred %+v", cred)
	}
	if err := sandbox.CheckPeer(a, uint32(os.Getuid())+1, 0); err == nil {
		t.Fatal("wrong uid accepted")
	}
	if err := sandbox.CheckPeer(a, uint32(os.Getuid()), os.Getpid()+1); err == nil {
		t.Fatal("wrong pid accepted")
	}
}

func TestCloseInherited(t *testing.T) {
	open := func(flags int) int {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	inherited, own, kept := open(0), open(unix.O_CLOEXEC), open(0)
	defer unix.Close(own)
	defer unix.Close(kept)
	if err := sandbox.CloseInherited(kept); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(inherited), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("a descriptor without close-on-exec is still open (%v)", err)
	}
	if _, err := unix.FcntlInt(uintptr(own), unix.F_GETFD, 0); err != nil {
		t.Errorf("the process's own descriptor was closed: %v", err)
	}
	if f, err := unix.FcntlInt(uintptr(kept), unix.F_GETFD, 0); err != nil || f&unix.FD_CLOEXEC == 0 {
		t.Errorf("kept descriptor: flags %#x, %v; want open and close-on-exec", f, err)
	}
}

func TestParseKillRecord(t *testing.T) {
	arch, err := sandbox.AuditArch()
	if err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf("5,1113,2554166982,-;audit: type=1326 audit(1795984325.212:1113): auid=4294967295 uid=61100 gid=61100 ses=4294967295 pid=15608 comm=\"exe\" exe=\"/tmp/x\" sig=31 arch=%x syscall=105 compat=0 ip=0x40ac6e code=0x80000000\n", arch)
	pid, nr, ok := sandbox.ParseKillRecord([]byte(rec))
	if !ok || pid != 15608 || nr != 105 {
		t.Fatalf("pid %d syscall %d ok %v", pid, nr, ok)
	}
	for _, bad := range []string{
		strings.Replace(rec, "type=1326", "type=1400", 1),                      // another audit record
		strings.Replace(rec, fmt.Sprintf("arch=%x", arch), "arch=40000003", 1), // another architecture
		strings.Replace(rec, "pid=15608", "pid=x", 1),
		strings.Replace(rec, ";", ",", 1),
		"6,1,1,-;a line that only mentions type=1326 pid=1 syscall=2",
	} {
		if _, _, ok := sandbox.ParseKillRecord([]byte(bad)); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}
