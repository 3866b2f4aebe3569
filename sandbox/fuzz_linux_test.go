package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// formatStatus renders the fields ParseStatus reads, as the kernel would.
func formatStatus(s Status) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:\texe\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nGroups:\t", s.Uid[0], s.Uid[1], s.Uid[2], s.Uid[3], s.Gid[0], s.Gid[1], s.Gid[2], s.Gid[3])
	for _, g := range s.Groups {
		fmt.Fprintf(&b, "%d ", g)
	}
	fmt.Fprintf(&b, "\nThreads:\t%d\nCapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t%d\nSeccomp:\t%d\n",
		s.Threads, s.CapInh, s.CapPrm, s.CapEff, s.CapBnd, s.CapAmb, s.NoNewPrivs, s.Seccomp)
	return []byte(b.String())
}

// FuzzParseStatus: the read-back parses what the kernel writes; whatever
// it accepts renders back to text that parses to the same status.
func FuzzParseStatus(f *testing.F) {
	f.Add(formatStatus(Status{Uid: [4]uint32{61, 61, 61, 61}, Gid: [4]uint32{61, 61, 61, 61}, Groups: []uint32{}, CapEff: 1 << 13, NoNewPrivs: 1, Seccomp: 2, Threads: 5}))
	f.Add([]byte("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4 24\nCapInh:\t0\nCapPrm:\t1ff\nCapEff:\t1ff\nCapBnd:\t1ff\nCapAmb:\t0\nNoNewPrivs:\t0\nSeccomp:\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			return
		}
		again, err := ParseStatus(formatStatus(s))
		if err != nil {
			t.Fatalf("rendered %+v does not parse: %v", s, err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("%+v -> %+v", s, again)
		}
	})
}

// FuzzParseFDs: the named descriptors a child inherits, from SANDBOX_FDS.
// What parses renders back to the same value.
func FuzzParseFDs(f *testing.F) {
	f.Add("ctl:3,engine:4,links:5")
	f.Add("ctl:3")
	f.Fuzz(func(t *testing.T, s string) {
		fds, err := parseFDs(s)
		if err != nil {
			return
		}
		var items []string
		for name, fd := range fds {
			if fd < 3 || name == "" || strings.ContainsAny(name, ",: =") {
				t.Fatalf("%q gave %s:%d", s, name, fd)
			}
			items = append(items, fmt.Sprintf("%s:%d", name, fd))
		}
		again, err := parseFDs(strings.Join(items, ","))
		if err != nil || !reflect.DeepEqual(fds, again) {
			t.Fatalf("%q -> %v -> %v, %v", s, fds, again, err)
		}
	})
}

// FuzzParseKillRecord: kernel log records, as hostile as the log's other
// writers can make them.
func FuzzParseKillRecord(f *testing.F) {
	f.Add([]byte("5,1,2,-;audit: type=1326 audit(1.2:3): pid=42 arch=c000003e syscall=59 code=0x80000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, nr, ok := ParseKillRecord(b)
		if ok && (pid <= 0 || nr < 0) {
			t.Fatalf("%q: pid %d syscall %d", b, pid, nr)
		}
	})
}

// setupSeed is a setup message as Spawn writes it.
func setupSeed(t testing.TB, degrade []string, config string) []byte {
	p := Policy{
		Role: "sockd", User: "61235", Group: "61235", Chroot: "/var/empty/sockd",
		Caps:     []string{"CAP_NET_RAW"},
		Rlimits:  []Rlimit{{Resource: "CORE", Max: 0}, {Resource: "NOFILE", Max: 16}},
		Umask:    0o077,
		Landlock: Landlock{RODirs: []string{"/etc"}, BindUDP: []uint16{68}},
		Seccomp: []Syscall{
			Allow("read", "reads"),
			Allow("exit_group", "exit"),
			AllowIf("socket", "packet sockets", Arg(0, Eq, 17, "AF_PACKET")),
			{Name: "tgkill", Why: "own threads", Any: [][]Cond{{{Arg: 0, Op: Eq, Self: true}}}},
		},
	}
	su := setup{Policy: p, Degrade: degrade}
	if config != "" {
		su.Config = json.RawMessage(config)
	}
	b, err := json.Marshal(su)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue decodes an accepted configuration, numbers kept as written;
// nil for none.
func jsonValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("accepted configuration %q is not JSON: %v", raw, err)
	}
	return v
}

