//go:build linux

package probe

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/ndhc-go/ndhc/sandbox"
)

// Subject is one role to audit: its policy and the actions its probes
// attempt, usually [Battery] plus the program's own controls for the role
// (see [IPCRoundTrip]). Every action must also be in the list the program
// passes to [Child], which finds it again by name.
type Subject struct {
	Policy  sandbox.Policy
	Actions []Action
}

// RoleAudit is one role's part of an [Audit].
type RoleAudit struct {
	Role string `json:"role"`
	// Report is the sandbox report of the role's first probe that got as
	// far as entering the policy; nil when none did.
	Report *sandbox.Report `json:"report"`
	// Gaps are the Landlock rights the kernel lacks for this role, each
	// with the layer that covers it.
	Gaps []sandbox.Gap `json:"landlock_gaps,omitempty"`
	// Results holds one entry per action, in the subject's order.
	Results []Result `json:"results"`
	// SeccompDefaultAllow: the role's seccomp filter is a deny list
	// (sandbox.Policy.SeccompDefaultAllow); SeccompDenied is its length.
	SeccompDefaultAllow bool `json:"seccomp_default_allow,omitempty"`
	SeccompDenied       int  `json:"seccomp_denied,omitempty"`
}

// Audit is the outcome of [RunAudit] over a set of roles.
type Audit struct {
	// Program names the audited program in the heading of WriteText; the
	// caller sets it (RunAudit leaves it empty).
	Program string `json:"program,omitempty"`
	// Kernel is the kernel release, from sandbox.KernelRelease.
	Kernel string `json:"kernel"`
	// LandlockABI is the running kernel's Landlock ABI (0: none).
	LandlockABI int         `json:"landlock_abi"`
	Roles       []RoleAudit `json:"roles"`
	// Pass is true when every forbidden action was refused and every
	// allowed one worked.
	Pass bool `json:"pass"`
}

// RunAudit proves each subject's policy from the inside: for every action
// it starts a probe with [Run], which enters the policy with opts.Degrade
// and attempts the action. Actions that come out wrong (a forbidden one
// that worked, an allowed one that failed) make Audit.Pass false; they are
// not errors. RunAudit returns an error only when a probe could not be run
// at all (the policy could not be entered, the child failed or never
// reported) or when there is nothing to audit; the audit is then
// incomplete and not returned.
//
// The probes are children of the running program, re-executed as role
// [Role]: the program must call [Child] early in main when sandbox.IsChild
// reports that role, and it must run as root, like the daemon it audits.
func RunAudit(subjects []Subject, opts sandbox.Options) (*Audit, error) {
	if len(subjects) == 0 {
		return nil, errors.New("probe: audit without subjects")
	}
	a := &Audit{Kernel: sandbox.KernelRelease(), Pass: true}
	a.LandlockABI, _ = sandbox.LandlockABI()
	for _, s := range subjects {
		p := s.Policy
		if len(s.Actions) == 0 {
			return nil, fmt.Errorf("probe: audit of role %s without actions", p.Role)
		}
		ra := RoleAudit{Role: p.Role}
		if p.SeccompDefaultAllow {
			ra.SeccompDefaultAllow, ra.SeccompDenied = true, len(p.Seccomp)
		}
		for _, act := range s.Actions {
			res, rep, err := Run(p, act, opts)
			if err != nil {
				return nil, err
			}
			if ra.Report == nil {
				ra.Report = rep
			}
			if !res.Pass {
				a.Pass = false
			}
			ra.Results = append(ra.Results, res)
		}
		if ra.Report != nil {
			ra.Gaps = sandbox.Gaps(&p, ra.Report.LandlockMissing)
		}
		a.Roles = append(a.Roles, ra)
	}
	return a, nil
}

