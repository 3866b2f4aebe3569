package conf

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	in := "# ndhc\n\ninterface = eth0\n  arp-mode=fast   # default\nhostname = \"my host # 1\"\nvendor-class = \"a \\\"q\\\" \\\\ b\"\nempty =\n"
	got, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{3, "interface", "eth0"},
		{4, "arp-mode", "fast"},
		{5, "hostname", "my host # 1"},
		{6, "vendor-class", `a "q" \ b`},
		{7, "empty", ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"interface eth0\n", "line 1: want key = value"},
		{"\n = x\n", "line 2: empty key"},
		{"Interface = eth0\n", "only lower-case"},
		{"a = 1\na = 2\n", "line 2: a already set on line 1"},
		{"a = \"x\n", "unterminated quote"},
		{"a = \"x\" y\n", "text after the closing quote"},
		{"a = x\"y\n", "quote inside an unquoted value"},
		{"a = \"\\n\"\n", `must be followed by`},
		{"a = x\x01\n", "control character"},
		{"a = x\ry\n", "control character"}, // CR only at a line's end
		{"a = \xff\n", "not valid UTF-8"},
		{strings.Repeat("#", MaxSize+1), "more than"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestApply(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	iface := fs.String("interface", "", "")
	metric := fs.Int("route-metric", 0, "")
	quiet := fs.Bool("quiet", false, "")
	entries, err := Parse([]byte("interface = eth1\nroute-metric = 20\nquiet = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, entries, map[string]bool{"interface": true}); err != nil {
		t.Fatal(err)
	}
	if *iface != "" || *metric != 20 || !*quiet {
		t.Fatalf("interface %q metric %d quiet %v", *iface, *metric, *quiet)
	}
	for in, want := range map[string]string{
		"x = 1\n":                   "line 1: unknown key \"x\"",
		"\nroute-metric = twenty\n": "line 2: route-metric",
		"quiet = maybe\n":           "line 1: quiet",
	} {
		entries, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(fs, entries, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Apply(%q) = %v, want %q", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"interface = eth0\n",
		"# c\n a=\"b # c\" # d\n",
		"k = \"\\\\\\\"\"\n",
		"x=\ny = z  \n",
		"a = b\na = c\n",
		"a = \"unterminated\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Parse(b)
		if err != nil {
			return
		}
		text := Format(entries)
		again, err := Parse([]byte(text))
		if err != nil {
			t.Fatalf("formatted file does not parse: %v\n%s", err, text)
		}
		if d := cmp.Diff(entries, again, cmpopts.IgnoreFields(Entry{}, "Line"), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip changed the entries:\n%s", d)
		}
		if text2 := Format(again); text2 != text {
			t.Fatalf("second format differs:\n%q\n%q", text, text2)
		}
	})
}

func TestModeAndInterspersed(t *testing.T) {
	var m Mode
	if err := m.UnmarshalText([]byte("0640")); err != nil || m != 0o640 {
		t.Fatalf("%o, %v", m, err)
	}
	for _, bad := range []string{"999", "01000", "rw-", ""} {
		if err := m.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if b, _ := Mode(0o660).MarshalText(); string(b) != "0660" {
		t.Errorf("%s", b)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	j := fs.Bool("json", false, "")
	pos, err := ParseInterspersed(fs, []string{"sockd", "--json", "engine"})
	if err != nil || !*j || strings.Join(pos, ",") != "sockd,engine" {
		t.Fatalf("%v %v %v", pos, *j, err)
	}
}

// TestCRLF: a file written with CR LF line ends reads as with LF.
func TestCRLF(t *testing.T) {
	lf, err := Parse([]byte("a = 1\n# c\nb = \"x y\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	crlf, err := Parse([]byte("a = 1\r\n# c\r\nb = \"x y\"\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lf, crlf) {
		t.Errorf("CR LF: %+v, LF: %+v", crlf, lf)
	}
}

// TestLoadBoundsAndExplains: an endless file is refused after MaxSize
// bytes, and a bad value names its line, key, value and what the key
// takes.
func TestLoadBoundsAndExplains(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err == nil {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		done := make(chan error, 1)
		go func() { done <- Load(fs, "/dev/zero", nil) }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("/dev/zero loaded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Load(/dev/zero) still reading after 10 s")
		}
	}
	path := filepath.Join(t.TempDir(), "c.conf")
	if err := os.WriteFile(path, []byte("# x\nmetric = abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("metric", 0, "route metric")
	fs.Duration("wait", 0, "wait")
	err := Load(fs, path, nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.Contains(err.Error(), path) || !strings.Contains(ce.Msg, "an integer") || !strings.Contains(ce.Msg, `"abc"`) {
		t.Errorf("Load = %v, want line 2 naming the file, the value and \"an integer\"", err)
	}
}
