package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	// An odd series: the median is its middle element, whatever the order
	// the timings came in.
	var d []time.Duration
	for i := range 21 {
		d = append(d, time.Duration(i*i)*time.Millisecond)
	}
	sorted := slices.Clone(d)
	rand.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	s := summarize(d)
	if s.n != len(d) || s.median != sorted[len(sorted)/2] {
		t.Errorf("median %v of %d, want %v", s.median, s.n, sorted[len(sorted)/2])
	}
	// p10 of 21 points sits exactly on rank 2 (0.1*20), p90 on rank 18.
	if s.p10 != sorted[2] || s.p90 != sorted[18] {
		t.Errorf("p10 %v p90 %v, want %v and %v", s.p10, s.p90, sorted[2], sorted[18])
	}
	if !(s.p10 <= s.median && s.median <= s.p90) {
		t.Errorf("p10 %v, median %v, p90 %v out of order", s.p10, s.median, s.p90)
	}
	// Between two ranks it interpolates: the median of an even series is
	// the mean of the middle two.
	a, b := 10*time.Millisecond, 30*time.Millisecond
	if m := summarize([]time.Duration{b, a}).median; m != (a+b)/2 {
		t.Errorf("median of %v and %v: %v, want %v", a, b, m, (a+b)/2)
	}
	one := summarize([]time.Duration{a})
	if one.p10 != a || one.median != a || one.p90 != a {
		t.Errorf("one sample: %+v, want %v throughout", one, a)
	}
	if empty := summarize(nil); empty.median != 0 || empty.n != 0 {
		t.Errorf("no samples: %+v", empty)
	}
	// summarize must not reorder the caller's slice.
	before := slices.Clone(d)
	summarize(d)
	if !slices.Equal(before, d) {
		t.Error("summarize sorted its argument in place")
	}
}

func TestRatio(t *testing.T) {
	if r := ratio(1, 0); r != "-" {
		t.Errorf("ratio over zero: %q", r)
	}
	if r := ratio(1, 4); r != "0.25" {
		t.Errorf("ratio(1, 4) = %q", r)
	}
}

func TestPAMModules(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"svc": `# a comment
@include common-auth
account    required     pam_nologin.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
@include common-session
session    optional     /lib/security/pam_motd.so  motd=/run/motd.dynamic
password   required     pam_unix.so   # again: listed once
`,
		"common-auth":    "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n",
		"common-session": "session required pam_unix.so\nsession optional pam_systemd.so\n",
		"loop":           "@include loop\n",
		"broken":         "@include\n",
		"escape":         "@include ../etc/shadow\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := pamModules(dir, "svc")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pam_unix", "pam_deny", "pam_nologin", "pam_selinux", "pam_systemd", "pam_motd"}
	if !slices.Equal(got, want) {
		t.Errorf("modules %v, want %v", got, want)
	}
	for _, bad := range []string{"loop", "broken", "escape", "missing"} {
		if mods, err := pamModules(dir, bad); err == nil {
			t.Errorf("service %q: %v, want an error", bad, mods)
		}
	}
}