// FuzzSetup: the setup message is the first thing a child reads from its
// parent, and it decides the child's whole sandbox. What parseSetup accepts
// is strict (every degrade entry one known layer, once), re-encodes to a
// message that parses to the same setup, and its policy compiles to a
// seccomp filter that allows each syscall it lists without conditions.
func FuzzSetup(f *testing.F) {
	f.Add(setupSeed(f, nil, ""))
	f.Add(setupSeed(f, []string{LayerLandlock, LayerSeccomp}, `{"link":{"name":"eth0","index":2}}`))
	f.Add([]byte(`{"policy":{"role":"x","user":"1","group":"1","chroot":"/"},"degrade":[" landlock"]}`))
	f.Add([]byte(`{"policy":{"role":"x","user":"1","group":"1","chroot":"/"},"degrade":["landlock,seccomp"]}`))
	f.Add([]byte(`{"policy":{"role":"x","user":"1","group":"1","chroot":"/"}} {}`))
	arch, err := AuditArch()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		su, err := parseSetup(b)
		if err != nil {
			return
		}
		for i, d := range su.Degrade {
			if d != LayerLandlock && d != LayerSeccomp || slices.Contains(su.Degrade[:i], d) {
				t.Fatalf("%q: degrade list %q accepted", b, su.Degrade)
			}
		}
		again, err := json.Marshal(su)
		if err != nil {
			t.Fatalf("accepted setup does not encode: %v", err)
		}
		su2, err := parseSetup(again)
		if err != nil {
			t.Fatalf("re-encoded %s does not parse: %v", again, err)
		}
		if d := cmp.Diff(su.Policy, su2.Policy, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip changed the policy: %s", d)
		}
		if !slices.Equal(su.Degrade, su2.Degrade) {
			t.Fatalf("round trip changed the degrade list: %q -> %q", su.Degrade, su2.Degrade)
		}
		// The same JSON value: encoding may spell it differently (it
		// escapes "&" as "\u0026"), and the role decodes the value.
		if c1, c2 := jsonValue(t, su.Config), jsonValue(t, su2.Config); !reflect.DeepEqual(c1, c2) {
			t.Fatalf("round trip changed the configuration: %s -> %s", su.Config, su2.Config)
		}
		if len(su.Policy.Seccomp) == 0 {
			return
		}
		prog, raw, err := CompileSeccomp(&su.Policy)
		if err != nil {
			if raw == nil && strings.Contains(err.Error(), "the kernel takes 4096") {
				return
			}
			t.Fatalf("valid policy does not compile: %v", err)
		}
		for _, s := range su.Policy.Seccomp {
			if len(s.Any) != 0 {
				continue
			}
			nr, _ := syscallNumber(s.Name)
			v, err := EvalSeccomp(prog, SeccompData{Nr: int32(nr), Arch: arch})
			if err != nil || SeccompAction(v) != SeccompRetAllow {
				t.Fatalf("%s listed without conditions: verdict %#x, %v", s.Name, v, err)
			}
		}
	})
}

// FuzzParseLayers: the operator's --allow-degraded-sandbox list. What it
// accepts names known layers only, each once, and joining the result
// parses to the same list.
func FuzzParseLayers(f *testing.F) {
	for _, s := range []string{"", "landlock", "seccomp,landlock", " landlock , ,seccomp,landlock", "caps", "landlock,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseLayers(s)
		if err != nil {
			return
		}
		for i, l := range ls {
			if l != LayerLandlock && l != LayerSeccomp || slices.Contains(ls[:i], l) {
				t.Fatalf("%q gave %q", s, ls)
			}
		}
		again, err := ParseLayers(strings.Join(ls, ","))
		if err != nil || !slices.Equal(ls, again) {
			t.Fatalf("%q -> %q -> %q, %v", s, ls, again, err)
		}
	})
}

// FuzzParseRights: control data as it comes with a received message.
// parseRights finds every descriptor (and marks every other message and a
// partial word with -1), so that none leaks: never more entries than the
// data could hold, and the descriptors it found, sent as one SCM_RIGHTS
// message, parse back to themselves.
func FuzzParseRights(f *testing.F) {
	f.Add(unix.UnixRights(7))
	f.Add(unix.UnixRights(3, 4, 5))
	f.Add(append(unix.UnixRights(9), unix.UnixRights(10)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, oob []byte) {
		fds := parseRights(oob)
		if len(fds) > len(oob)/4 {
			t.Fatalf("%d entries from %d bytes", len(fds), len(oob))
		}
		if len(fds) == 0 || slices.ContainsFunc(fds, func(fd int) bool { return fd < 0 }) {
			return
		}
		if again := parseRights(unix.UnixRights(fds...)); !slices.Equal(fds, again) {
			t.Fatalf("%x: %v, then %v", oob, fds, again)
		}
	})
}

