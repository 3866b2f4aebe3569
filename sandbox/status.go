package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Status is what the kernel says about a task's credentials and sandbox in
// /proc/PID/status.
type Status struct {
	Uid        [4]uint32 `json:"uid"` // real, effective, saved, filesystem
	Gid        [4]uint32 `json:"gid"`
	Groups     []uint32  `json:"groups"`
	CapInh     uint64    `json:"cap_inh"`
	CapPrm     uint64    `json:"cap_prm"`
	CapEff     uint64    `json:"cap_eff"`
	CapBnd     uint64    `json:"cap_bnd"`
	CapAmb     uint64    `json:"cap_amb"`
	NoNewPrivs int       `json:"no_new_privs"`
	// Seccomp is 0 (off), 1 (strict) or 2 (filter).
	Seccomp int `json:"seccomp"`
	Threads int `json:"threads"`
}

// ParseStatus reads the fields of [Status] out of the text of
// /proc/PID/status. Every field must be present exactly once.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Uid":
			err = parseIDs(val, &s.Uid)
		case "Gid":
			err = parseIDs(val, &s.Gid)
		case "Groups":
			s.Groups = []uint32{}
			for f := range strings.FieldsSeq(val) {
				var g uint64
				g, err = strconv.ParseUint(f, 10, 32)
				s.Groups = append(s.Groups, uint32(g))
			}
		case "CapInh":
			s.CapInh, err = strconv.ParseUint(val, 16, 64)
		case "CapPrm":
			s.CapPrm, err = strconv.ParseUint(val, 16, 64)
		case "CapEff":
			s.CapEff, err = strconv.ParseUint(val, 16, 64)
		case "CapBnd":
			s.CapBnd, err = strconv.ParseUint(val, 16, 64)
		case "CapAmb":
			s.CapAmb, err = strconv.ParseUint(val, 16, 64)
		case "NoNewPrivs":
			s.NoNewPrivs, err = strconv.Atoi(val)
		case "Seccomp":
			s.Seccomp, err = strconv.Atoi(val)
		case "Threads":
			s.Threads, err = strconv.Atoi(val)
		default:
			continue
		}
		if err != nil {
			return Status{}, fmt.Errorf("sandbox: status field %s: %w", key, err)
		}
		if seen[key] {
			return Status{}, fmt.Errorf("sandbox: status field %s repeated", key)
		}
		seen[key] = true
	}
	for _, k := range []string{"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"} {
		if !seen[k] {
			return Status{}, fmt.Errorf("sandbox: status field %s missing", k)
		}
	}
	return s, nil
}

func parseIDs(val string, out *[4]uint32) error {
	f := strings.Fields(val)
	if len(f) != 4 {
		return fmt.Errorf("want 4 ids, got %d", len(f))
	}
	for i, v := range f {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return err
		}
		out[i] = uint32(n)
	}
	return nil
}

// String renders the status as one line for logs and audit tables.
func (s Status) String() string {
	return fmt.Sprintf("uid=%d gid=%d groups=%d caps=%s bnd=%s amb=%s nnp=%d seccomp=%d",
		s.Uid[1], s.Gid[1], len(s.Groups), FormatCaps(s.CapEff), FormatCaps(s.CapBnd), FormatCaps(s.CapAmb), s.NoNewPrivs, s.Seccomp)
}

// Expect describes the status a role must end with.
type Expect struct {
	Uid, Gid uint32
	Caps     uint64
	Seccomp  bool
}

// seccompModeDead is the Seccomp value of /proc/PID/status for a process
// that seccomp is killing.
const seccompModeDead = 3

// Check compares s with what the policy promised and lists every mismatch.
func (s Status) Check(e Expect) error {
	var bad []string
	for i, u := range s.Uid {
		if u != e.Uid {
			bad = append(bad, fmt.Sprintf("uid[%d]=%d want %d", i, u, e.Uid))
		}
	}
	for i, g := range s.Gid {
		if g != e.Gid {
			bad = append(bad, fmt.Sprintf("gid[%d]=%d want %d", i, g, e.Gid))
		}
	}
	if len(s.Groups) != 0 {
		bad = append(bad, fmt.Sprintf("supplementary groups %v, want none", s.Groups))
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{{"CapInh", s.CapInh, 0}, {"CapPrm", s.CapPrm, e.Caps}, {"CapEff", s.CapEff, e.Caps}, {"CapBnd", s.CapBnd, e.Caps}, {"CapAmb", s.CapAmb, 0}} {
		if c.got != c.want {
			bad = append(bad, fmt.Sprintf("%s=%s want %s", c.name, FormatCaps(c.got), FormatCaps(c.want)))
		}
	}
	if s.NoNewPrivs != 1 {
		bad = append(bad, fmt.Sprintf("NoNewPrivs=%d want 1", s.NoNewPrivs))
	}
	if e.Seccomp && s.Seccomp == seccompModeDead {
		// The kernel's SECCOMP_MODE_DEAD: the filter is killing the
		// process (a thread made a call outside the allowlist).
		return errors.New("sandbox: seccomp is killing the process (a thread made a system call outside the allowlist) while its status was read back")
	}
	if e.Seccomp && s.Seccomp != 2 {
		bad = append(bad, fmt.Sprintf("Seccomp=%d want 2", s.Seccomp))
	}
	if len(bad) > 0 {
		return fmt.Errorf("sandbox: kernel status does not match the policy: %s", strings.Join(bad, ", "))
	}
	return nil
}
