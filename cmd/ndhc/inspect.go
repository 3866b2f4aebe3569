package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ndhc-go/ndhc/internal/conf"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
	"github.com/ndhc-go/ndhc/sandbox/probe"
)

// policyCmd is `ndhc policy [ROLE...] [--json] [--users]`: the exact
// sandbox of each role, with what the running kernel makes of it.
func policyCmd(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ndhc policy", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	users := fs.Bool("users", false, "list the default user of every role, one a line (what `make install-users` creates)")
	rf := addRoleFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ndhc policy [ROLE...] [--json] [flags]\n\nROLE is one of %s.\n\n", strings.Join(roles.Names(), ", "))
		fs.PrintDefaults()
	}
	names, err := conf.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitcode.OK
	}
	if err != nil || rf.parse() != nil {
		return exitcode.Usage
	}
	if *users {
		for _, u := range roles.DefaultUsers() {
			fmt.Fprintln(out, u)
		}
		return exitcode.OK
	}
	if len(names) == 0 {
		names = roles.Names()
	}
	abi, abiErr := sandbox.LandlockABI()
	var reports []sandbox.PolicyReport
	for _, name := range names {
		p, err := rf.settings.Policy(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc policy: %v (roles: %s)\n", err, strings.Join(roles.Names(), ", "))
			return exitcode.Usage
		}
		r, err := sandbox.DescribePolicy(p, abi)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc policy: %v\n", err)
			return exitcode.Failure
		}
		reports = append(reports, r)
	}
	if *asJSON {
		if err := sandbox.WriteJSON(out, reports); err != nil {
			return exitcode.Failure
		}
		return exitcode.OK
	}
	if abiErr != nil {
		fmt.Fprintf(out, "kernel: %v\n\n", abiErr)
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(out)
		}
		r.WriteText(out)
	}
	return exitcode.OK
}

// auditCmd is `ndhc audit [ROLE...] [--json]`: each role's policy entered
// by probe children that attempt forbidden actions and the role's
// controls.
func auditCmd(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("ndhc audit", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	rf := addRoleFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ndhc audit [ROLE...] [--json] [flags]\n\n"+
			"For each role, starts one probe per action: the probe enters the role's\n"+
			"policy exactly as the daemon does, attempts the action and reports what\n"+
			"the kernel did. Exits 1 if a forbidden action succeeded or an allowed one\n"+
			"failed. Needs root, like the daemon.\n\n")
		fs.PrintDefaults()
	}
	names, err := conf.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitcode.OK
	}
	if err != nil {
		return exitcode.Usage
	}
	if err := rf.parse(); err != nil {
		fmt.Fprintln(os.Stderr, "ndhc audit:", err)
		return exitcode.Usage
	}
	if len(names) == 0 {
		names = roles.Names()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ndhc audit: must run as root: the probes enter each role's sandbox from root, as the daemon does")
		return exitcode.Usage
	}
	cleanup, err := rf.settings.PrepareAudit()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc audit:", err)
		return exitcode.Usage
	}
	defer cleanup()
	var subjects []probe.Subject
	for _, name := range names {
		r, _ := roles.ByName(name)
		p, err := rf.settings.Policy(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ndhc audit: %v (roles: %s)\n", err, strings.Join(roles.Names(), ", "))
			return exitcode.Usage
		}
		subjects = append(subjects, r.AuditSubject(p))
	}
	a, err := probe.RunAudit(subjects, sandbox.Options{Degrade: rf.degrade})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndhc audit:", err)
		var le *sandbox.LayerError
		if errors.As(err, &le) {
			return exitcode.Sandbox
		}
		return exitcode.Failure
	}
	a.Program = "ndhc"
	if *asJSON {
		sandbox.WriteJSON(out, a)
	} else {
		a.WriteText(out)
	}
	if !a.Pass {
		return exitcode.Failure
	}
	return exitcode.OK
}
