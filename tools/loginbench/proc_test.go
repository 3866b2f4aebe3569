package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeProc is one process of a fake /proc tree.
type fakeProc struct {
	pid, ppid int
	uid       uint32
	exe       string
	title     string
	pss       int64
}

// writeFakeProc lays out procs as /proc does: stat (with a command name
// holding spaces and parentheses, as a hostile one may), status,
// cmdline with NULs, exe as a symlink, smaps_rollup.
func writeFakeProc(t *testing.T, procs []fakeProc) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, fmt.Sprint(p.pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (x) S %d) S %d %d 0 0 -1 4194560\n", p.pid, p.pid+1000, p.ppid, p.pid)
		status := fmt.Sprintf("Name:\tx\nPid:\t%d\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n", p.pid, p.ppid, p.uid, p.uid, p.uid, p.uid)
		smaps := fmt.Sprintf("55d0c0000000-7ffc00000000 ---p 00000000 00:00 0 [rollup]\nRss:  %d kB\nPss:  %d kB\nPss_Anon:  1 kB\nPss_File:  2 kB\n", p.pss*2, p.pss)
		for name, text := range map[string]string{
			"stat": stat, "status": status, "smaps_rollup": smaps,
			"cmdline": strings.ReplaceAll(p.title, " ", "\x00") + "\x00",
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if p.exe != "" {
			if err := os.Symlink(p.exe, filepath.Join(dir, "exe")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Not a process: ignored.
	os.WriteFile(filepath.Join(root, "loadavg"), []byte("1 1 1 1/1 1\n"), 0o644)
	os.Mkdir(filepath.Join(root, "self"), 0o755)
	return root
}

func pids(ps []*proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.pid)
	}
	slices.Sort(out)
	return out
}

func TestClassifyNetlogind(t *testing.T) {
	const nl, sess = "/opt/bin/netlogind", "/opt/bin/netlogind-session"
	procs := []fakeProc{
		{pid: 100, ppid: 1, uid: 0, exe: nl, title: "netlogind -listen :2323", pss: 4000},
		// Connection 1, authenticated, running a command.
		{pid: 101, ppid: 100, uid: 62900, exe: nl, title: "netlogind-net", pss: 3100},
		{pid: 102, ppid: 100, uid: 0, exe: sess, title: "netlogind-session", pss: 3300},
		{pid: 103, ppid: 102, uid: 1000, exe: "/usr/bin/dash", title: "/bin/sh -c sleep 60", pss: 200},
		{pid: 104, ppid: 103, uid: 1000, exe: "/usr/bin/sleep", title: "sleep 60", pss: 100},
		// Connection 2, before authentication; [net]'s binary was
		// replaced on disk since it started.
		{pid: 110, ppid: 100, uid: 62901, exe: nl + " (deleted)", title: "netlogind-net", pss: 3000},
		{pid: 111, ppid: 100, uid: 0, exe: sess, title: "netlogind-session", pss: 3200},
		// Not per-connection processes of this listener.
		{pid: 120, ppid: 100, uid: 1000, exe: nl, title: "netlogind-net"},        // netlogind outside the [net] range
		{pid: 121, ppid: 100, uid: 0, exe: "/usr/bin/sh", title: "sh"},           // something else
		{pid: 122, ppid: 100, uid: 62950, exe: sess, title: "netlogind-session"}, // session not as root
		{pid: 130, ppid: 1, uid: 62902, exe: nl, title: "netlogind-net"},         // another listener's
	}
	tab, err := readProcs(writeFakeProc(t, procs))
	if err != nil {
		t.Fatal(err)
	}
	c := classifyNetlogind(tab, netlogindIDs{listener: 100, netExe: nl, sessionExe: sess, uidFirst: 62900, uidLast: 62999})
	if got := pids(c.net); !slices.Equal(got, []int{101, 110}) {
		t.Errorf("[net] %v, want 101 and 110", got)
	}
	if got := pids(c.session); !slices.Equal(got, []int{102, 111}) {
		t.Errorf("[session] %v, want 102 and 111", got)
	}
	if c.commands != 1 {
		t.Errorf("%d sessions running a command, want 1", c.commands)
	}
	if got := pids(c.other); !slices.Equal(got, []int{120, 121, 122}) {
		t.Errorf("other %v, want 120, 121, 122", got)
	}
	sum, err := tab.sumPSS(c.net, c.session)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, p := range procs {
		if slices.Contains([]int{101, 102, 110, 111}, p.pid) {
			want += p.pss
		}
	}
	if sum != want {
		t.Errorf("PSS sum %d kB, want %d (the commands and the listener left out)", sum, want)
	}
}

