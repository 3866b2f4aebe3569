package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// summary is the spread of one series of timings.
type summary struct {
	n                int
	p10, median, p90 time.Duration
}

func summarize(d []time.Duration) summary {
	s := slices.Clone(d)
	slices.Sort(s)
	return summary{n: len(s), p10: quantile(s, 0.10), median: quantile(s, 0.5), p90: quantile(s, 0.90)}
}

// quantile is the q-quantile of sorted by linear interpolation between
// the two nearest ranks (the usual "type 7" definition), so that small
// samples still give a p10 and p90 that move with the data. Zero for an
// empty series.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	h := q * float64(len(sorted)-1)
	lo := int(h)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := h - float64(lo)
	return sorted[lo] + time.Duration(frac*float64(sorted[lo+1]-sorted[lo]))
}

// ratio formats a/b, or "-" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// pamModules lists the modules a PAM service file uses, following its
// @include lines (read-only; the tool never writes /etc/pam.d), in the
// order they first appear. It tells readers how far sshd's stack is from
// netlogind's pam_unix alone.
func pamModules(dir, service string) ([]string, error) {
	var mods []string
	seen := map[string]bool{}
	var walk func(name string, depth int) error
	walk = func(name string, depth int) error {
		if depth > 8 {
			return fmt.Errorf("pam: @include nested too deep at %s", name)
		}
		if strings.Contains(name, "/") {
			return fmt.Errorf("pam: service name %q", name)
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			if fields[0] == "@include" {
				if len(fields) < 2 {
					return fmt.Errorf("pam: %s: @include without a file", name)
				}
				if err := walk(fields[1], depth+1); err != nil {
					return err
				}
				continue
			}
			for _, w := range fields[1:] {
				if m, ok := strings.CutSuffix(filepath.Base(w), ".so"); ok {
					if !seen[m] {
						seen[m] = true
						mods = append(mods, m)
					}
					break
				}
			}
		}
		return sc.Err()
	}
	if err := walk(service, 0); err != nil {
		return nil, err
	}
	return mods, nil
}
