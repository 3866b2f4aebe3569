package session

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCommandEnvBanList(t *testing.T) {
	a := &Account{Name: "alice", Home: "/home/alice", Shell: "/bin/bash"}
	fixed := []string{"HOME=/home/alice", "USER=alice", "LOGNAME=alice", "SHELL=/bin/bash", "PATH=" + DefaultPath}
	for _, tc := range []struct {
		kv   string
		pass bool
	}{
		{"FOO=bar", true},
		{"LANG=C.UTF-8", true},
		{"TMPDIR=/tmp/user/1000", true},
		{"_x1=y", true},
		{"EMPTY=", true},
		{"LD_PRELOAD=/nonexistent.so", false},
		{"LD_LIBRARY_PATH=/tmp", false},
		{"LD_AUDIT=/tmp/a.so", false},
		{"MALLOC_CHECK_=3", false},
		{"MALLOC_TRACE=/tmp/t", false},
		{"GLIBC_TUNABLES=glibc.malloc.check=3", false},
		{"GCONV_PATH=/tmp", false},
		{"LOCPATH=/tmp", false},
		{"NLSPATH=/tmp/%N", false},
		{"HOSTALIASES=/tmp/h", false},
		{"RES_OPTIONS=debug", false},
		{"IFS=/", false},
		{"ENV=/tmp/rc", false},
		{"BASH_ENV=/tmp/rc", false},
		{"CDPATH=/tmp", false},
		{"PS4=$(id)", false},
		{"SHELLOPTS=xtrace", false},
		{"BASHOPTS=extglob", false},
		{"PATH=/tmp/evil", false},
		{"HOME=/tmp/evil", false},
		{"USER=root", false},
		{"LOGNAME=root", false},
		{"SHELL=/tmp/sh", false},
		{"BASH_FUNC_ls%%=() { id; }", false},
		{"1X=y", false},
		{"A-B=y", false},
		{"=y", false},
		{"NOEQUALS", false},
	} {
		env := commandEnv(a, []string{tc.kv})
		if !slices.Equal(env[:len(fixed)], fixed) {
			t.Errorf("%q: fixed part %q, want %q", tc.kv, env[:len(fixed)], fixed)
		}
		got := slices.Contains(env[len(fixed):], tc.kv)
		if got != tc.pass || len(env) != len(fixed)+map[bool]int{true: 1}[tc.pass] {
			t.Errorf("%q: passed %v (env %q), want %v", tc.kv, got, env, tc.pass)
		}
	}
	// Each name once: the first wins.
	env := commandEnv(a, []string{"FOO=1", "FOO=2"})
	if n := len(env) - len(fixed); n != 1 || env[len(fixed)] != "FOO=1" {
		t.Errorf("duplicates: %q", env[len(fixed):])
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "plain",
		"tab\tand\nnewline":     "tab\tand\nnewline",
		"esc\x1b[2Jclear":       "esc?[2Jclear",
		"bell\a del\x7f":        "bell? del?",
		"c1 \u0085 bad \xff ok": "c1 ? bad ? ok",
		"é ünïcode":             "é ünïcode",
	} {
		if got := printable(in, 100); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := printable(strings.Repeat("é", 10), 5); got != "éé" {
		t.Errorf("cut at 5 bytes: %q, want whole runes only", got)
	}
}

func TestConfig(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"service":"nl","pam_confdir":"/tmp/p","peer":"192.0.2.1:4000","auth_deadline":"1m30s","fail_delay":"500ms"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Service != "nl" || time.Duration(c.AuthDeadline) != 90*time.Second || time.Duration(c.FailDelay) != 500*time.Millisecond {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip %s gave %+v (%v)", b, back, err)
	}
	d := Config{}.WithDefaults()
	if d.Service != DefaultService || time.Duration(d.AuthDeadline) != DefaultAuthDeadline || time.Duration(d.FailDelay) != DefaultFailDelay {
		t.Errorf("defaults %+v", d)
	}
	for name, bad := range map[string]Config{
		"service with slash": {Service: "../shadow"},
		"service dot-dot":    {Service: ".."},
		"relative confdir":   {PAMConfDir: "pam.d"},
		"peer with space":    {Peer: "a b"},
		"peer with newline":  {Peer: "a\nb"},
		"long peer":          {Peer: strings.Repeat("a", maxPeer+1)},
		"negative delay":     {FailDelay: Duration(-time.Second)},
		"huge deadline":      {AuthDeadline: Duration(time.Hour)},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, bad)
		}
	}
	if err := json.Unmarshal([]byte(`{"fail_delay":2}`), &c); err == nil {
		t.Errorf("a number as a duration was accepted")
	}
}

func TestPasswdShell(t *testing.T) {
	p := t.TempDir() + "/passwd"
	if err := writeFile(p, "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:\nbob:x:1001:1001::/home/bob:zsh\nbadline\n"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"root": "/bin/bash", "alice": fallbackShell, "bob": fallbackShell, "carol": fallbackShell} {
		if got := passwdShell(p, name); got != want {
			t.Errorf("shell of %s = %q, want %q", name, got, want)
		}
	}
}
