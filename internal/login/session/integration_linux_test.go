package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ndhc-go/ndhc/internal/login/logintest"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/sandbox"
)

// The integration test runs the real binary (cgo, libpam, pam_unix) as a
// privileged child started by sandbox.Spawn, against a throwaway user.

// session is one run of the binary, with the test as [net].
type sessionProc struct {
	c *sandbox.Child
	p *peer
}

func spawnSession(t *testing.T, bin string, cfg Config) sessionProc {
	t.Helper()
	mine, theirs := socketpair(t)
	f, err := mine.File()
	mine.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, err := sandbox.Spawn(sandbox.Spec{Role: "session", Program: bin, Privileged: true,
		Files: []sandbox.File{{Name: "net", File: f}}, Config: cfg})
	f.Close()
	if err != nil {
		t.Fatalf("Spawn: %v", err)
	}
	t.Cleanup(func() {
		c.Kill()
		<-c.Done()
		theirs.Close()
	})
	b, err := sandbox.RecvUpTo(c.Ctl, 1<<16)
	if err != nil {
		t.Fatalf("ready notice: %v", err)
	}
	rep, err := sandbox.ParseReady(b)
	if err != nil {
		t.Fatalf("ready notice: %v", err)
	}
	if rep.Status.Uid != [4]uint32{} {
		t.Fatalf("session runs as %v, want root", rep.Status.Uid)
	}
	return sessionProc{c: c, p: newPeer(t, theirs)}
}

// exitCode waits for the process and returns its exit status.
func (s sessionProc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-s.c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("netlogind-session did not exit")
	}
	var ee *sandbox.ExitError
	switch err := s.c.Err(); {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("netlogind-session: %v", err)
		return -1
	}
}