func TestClassifySSHD(t *testing.T) {
	const sshd = "/usr/sbin/sshd"
	const privsep, user = 104, 1000
	procs := []fakeProc{
		{pid: 200, ppid: 1, uid: 0, exe: sshd, title: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", pss: 2600},
		// Before authentication.
		{pid: 201, ppid: 200, uid: 0, exe: sshd, title: "sshd: u [priv]", pss: 2500},
		{pid: 202, ppid: 201, uid: privsep, exe: sshd, title: "sshd: u [net]", pss: 1400},
		// After, running a command.
		{pid: 203, ppid: 200, uid: 0, exe: sshd, title: "sshd: u [priv]", pss: 2700},
		{pid: 204, ppid: 203, uid: user, exe: sshd, title: "sshd: u@notty", pss: 1700},
		{pid: 205, ppid: 204, uid: user, exe: "/usr/bin/dash", title: "sh -c sleep 60", pss: 150},
		// After, the command gone.
		{pid: 206, ppid: 200, uid: 0, exe: sshd, title: "sshd: u [priv]", pss: 2650},
		{pid: 207, ppid: 206, uid: user, exe: sshd, title: "sshd: u@notty", pss: 1650},
		// Key exchange: the monitor alone so far.
		{pid: 208, ppid: 200, uid: 0, exe: sshd, title: "sshd: [accepted]", pss: 2000},
		// Others.
		{pid: 209, ppid: 200, uid: 0, exe: "/usr/bin/sh", title: "sh"},
		{pid: 210, ppid: 201, uid: 0, exe: "/usr/bin/true", title: "true"},
		{pid: 211, ppid: 203, uid: 33, exe: sshd, title: "sshd: www-data"},
	}
	tab, err := readProcs(writeFakeProc(t, procs))
	if err != nil {
		t.Fatal(err)
	}
	c := classifySSHD(tab, sshdIDs{master: 200, exe: sshd, privsepUID: privsep, user: user})
	for _, x := range []struct {
		name      string
		got, want []int
	}{
		{"[priv]", pids(c.priv), []int{201, 203, 206, 208}},
		{"pre-auth [net]", pids(c.preauth), []int{202}},
		{"USER@notty", pids(c.postauth), []int{204, 207}},
		{"other", pids(c.other), []int{209, 210, 211}},
	} {
		if !slices.Equal(x.got, x.want) {
			t.Errorf("%s: %v, want %v", x.name, x.got, x.want)
		}
	}
	if c.commands != 1 {
		t.Errorf("%d sessions running a command, want 1", c.commands)
	}
	if d := pids(tab.descendants(200)); len(d) != len(procs)-1 {
		t.Errorf("descendants of the master: %v, want every process but the master", d)
	}
}

func TestParsePSS(t *testing.T) {
	// The kernel's own file, when there is one: a process has some PSS.
	if f, err := os.Open("/proc/self/smaps_rollup"); err == nil {
		kb, err := parsePSS(f)
		f.Close()
		if err != nil || kb <= 0 {
			t.Errorf("/proc/self/smaps_rollup: %d kB, %v", kb, err)
		}
	}
	good := "00400000-7fff00000000 ---p 00000000 00:00 0   [rollup]\nRss:   9000 kB\nPss:    4321 kB\nPss_Dirty: 100 kB\nPss_Anon: 3000 kB\n"
	if kb, err := parsePSS(strings.NewReader(good)); err != nil || kb != 4321 {
		t.Errorf("good rollup: %d, %v; want 4321", kb, err)
	}
	for _, bad := range []string{
		"",
		"Rss: 9000 kB\nPss_Anon: 3000 kB\n", // Pss_* alone is not Pss
		"Pss: many kB\n",
		"Pss: 12 MB\n",
		"Pss: -5 kB\n",
		"Pss: 12\n",
	} {
		if kb, err := parsePSS(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: %d kB, want an error", bad, kb)
		}
	}
}

func TestParseStat(t *testing.T) {
	if ppid, err := parseStatPPID([]byte("77 (a) b) (c) S 42 77 77 0 -1\n")); err != nil || ppid != 42 {
		t.Errorf("comm with parentheses: ppid %d, %v; want 42", ppid, err)
	}
	for _, bad := range []string{"77 (a S 42", "77 (a) S", "77 (a) S x"} {
		if _, err := parseStatPPID([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if uid, err := parseStatusUID([]byte("Name:\tx\nUid:\t62900\t62900\t62900\t62900\n")); err != nil || uid != 62900 {
		t.Errorf("status: uid %d, %v", uid, err)
	}
	for _, bad := range []string{"Name:\tx\n", "Uid:\n", "Uid:\tme\n"} {
		if _, err := parseStatusUID([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestListening(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0913 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
`
	if !listening([]byte(table), 2222) {
		t.Error("port 2222 (08AE) listens")
	}
	if listening([]byte(table), 2323) {
		t.Error("port 2323 (0913) is an established connection, not a listener")
	}
	if listening([]byte(table), 0xAE) {
		t.Error("port 174 (00AE) is not 08AE")
	}
}
