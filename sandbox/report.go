package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// PolicyReport is a policy as an auditor reads it: the policy itself plus
// what a kernel with a given Landlock ABI makes of it. It encodes to JSON
// with the policy's fields inline, followed by the fields below.
type PolicyReport struct {
	Policy
	// SeccompInstructions is the length of the compiled seccomp program.
	SeccompInstructions int `json:"seccomp_instructions"`
	// KernelLandlockABI is the ABI the report was computed for (0: the
	// kernel has no Landlock).
	KernelLandlockABI int `json:"kernel_landlock_abi"`
	// LandlockEnforced names the Landlock rights that ABI enforces.
	LandlockEnforced []string `json:"landlock_enforced"`
	// LandlockMissing lists the rights that ABI lacks, each with the layer
	// that refuses the same access instead.
	LandlockMissing []Gap `json:"landlock_missing"`
}

// Gap is a Landlock right the kernel lacks and what stands in for it, as
// [Coverage] words it ("NOT COVERED..." when nothing does).
type Gap struct {
	Right     string `json:"right"`
	CoveredBy string `json:"covered_by"`
}

// Gaps pairs each missing Landlock right (as named by [LandlockRights] or
// Report.LandlockMissing) with its [Coverage] for p. It returns nil when
// nothing is missing.
func Gaps(p *Policy, missing []string) []Gap {
	var gaps []Gap
	for _, m := range missing {
		gaps = append(gaps, Gap{Right: m, CoveredBy: Coverage(p, m)})
	}
	return gaps
}

// DescribePolicy compiles p's seccomp allowlist (which validates p) and
// splits its Landlock part into what a kernel with ABI abi enforces and what
// it lacks, with the coverage of each gap. Pass the running kernel's ABI
// from [LandlockABI], or 0 when it returns an error. No privileges are
// needed and nothing is applied.
func DescribePolicy(p Policy, abi int) (PolicyReport, error) {
	_, raw, err := CompileSeccomp(&p)
	if err != nil {
		return PolicyReport{}, err
	}
	r := PolicyReport{Policy: p, SeccompInstructions: len(raw), KernelLandlockABI: abi}
	var missing []string
	r.LandlockEnforced, missing = LandlockRights(abi, p.Landlock)
	r.LandlockMissing = Gaps(&p, missing)
	return r, nil
}

// WriteText writes r for people: credentials, capabilities, rlimits, the
// Landlock rules and what the kernel enforces of them, and the seccomp
// allowlist with each entry's conditions and reason, one per line.
func (r PolicyReport) WriteText(w io.Writer) {
	p := r.Policy
	fmt.Fprintf(w, "role %s\n", p.Role)
	fmt.Fprintf(w, "  user %s, group %s, no supplementary groups, chroot %s, umask %03o\n", p.User, p.Group, p.Chroot, p.Umask)
	caps := "none"
	if len(p.Caps) > 0 {
		caps = strings.Join(p.Caps, ", ")
	}
	fmt.Fprintf(w, "  capabilities (permitted = effective = bounding): %s; inheritable and ambient empty; securebits locked; no_new_privs\n", caps)
	limits := make([]string, 0, len(p.Rlimits))
	for _, l := range p.Rlimits {
		if l.Max == Unlimited {
			limits = append(limits, l.Resource+"=unlimited")
			continue
		}
		limits = append(limits, fmt.Sprintf("%s=%d", l.Resource, l.Max))
	}
	if p.MemoryGrowth != 0 {
		limits = append(limits, fmt.Sprintf("AS=start+%d", p.MemoryGrowth))
	}
	fmt.Fprintf(w, "  rlimits: %s\n", strings.Join(limits, " "))
	if p.GoMaxProcs > 0 {
		fmt.Fprintf(w, "  go runtime: GOMAXPROCS=%d\n", p.GoMaxProcs)
	}

	ll := p.Landlock
	fmt.Fprintf(w, "  landlock (all rights handled, only these allowed):\n")
	row := func(label string, items []string) {
		if len(items) == 0 {
			items = []string{"none"}
		}
		fmt.Fprintf(w, "    %-12s %s\n", label, strings.Join(items, " "))
	}
	portList := func(ports []uint16) []string {
		out := make([]string, 0, len(ports))
		for _, n := range ports {
			out = append(out, fmt.Sprint(n))
		}
		return out
	}
	row("ro dirs", ll.RODirs)
	row("rw dirs", ll.RWDirs)
	row("ro files", ll.ROFiles)
	row("rw files", ll.RWFiles)
	row("unix connect", ll.ConnectUnix)
	if !ll.AllowNetwork {
		row("tcp bind", portList(ll.BindTCP))
		row("tcp connect", portList(ll.ConnectTCP))
		row("udp bind", portList(ll.BindUDP))
		row("udp send", portList(ll.SendUDP))
	}
	var scoped []string
	if !ll.AllowSignalsOut {
		scoped = append(scoped, "signals")
	}
	if !ll.AllowAbstractOut {
		scoped = append(scoped, "abstract-unix-sockets")
	}
	row("scoped", scoped)
	if ll.AllowNetwork {
		row("network", []string{"NOT HANDLED: TCP and UDP bind and connect as the user may"})
	}
	fmt.Fprintf(w, "    kernel ABI %d enforces: %s\n", r.KernelLandlockABI, strings.Join(r.LandlockEnforced, " "))
	for _, g := range r.LandlockMissing {
		fmt.Fprintf(w, "    kernel lacks %s -> %s\n", g.Right, g.CoveredBy)
	}

	if p.SeccompDefaultAllow {
		fmt.Fprintf(w, "  seccomp: DEFAULT ALLOW: %d syscalls denied (ENOSYS), every other syscall allowed; architecture checked first; %d BPF instructions\n",
			len(p.Seccomp), r.SeccompInstructions)
	} else {
		fmt.Fprintf(w, "  seccomp: %d syscalls allowed, everything else kills the process; architecture checked first; %d BPF instructions\n",
			len(p.Seccomp), r.SeccompInstructions)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range p.Seccomp {
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Name, conditionText(s.Any), s.Why)
	}
	tw.Flush()
}

// conditionText renders an entry's alternatives: "any arguments" when
// there are none, otherwise the lists joined by "||", each list's
// conditions joined by "&&".
func conditionText(lists [][]Cond) string {
	if len(lists) == 0 {
		return "any arguments"
	}
	alts := make([]string, 0, len(lists))
	for _, list := range lists {
		conds := make([]string, 0, len(list))
		for _, c := range list {
			conds = append(conds, c.String())
		}
		alts = append(alts, strings.Join(conds, " && "))
	}
	return strings.Join(alts, " || ")
}

// WriteJSON writes v to w as JSON indented by two spaces, followed by a
// newline: the form of a program's --json outputs.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// KernelRelease returns the release of the running kernel as uname(2)
// reports it (for example "6.8.0-45-generic"), or "unknown" when it cannot
// be read, as on systems other than Linux.
func KernelRelease() string {
	// /proc/sys/kernel/osrelease holds the same string as uname's release
	// field (both come from the UTS namespace) and needs no build tags.
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "unknown"
}