func TestIntegrationPAM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a user, and the session process runs PAM and commands as root")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("useradd not installed")
	}
	bin := logintest.Build(t, t.TempDir(), "github.com/ndhc-go/ndhc/cmd/netlogind-session", true)
	const service = "nltest"
	const pw1, pw2 = "Nl-first-Pw-81723", "Nl-second-Pw-90412"
	cfg := Config{Service: service, PAMConfDir: logintest.PAMConfDir(t, service), Peer: "192.0.2.7", FailDelay: Duration(time.Second), AuthDeadline: Duration(30 * time.Second)}
	name := logintest.ThrowawayUser(t, pw1)
	uid, err := LookupAccount(name)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("refuses to run on its own", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("run without Spawn: %v, want exit status 1", err)
		}
	})

	t.Run("login and commands", func(t *testing.T) {
		s := spawnSession(t, bin, cfg)
		tr := s.p.login(name, pw1)
		if tr.auth.Status != uint16(wire.AuthOK) || tr.auth.Text != name {
			t.Fatalf("Auth = %+v, want OK for %s (transcript %+v)", tr.auth, name, tr.msgs)
		}
		msg, err := sandbox.RecvUpTo(s.c.Ctl, 64)
		if err != nil || string(msg) != "A"+name {
			t.Errorf("control channel: %q, %v; want %q", msg, err, "A"+name)
		}
		r := s.p.command("id -un; echo out; echo err >&2; exit 3")
		if r.status != 3 || string(r.stdout) != name+"\nout\n" || string(r.stderr) != "err\n" {
			t.Errorf("command: status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
		}
		r = s.p.command("id -u; id -g; cat /proc/self/loginuid; echo; pwd")
		want := fmt.Sprintf("%d\n%d\n%d\n/\n", uid.Uid, uid.Gid, uid.Uid)
		if string(r.stdout) != want {
			t.Errorf("credentials, loginuid and directory %q, want %q (stderr %q)", r.stdout, want, r.stderr)
		}
		r = s.p.command("env")
		env := strings.Split(strings.TrimSpace(string(r.stdout)), "\n")
		if !slices.Contains(env, "FOO=bar") || !slices.Contains(env, "PATH="+DefaultPath) {
			t.Errorf("environment %q lacks FOO=bar from pam_env or the fixed PATH", env)
		}
		for _, kv := range env {
			if strings.HasPrefix(kv, "LD_") {
				t.Errorf("environment has %s", kv)
			}
		}
		// A preloaded /nonexistent.so would have made the loader complain.
		if len(r.stderr) != 0 {
			t.Errorf("env wrote to stderr: %q", r.stderr)
		}
		// Commands start with default signal dispositions, although the
		// session process ignores the group's signals.
		if r := s.p.command("kill -TERM $$"); r.status != 256+uint16(syscall.SIGTERM) {
			t.Errorf("kill -TERM $$: status %d, want %d", r.status, 256+syscall.SIGTERM)
		}
		s.p.send(wire.Msg{Type: wire.TypeFinish})
		if m := s.p.read(); m.Type != wire.TypeFinish || m.Status != 0 {
			t.Errorf("got %+v, want Finish 0", m)
		}
		if code := s.exitCode(t); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})

	t.Run("unknown user and wrong password look the same", func(t *testing.T) {
		const tolerance = 250 * time.Millisecond
		var trs []transcript
		for _, user := range []string{name, name + "x"} {
			s := spawnSession(t, bin, cfg)
			tr := s.p.login(user, "not-the-password")
			if m := s.p.read(); m.Type != wire.TypeFinish || m.Status == 0 {
				t.Errorf("%s: got %+v, want a failed Finish", user, m)
			}
			if code := s.exitCode(t); code != 3 {
				t.Errorf("%s: exit status %d, want 3", user, code)
			}
			trs = append(trs, tr)
		}
		if diff := cmp.Diff(trs[0].msgs, trs[1].msgs); diff != "" {
			t.Errorf("wrong password (-) and unknown user (+) differ:\n%s", diff)
		}
		if trs[0].auth.Status != uint16(wire.AuthFailed) {
			t.Errorf("Auth %+v, want AuthFailed", trs[0].auth)
		}
		dw, du := trs[0].authAt.Sub(trs[0].answered), trs[1].authAt.Sub(trs[1].answered)
		if dw < time.Duration(cfg.FailDelay) || du < time.Duration(cfg.FailDelay) {
			t.Errorf("answered after %v and %v, before the delay %v", dw, du, time.Duration(cfg.FailDelay))
		}
		if d := dw - du; d > tolerance || d < -tolerance {
			t.Errorf("wrong password answered after %v, unknown user after %v", dw, du)
		}
	})

	t.Run("expired password is changed", func(t *testing.T) {
		if out, err := exec.Command("chage", "-d", "0", name).CombinedOutput(); err != nil {
			t.Fatalf("chage: %v: %s", err, out)
		}
		defer logintest.SetPassword(t, name, pw1)
		s := spawnSession(t, bin, cfg)
		var prompts []string
		tr := s.p.loginFunc(func(m wire.Msg) string {
			prompts = append(prompts, m.Text)
			switch {
			case m.Echo:
				return name
			case len(prompts) == 2 || strings.Contains(strings.ToLower(m.Text), "current"):
				return pw1
			}
			return pw2
		})
		if tr.auth.Status != uint16(wire.AuthOK) {
			t.Fatalf("Auth %+v after prompts %q (transcript %+v)", tr.auth, prompts, tr.msgs)
		}
		if len(prompts) < 4 {
			t.Errorf("prompts %q: no password change asked", prompts)
		}
		s.p.send(wire.Msg{Type: wire.TypeFinish})
		s.p.read()
		if code := s.exitCode(t); code != 0 {
			t.Errorf("exit status %d", code)
		}
		// The new password works on the next login, the old one no more.
		s = spawnSession(t, bin, cfg)
		if tr := s.p.login(name, pw2); tr.auth.Status != uint16(wire.AuthOK) {
			t.Errorf("login with the new password: %+v", tr.auth)
		} else {
			s.p.send(wire.Msg{Type: wire.TypeFinish})
			s.p.read()
		}
		s = spawnSession(t, bin, cfg)
		if tr := s.p.login(name, pw1); tr.auth.Status != uint16(wire.AuthFailed) {
			t.Errorf("login with the old password: %+v", tr.auth)
		}
	})

	t.Run("hostile net gets no answer", func(t *testing.T) {
		s := spawnSession(t, bin, cfg)
		s.p.read()
		s.p.sendRaw(frame(byte(wire.TypeCommand), 0, 2, 'i', 'd'))
		s.p.expectEOF()
		if code := s.exitCode(t); code != 2 {
			t.Errorf("exit status %d, want 2", code)
		}
	})
}
