package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ndhc-go/ndhc/policies"
	"github.com/ndhc-go/ndhc/sandbox"
)

// policyView is the JSON form of one role's policy for auditors: the policy
// itself plus what the running kernel makes of its Landlock part.
type policyView struct {
	sandbox.Policy
	SeccompInstructions int      `json:"seccomp_instructions"`
	KernelLandlockABI   int      `json:"kernel_landlock_abi"`
	LandlockEnforced    []string `json:"landlock_enforced"`
	LandlockMissing     []gap    `json:"landlock_missing"`
}

type gap struct {
	Right     string `json:"right"`
	CoveredBy string `json:"covered_by"`
}

func policyCmd(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ndhc policy", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	settings := newRoleSettings(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ndhc policy [ROLE] [--json] [flags]\n\nROLE is one of %s.\n\n", roleNames())
		fs.PrintDefaults()
	}
	roles, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(roles) == 0 {
		roles = allRoles()
	}
	abi, abiErr := sandbox.LandlockABI()
	var views []policyView
	for _, r := range roles {
		p, err := settings.policy(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc policy: %v (roles: %s)\n", err, roleNames())
			return exitUsage
		}
		_, raw, err := sandbox.CompileSeccomp(&p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc policy: %v\n", err)
			return exitFailure
		}
		v := policyView{Policy: p, SeccompInstructions: len(raw), KernelLandlockABI: abi}
		enforced, missing := sandbox.LandlockRights(abi, p.Landlock)
		v.LandlockEnforced = enforced
		for _, m := range missing {
			v.LandlockMissing = append(v.LandlockMissing, gap{Right: m, CoveredBy: sandbox.Coverage(&p, m)})
		}
		views = append(views, v)
	}
	if *asJSON {
		if err := printJSON(out, views); err != nil {
			return exitFailure
		}
		return exitOK
	}
	if abiErr != nil {
		fmt.Fprintf(out, "kernel: %v\n\n", abiErr)
	}
	for i, v := range views {
		if i > 0 {
			fmt.Fprintln(out)
		}
		printPolicy(out, v)
	}
	return exitOK
}

func printPolicy(out io.Writer, v policyView) {
	p := v.Policy
	fmt.Fprintf(out, "role %s\n", p.Role)
	fmt.Fprintf(out, "  user %s, group %s, no supplementary groups, chroot %s, umask %03o\n", p.User, p.Group, p.Chroot, p.Umask)
	caps := "none"
	if len(p.Caps) > 0 {
		caps = strings.Join(p.Caps, ", ")
	}
	fmt.Fprintf(out, "  capabilities (permitted = effective = bounding): %s; inheritable and ambient empty; securebits locked; no_new_privs\n", caps)
	var rl []string
	for _, r := range p.Rlimits {
		rl = append(rl, fmt.Sprintf("%s=%d", r.Resource, r.Max))
	}
	fmt.Fprintf(out, "  rlimits: %s\n", strings.Join(rl, " "))
	l := p.Landlock
	fmt.Fprintf(out, "  landlock (all rights handled, only these allowed):\n")
	listOrNone := func(name string, xs []string) {
		if len(xs) == 0 {
			xs = []string{"none"}
		}
		fmt.Fprintf(out, "    %-12s %s\n", name, strings.Join(xs, " "))
	}
	ports := func(ps []uint16) []string {
		var s []string
		for _, p := range ps {
			s = append(s, fmt.Sprint(p))
		}
		return s
	}
	listOrNone("ro dirs", l.RODirs)
	listOrNone("rw dirs", l.RWDirs)
	listOrNone("ro files", l.ROFiles)
	listOrNone("rw files", l.RWFiles)
	listOrNone("tcp bind", ports(l.BindTCP))
	listOrNone("tcp connect", ports(l.ConnectTCP))
	listOrNone("udp bind", ports(l.BindUDP))
	listOrNone("udp send", ports(l.SendUDP))
	scoped := []string{}
	if !l.AllowSignalsOut {
		scoped = append(scoped, "signals")
	}
	if !l.AllowAbstractOut {
		scoped = append(scoped, "abstract-unix-sockets")
	}
	listOrNone("scoped", scoped)
	fmt.Fprintf(out, "    kernel ABI %d enforces: %s\n", v.KernelLandlockABI, strings.Join(v.LandlockEnforced, " "))
	for _, g := range v.LandlockMissing {
		fmt.Fprintf(out, "    kernel lacks %s -> %s\n", g.Right, g.CoveredBy)
	}
	fmt.Fprintf(out, "  seccomp: %d syscalls allowed, everything else kills the process; architecture checked first; %d BPF instructions\n",
		len(p.Seccomp), v.SeccompInstructions)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range p.Seccomp {
		cond := "any arguments"
		if len(s.Any) > 0 {
			var alts []string
			for _, list := range s.Any {
				var cs []string
				for _, c := range list {
					cs = append(cs, c.String())
				}
				alts = append(alts, strings.Join(cs, " && "))
			}
			cond = strings.Join(alts, " || ")
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Name, cond, s.Why)
	}
	tw.Flush()
}

// allRoles names every role ndhc spawns, in start-up order.
func allRoles() []string {
	var names []string
	for _, p := range policies.All() {
		names = append(names, p.Role)
	}
	return names
}

func roleNames() string { return strings.Join(allRoles(), ", ") }

// printJSON writes v indented, for the --json outputs.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseInterspersed parses flags that may come before or after positional
// arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
