package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/version"
)

// versionCmd is "ndhc version [--json]" (and "ndhc --version"): the
// release version, the commit and its time, the Go toolchain, platform
// and cgo setting of this binary (internal/version), as one line or as
// one JSON object.
func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ndhc version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object: program, version, commit, commit_time, dirty, go, goos, goarch, cgo")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ndhc version [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ndhc version: unexpected argument %q\n", fs.Arg(0))
		return exitcode.Usage
	}
	in := version.Get("ndhc")
	if *asJSON {
		_, _ = stdout.Write(in.JSON())
		return exitcode.OK
	}
	fmt.Fprintln(stdout, in)
	return exitcode.OK
}
