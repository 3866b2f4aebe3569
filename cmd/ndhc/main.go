// Command ndhc is a privilege-separated DHCPv4 client. One static binary
// holds every role: started by a user it runs the supervisor or one of the
// inspection commands; re-executed by the supervisor it runs a sandboxed
// role.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ndhc-go/ndhc/sandbox"
)

// version is stamped by the Makefile (-ldflags -X main.version=...).
var version = "devel"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem (audit failure, ...)
	exitUsage   = 2 // bad command line or configuration
)

const usage = `usage:
  ndhc -i IFACE [flags]           run the DHCP client on IFACE (ndhc -i IFACE -h: every flag)
  ndhc -c FILE                    the same, configured by a file of key = value lines
  ndhc status -i IFACE [--json]   show the saved lease
  ndhc policy [ROLE] [--json]     print the sandbox policy of every role (or one)
  ndhc audit [--json] [flags]     prove each role's sandbox by attempting forbidden actions
  ndhc version                    print the version

Run "ndhc COMMAND -h" for the flags of a command.
`

func main() {
	if role, ok := sandbox.IsChild(); ok {
		runRole(role)
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitUsage)
	}
	if strings.HasPrefix(os.Args[1], "-") && os.Args[1] != "-h" && os.Args[1] != "--help" && os.Args[1] != "--version" {
		os.Exit(runClient(os.Args[1:]))
	}
	switch os.Args[1] {
	case "policy":
		os.Exit(policyCmd(os.Args[2:], os.Stdout))
	case "status":
		os.Exit(statusCmd(os.Args[2:], os.Stdout))
	case "audit":
		os.Exit(auditCmd(os.Args[2:], os.Stdout))
	case "version", "--version":
		fmt.Printf("ndhc %s\n", version)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ndhc: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(exitUsage)
	}
}