// FuzzRecv: the framing every role and the supervisor apply to a message
// of another process, over a real SOCK_SEQPACKET pair: a message of any
// length (payload up to 300 bytes), with or without a descriptor, read by
// Recv, RecvUpTo, RecvFD or RecvMaybeFD for the size the fuzzer picks.
// What is accepted is exactly what was sent and obeys the reader's rules,
// and every refusal is an error that is not ErrPeerClosed (but an empty
// message, which recvmsg cannot tell from end-of-file).
func FuzzRecv(f *testing.F) {
	f.Add([]byte("K"), false, uint8(0), uint8(1))
	f.Add([]byte("host.example"), false, uint8(1), uint8(64))
	f.Add(make([]byte, 24), true, uint8(2), uint8(24))
	f.Add(make([]byte, 24), false, uint8(3), uint8(24))
	f.Add(make([]byte, 24), true, uint8(0), uint8(24))
	f.Add([]byte{}, true, uint8(3), uint8(0))
	// The sender calls sendmsg itself: Go's wrappers add a byte to an
	// empty message that carries a descriptor, a hostile peer need not.
	a, bf, err := SeqpacketPair()
	if err != nil {
		f.Fatal(err)
	}
	b, err := UnixConn(bf)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close(); b.Close() })
	afd := int(a.Fd())
	f.Fuzz(func(t *testing.T, msg []byte, withFD bool, reader, size uint8) {
		if len(msg) > 300 {
			msg = msg[:300]
		}
		if size == 0 {
			size = 1
		}
		var oob []byte
		var sent, pipe *os.File
		if withFD {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			sent, pipe = w, r
			oob = unix.UnixRights(int(w.Fd()))
		}
		if err := rawSendmsg(afd, msg, oob); err != nil {
			t.Fatal(err)
		}
		if sent != nil {
			sent.Close()
		}
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		var got []byte
		var file *os.File
		var rule string
		switch reader % 4 {
		case 0:
			got, err = Recv(b, int(size))
			rule = "exact, no fd"
		case 1:
			got, err = RecvUpTo(b, int(size))
			rule = "up to, no fd"
		case 2:
			got, file, err = RecvFD(b, int(size))
			rule = "exact, one fd"
		case 3:
			got, file, err = RecvMaybeFD(b, int(size))
			rule = "exact, at most one fd"
		}
		if file != nil {
			defer file.Close()
		}
		sizeOK := len(msg) == int(size)
		fdOK := !withFD
		switch reader % 4 {
		case 1:
			sizeOK = len(msg) >= 1 && len(msg) <= int(size)
		case 2:
			fdOK = withFD
		case 3:
			fdOK = true
		}
		want := sizeOK && fdOK
		// An empty message without control data reads as end-of-file:
		// on SOCK_SEQPACKET the two look the same to recvmsg.
		if errors.Is(err, ErrPeerClosed) && !(len(msg) == 0 && !withFD) {
			t.Fatalf("%s, %d bytes (fd %v): peer closed", rule, len(msg), withFD)
		}
		if (err == nil) != want {
			t.Fatalf("%s of %d: %d bytes (fd %v): err %v, want accepted %v", rule, size, len(msg), withFD, err, want)
		}
		if err != nil {
			if file != nil {
				t.Fatal("a refused message returned a file")
			}
			if pipe != nil {
				// The descriptor that came with it was closed: the
				// pipe's write end is gone, its read end sees end-of-file.
				pipe.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, rerr := pipe.Read(make([]byte, 1)); n != 0 || rerr != io.EOF {
					t.Fatalf("%s, %d bytes: refused, but the descriptor it carried is still open (%v)", rule, len(msg), rerr)
				}
			}
		} else {
			if !bytes.Equal(got, msg) {
				t.Fatalf("%s: got %x, sent %x", rule, got, msg)
			}
			if (file != nil) != withFD {
				t.Fatalf("%s: file %v, sent one %v", rule, file, withFD)
			}
			if file != nil {
				file.Close()
				file = nil
			}
		}
	})
}

// rawSendmsg sends msg with control data oob as one message, exactly.
func rawSendmsg(fd int, msg, oob []byte) error {
	var h unix.Msghdr
	var iov unix.Iovec
	if len(msg) > 0 {
		iov.Base = &msg[0]
		iov.SetLen(len(msg))
		h.Iov, h.Iovlen = &iov, 1
	}
	if len(oob) > 0 {
		h.Control = &oob[0]
		h.SetControllen(len(oob))
	}
	_, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&h)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}
