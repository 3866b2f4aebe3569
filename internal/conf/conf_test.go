package conf

import (
	"flag"
	"strings"
	"testing"

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
		{"a = x\r\n", "control character"},
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
