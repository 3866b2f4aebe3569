package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// proc is what the tool needs of one process in /proc.
type proc struct {
	pid, ppid int
	uid       uint32 // real uid
	exe       string // target of /proc/PID/exe, without " (deleted)"
	title     string // /proc/PID/cmdline, NULs as spaces (sshd rewrites it)
}

// procTable is a snapshot of the processes under a /proc root.
type procTable struct {
	root  string
	procs map[int]*proc
	kids  map[int][]*proc
}

// readProcs takes a snapshot of the processes in root (normally /proc).
// Processes that exit while it reads are left out: the callers poll until
// the set they wait for is stable, so a missing one shows as a count that
// does not match yet.
func readProcs(root string) (*procTable, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	t := &procTable{root: root, procs: map[int]*proc{}, kids: map[int][]*proc{}}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		p, err := readProc(root, pid)
		if err != nil {
			continue
		}
		t.procs[pid] = p
	}
	for _, p := range t.procs {
		t.kids[p.ppid] = append(t.kids[p.ppid], p)
	}
	for _, k := range t.kids {
		slices.SortFunc(k, func(a, b *proc) int { return a.pid - b.pid })
	}
	return t, nil
}

func readProc(root string, pid int) (*proc, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, err
	}
	ppid, err := parseStatPPID(stat)
	if err != nil {
		return nil, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	uid, err := parseStatusUID(status)
	if err != nil {
		return nil, fmt.Errorf("%s/status: %w", dir, err)
	}
	// Kernel threads and processes of other users we may not inspect have
	// no readable exe: they are nobody the tool measures.
	exe, _ := os.Readlink(filepath.Join(dir, "exe"))
	exe = strings.TrimSuffix(exe, " (deleted)")
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	title := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	return &proc{pid: pid, ppid: ppid, uid: uid, exe: exe, title: title}, nil
}

// parseStatPPID reads the parent pid from /proc/PID/stat: "pid (comm)
// state ppid ...". comm may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStatPPID(b []byte) (int, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("too few fields")
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil || ppid < 0 {
		return 0, fmt.Errorf("ppid %q", f[1])
	}
	return ppid, nil
}

// parseStatusUID reads the real uid from /proc/PID/status ("Uid: real
// effective saved fs").
func parseStatusUID(b []byte) (uint32, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Uid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		u, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("uid %q", f[0])
		}
		return uint32(u), nil
	}
	return 0, errors.New("no Uid line")
}

// children returns pid's children, lowest pid first.
func (t *procTable) children(pid int) []*proc { return t.kids[pid] }

// descendants returns every process below pid, parents before children.
func (t *procTable) descendants(pid int) []*proc {
	var out []*proc
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range t.kids[p] {
			if seen[k.pid] {
				continue
			}
			seen[k.pid] = true
			out = append(out, k)
			queue = append(queue, k.pid)
		}
	}
	return out
}

// pss is one process's proportional set size in kB, from its
// smaps_rollup.
func (t *procTable) pss(pid int) (int64, error) {
	f, err := os.Open(filepath.Join(t.root, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	kb, err := parsePSS(f)
	if err != nil {
		return 0, fmt.Errorf("pid %d smaps_rollup: %w", pid, err)
	}
	return kb, nil
}

// parsePSS reads the "Pss:" line of a smaps_rollup, in kB. The other
// Pss_* lines split that figure and are not added.
func parsePSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Pss:" {
			continue
		}
		if len(f) != 3 || f[2] != "kB" {
			return 0, fmt.Errorf("malformed line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("malformed line %q", sc.Text())
		}
		return kb, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no Pss line")
}

// netlogindProcs are the per-connection processes of one netlogind
// listener, found by parent pid, executable and uid:
//   - [net]: a child of the listener running the netlogind binary (it is
//     re-executed, so /proc/PID/exe is the listener's own file) under a uid
//     of the -net-uids range;
//   - [session]: a child of the listener running the netlogind-session
//     binary as root;
//   - the user's command: a child of a [session] (not measured; counted
//     to tell that the command runs).
//
// Anything else under the listener lands in other.
type netlogindProcs struct {
	net, session []*proc
	commands     int // sessions with a child: the user's command runs
	other        []*proc
}

type netlogindIDs struct {
	listener           int
	netExe, sessionExe string
	uidFirst, uidLast  uint32
}

func classifyNetlogind(t *procTable, id netlogindIDs) netlogindProcs {
	var c netlogindProcs
	for _, p := range t.children(id.listener) {
		switch {
		case p.exe == id.netExe && p.uid >= id.uidFirst && p.uid <= id.uidLast:
			c.net = append(c.net, p)
		case p.exe == id.sessionExe && p.uid == 0:
			c.session = append(c.session, p)
			if len(t.children(p.pid)) > 0 {
				c.commands++
			}
		default:
			c.other = append(c.other, p)
		}
	}
	return c
}

// sshdProcs are the per-connection processes of one OpenSSH 9.2 sshd
// master (started with -D), found by parent pid, executable and uid. 9.2
// keeps every role in the one sshd binary (sshd-session came with 9.8,
// sshd-auth with 10.0), so the executable alone does not tell them apart:
//   - the privileged monitor ("sshd: USER [priv]"): a child of the master
//     running sshd as root;
//   - before authentication, the monitor's unprivileged child ("sshd: USER
//     [net]"): sshd under the privilege-separation user;
//   - after authentication, the monitor's child running as the user
//     ("sshd: USER@notty"), whose children are the user's command (not
//     measured).
//
// A monitor with neither child yet (key exchange) counts in priv only;
// anything else lands in other.
type sshdProcs struct {
	priv, preauth, postauth []*proc
	commands                int // postauth children with a child of their own
	other                   []*proc
}

type sshdIDs struct {
	master           int
	exe              string
	privsepUID, user uint32
}

func classifySSHD(t *procTable, id sshdIDs) sshdProcs {
	var c sshdProcs
	for _, p := range t.children(id.master) {
		if p.exe != id.exe || p.uid != 0 {
			c.other = append(c.other, p)
			continue
		}
		c.priv = append(c.priv, p)
		for _, k := range t.children(p.pid) {
			switch {
			case k.exe == id.exe && k.uid == id.privsepUID:
				c.preauth = append(c.preauth, k)
			case k.exe == id.exe && k.uid == id.user:
				c.postauth = append(c.postauth, k)
				if len(t.children(k.pid)) > 0 {
					c.commands++
				}
			default:
				c.other = append(c.other, k)
			}
		}
	}
	return c
}

// sumPSS adds the PSS of the given processes, in kB.
func (t *procTable) sumPSS(ps ...[]*proc) (int64, error) {
	var sum int64
	for _, list := range ps {
		for _, p := range list {
			kb, err := t.pss(p.pid)
			if err != nil {
				return 0, err
			}
			sum += kb
		}
	}
	return sum, nil
}

// listening reports whether a /proc/PID/net/tcp table (of the namespace
// PID is in) holds a socket in state LISTEN on port. The tool reads it
// instead of connecting: a probe connection would start a [net] and a
// [session], or an sshd monitor, that the counts later see.
func listening(table []byte, port int) bool {
	want := fmt.Sprintf(":%04X", port)
	for line := range strings.SplitSeq(string(table), "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; 0A is TCP_LISTEN.
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		if strings.HasSuffix(f[1], want) {
			return true
		}
	}
	return false
}
