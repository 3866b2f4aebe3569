package sandbox

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
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
