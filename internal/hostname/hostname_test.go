package hostname

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/sandbox"
)

func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	a, b, err := sandbox.SeqpacketConns()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	for _, c := range []*net.UnixConn{a, b} {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return a, b
}

// FuzzServe: the role's side of the channel, fed one message by a hostile
// ifch. The role calls sethostname only with a name that passes
// ifch.CheckHostname, byte for byte what was sent, and answers it with OK
// or Failed; anything else ends Serve with an error, without a call and
// without an answer.
func FuzzServe(f *testing.F) {
	for _, s := range []string{"host", "a.example.org", "-bad", "a..b", "x\x00y", string(bytes.Repeat([]byte{'a'}, 64)), string(bytes.Repeat([]byte{'a'}, 65)), "ho st"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("host"), true)
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, msg []byte, setFails bool) {
		if len(msg) == 0 || len(msg) > 300 {
			return // an empty message is end-of-file on SOCK_SEQPACKET
		}
		ifchEnd, roleEnd := pair(t)
		var calls [][]byte
		set := func(b []byte) error {
			calls = append(calls, bytes.Clone(b))
			if setFails {
				return errors.New("refused")
			}
			return nil
		}
		done := make(chan error, 1)
		go func() { done <- Serve(roleEnd, set, log) }()
		if _, err := ifchEnd.Write(msg); err != nil {
			t.Fatal(err)
		}
		valid := len(msg) <= MaxLen && ifch.CheckHostname(string(msg)) == nil
		if !valid {
			if err := <-done; err == nil {
				t.Fatalf("%q: Serve went on", msg)
			}
			if len(calls) != 0 {
				t.Fatalf("%q: sethostname called with %q", msg, calls)
			}
			return
		}
		ans := make([]byte, 2)
		n, err := ifchEnd.Read(ans)
		if err != nil {
			t.Fatalf("%q: no answer: %v", msg, err)
		}
		want := OK
		if setFails {
			want = Failed
		}
		if n != 1 || ans[0] != want {
			t.Fatalf("%q: answer %q, want %q", msg, ans[:n], want)
		}
		ifchEnd.Close()
		if err := <-done; err != nil {
			t.Fatalf("%q: Serve after ifch closed: %v", msg, err)
		}
		if len(calls) != 1 || !bytes.Equal(calls[0], msg) {
			t.Fatalf("%q: sethostname calls %q", msg, calls)
		}
	})
}

// FuzzClient: ifch's side, fed one answer by a hostile role. Only the
// single byte OK is success.
func FuzzClient(f *testing.F) {
	for _, s := range []string{"K", "F", "KK", "k", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) == 0 || len(answer) > 300 {
			return
		}
		ifchEnd, roleEnd := pair(t)
		go func() {
			b := make([]byte, MaxLen+1)
			if _, err := roleEnd.Read(b); err == nil {
				roleEnd.Write(answer)
			}
		}()
		err := (&Client{Conn: ifchEnd}).SetHostname("host.example")
		if ok := len(answer) == 1 && answer[0] == OK; (err == nil) != ok {
			t.Fatalf("answer %q: %v", answer, err)
		}
	})
}
