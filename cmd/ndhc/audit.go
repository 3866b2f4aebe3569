package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
	"golang.org/x/sys/unix"
)

// auditRole is one role's part of the audit.
type auditRole struct {
	Role    string          `json:"role"`
	Report  *sandbox.Report `json:"report"`
	Gaps    []gap           `json:"landlock_gaps,omitempty"`
	Results []probe.Result  `json:"results"`
}

type auditOutput struct {
	Kernel      string      `json:"kernel"`
	LandlockABI int         `json:"landlock_abi"`
	Roles       []auditRole `json:"roles"`
	Pass        bool        `json:"pass"`
}

func auditCmd(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ndhc audit", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	settings := newRoleSettings(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ndhc audit [ROLE...] [--json] [flags]\n\n"+
			"For each role, starts one probe per action: the probe enters the role's\n"+
			"policy exactly as the daemon does, attempts the action and reports what\n"+
			"the kernel did. Exits 1 if a forbidden action succeeded or an allowed one\n"+
			"failed. Needs root, like the daemon.\n\n")
		fs.PrintDefaults()
	}
	roles, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(roles) == 0 {
		roles = allRoles()
	}
	degrade, err := settings.degradeList()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc audit:", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ndhc audit: must run as root: the probes enter each role's sandbox from root, as the daemon does")
		return exitUsage
	}
	if err := settings.prepareDirs(); err != nil {
		fmt.Fprintln(os.Stderr, "ndhc audit:", err)
		return exitUsage
	}
	res := auditOutput{Kernel: kernelRelease(), Pass: true}
	res.LandlockABI, _ = sandbox.LandlockABI()
	for _, role := range roles {
		p, err := settings.policy(role)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc audit: %v (roles: %s)\n", err, roleNames())
			return exitUsage
		}
		ar := auditRole{Role: role}
		for _, a := range auditActionsFor(role) {
			r, rep, err := probe.Run(p, a, sandbox.Options{Degrade: degrade})
			if err != nil {
				fmt.Fprintf(os.Stderr, "ndhc audit: %v\n", err)
				return exitFailure
			}
			if rep != nil && ar.Report == nil {
				ar.Report = rep
			}
			ar.Results = append(ar.Results, r)
			if !r.Pass {
				res.Pass = false
			}
		}
		if ar.Report != nil {
			for _, m := range ar.Report.LandlockMissing {
				ar.Gaps = append(ar.Gaps, gap{Right: m, CoveredBy: sandbox.Coverage(&p, m)})
			}
		}
		res.Roles = append(res.Roles, ar)
	}
	if *asJSON {
		printJSON(out, res)
	} else {
		printAudit(out, res)
	}
	if !res.Pass {
		return exitFailure
	}
	return exitOK
}

func printAudit(out io.Writer, a auditOutput) {
	fmt.Fprintf(out, "ndhc audit: kernel %s, Landlock ABI %d\n\n", a.Kernel, a.LandlockABI)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tACTION\tEXPECTED\tOBSERVED\tLAYER\tRESULT")
	for _, r := range a.Roles {
		for _, x := range r.Results {
			verdict := "ok"
			if !x.Pass {
				verdict = "FAIL"
			}
			layer := x.Layer
			if layer == "" {
				layer = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Role, x.Action, x.Expected, x.Observed, layer, verdict)
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\nWhat the kernel reports for each role after entering its sandbox (/proc/self/status, every thread):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tUID\tGID\tCAPS (eff=prm=bnd)\tAMBIENT\tNoNewPrivs\tSeccomp\tLANDLOCK\tTHREADS")
	for _, r := range a.Roles {
		if r.Report == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\n", r.Role)
			continue
		}
		s := r.Report.Status
		ll := fmt.Sprintf("ABI %d", r.Report.LandlockABI)
		if len(r.Report.Degraded) > 0 {
			ll += " DEGRADED: " + strings.Join(r.Report.Degraded, ",")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\t%s\t%d\n", r.Role, s.Uid[1], s.Gid[1], sandbox.FormatCaps(s.CapEff),
			sandbox.FormatCaps(s.CapAmb), s.NoNewPrivs, s.Seccomp, ll, r.Report.ThreadsChecked)
	}
	tw.Flush()
	for _, r := range a.Roles {
		for _, g := range r.Gaps {
			fmt.Fprintf(out, "%s: kernel lacks Landlock %s -> %s\n", r.Role, g.Right, g.CoveredBy)
		}
	}
	if a.Pass {
		fmt.Fprintln(out, "\nPASS: every forbidden action was refused and every control action worked.")
	} else {
		fmt.Fprintln(out, "\nFAIL: see the rows marked FAIL.")
	}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