// WriteText writes the audit for people: a table of every action with its
// expected and observed outcome, the layer that refused it and the verdict;
// a table of what the kernel reported for each role after it entered its
// sandbox; the Landlock gaps and their coverage; and a closing PASS or
// FAIL line. The heading names a.Program when it is set.
func (a *Audit) WriteText(w io.Writer) {
	heading := "audit"
	if a.Program != "" {
		heading = a.Program + " audit"
	}
	fmt.Fprintf(w, "%s: kernel %s, Landlock ABI %d\n\n", heading, a.Kernel, a.LandlockABI)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tACTION\tEXPECTED\tOBSERVED\tLAYER\tRESULT")
	for _, ra := range a.Roles {
		for _, res := range ra.Results {
			verdict, layer := "ok", res.Layer
			if !res.Pass {
				verdict = "FAIL"
			}
			if layer == "" {
				layer = "-"
			}
			observed := res.Observed
			if res.Syscall != "" {
				observed += " (" + res.Syscall + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", res.Role, res.Action, res.Expected, observed, layer, verdict)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\nWhat the kernel reports for each role after entering its sandbox (/proc/self/status, every thread):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tUID\tGID\tCAPS (eff=prm=bnd)\tAMBIENT\tNoNewPrivs\tSeccomp\tLANDLOCK\tTHREADS")
	for _, ra := range a.Roles {
		rep := ra.Report
		if rep == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\n", ra.Role)
			continue
		}
		st := rep.Status
		landlock := fmt.Sprintf("ABI %d", rep.LandlockABI)
		if len(rep.Degraded) > 0 {
			landlock += " DEGRADED: " + strings.Join(rep.Degraded, ",")
		}
		seccomp := fmt.Sprint(st.Seccomp)
		if ra.SeccompDefaultAllow {
			seccomp += " DEFAULT ALLOW"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%d\n", ra.Role, st.Uid[1], st.Gid[1],
			sandbox.FormatCaps(st.CapEff), sandbox.FormatCaps(st.CapAmb), st.NoNewPrivs, seccomp, landlock, rep.ThreadsChecked)
	}
	tw.Flush()

	for _, ra := range a.Roles {
		if ra.SeccompDefaultAllow {
			fmt.Fprintf(w, "%s: seccomp is a DEFAULT-ALLOW deny list of %d syscalls (answered ENOSYS): every other syscall is allowed\n", ra.Role, ra.SeccompDenied)
		}
		for _, g := range ra.Gaps {
			fmt.Fprintf(w, "%s: kernel lacks Landlock %s -> %s\n", ra.Role, g.Right, g.CoveredBy)
		}
	}
	if a.Pass {
		fmt.Fprintln(w, "\nPASS: every forbidden action was refused and every control action worked.")
	} else {
		fmt.Fprintln(w, "\nFAIL: see the rows marked FAIL.")
	}
}

// IPCRoundTripName is the name of the action [IPCRoundTrip] returns.
const IPCRoundTripName = "control: IPC message over a socketpair"

// IPCRoundTrip returns the control every role of every program shares: a
// message sent and received across a SOCK_SEQPACKET socketpair that was
// made before the sandbox, the way roles talk to each other. It must work
// under any policy built on sandbox.RuntimeBase.
func IPCRoundTrip() Action {
	return Action{
		Name:    IPCRoundTripName,
		Allowed: true,
		Prepare: func() (any, error) {
			fa, fb, err := sandbox.SeqpacketPair()
			if err != nil {
				return nil, err
			}
			ca, err := sandbox.UnixConn(fa)
			if err != nil {
				return nil, err
			}
			cb, err := sandbox.UnixConn(fb)
			if err != nil {
				return nil, err
			}
			return [2]*net.UnixConn{ca, cb}, nil
		},
		Do: func(state any) error {
			ends := state.([2]*net.UnixConn)
			msg := []byte("ping")
			if err := sandbox.Send(ends[0], msg); err != nil {
				return err
			}
			got, err := sandbox.Recv(ends[1], len(msg))
			if err != nil {
				return err
			}
			if string(got) != string(msg) {
				return fmt.Errorf("received %q, sent %q", got, msg)
			}
			return nil
		},
	}
}
