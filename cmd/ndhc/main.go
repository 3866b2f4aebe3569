// Command ndhc is a privilege-separated DHCPv4 client. One static binary
// holds every role: started by a user it runs the supervisor or one of the
// inspection commands; re-executed by the supervisor it runs a sandboxed
// role (internal/roles).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/roles"
	"github.com/ndhc-go/ndhc/sandbox"
)

const usage = `usage:
  ndhc -i IFACE [flags]           run the DHCP client on IFACE (ndhc -i IFACE -h: every flag)
  ndhc -c FILE                    the same, configured by a file of key = value lines
  ndhc -w -i IFACE [flags]        the same, detached once the first lease is configured
  ndhc status -i IFACE [--json]   show the saved lease
  ndhc prepare -i IFACE [flags]   make the state directory ready, then exit (ExecStartPre=+)
  ndhc show -i IFACE [--json]     the running client's live state (control socket)
  ndhc renew -i IFACE [--wait]    renew the lease now (root)
  ndhc release -i IFACE [--wait]  release the lease (root)
  ndhc rebind -i IFACE [--wait]   rebind now: ask any server (root)
  ndhc wait -i IFACE [--timeout D] [--json]
                                  exit 0 once IFACE is bound and configured, 5 on timeout
  ndhc policy [ROLE] [--json]     print the sandbox policy of every role (or one)
  ndhc policy --users             list the system users the roles run as
  ndhc audit [--json] [flags]     prove each role's sandbox by attempting forbidden actions
  ndhc version [--json]           print the version, commit and Go toolchain

Run "ndhc COMMAND -h" for the flags of a command.
`

func main() {
	if role, ok := sandbox.IsChild(); ok {
		roles.RunChild(role)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitcode.Usage
	}
	if strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "--version" {
		return runClient(args)
	}
	switch args[0] {
	case "policy":
		return policyCmd(args[1:], os.Stdout)
	case "status":
		return statusCmd(args[1:], os.Stdout)
	case "prepare":
		return prepareCmd(args[1:])
	case "show", "renew", "release", "rebind", "wait":
		return controlCmd(args[0], args[1:], os.Stdout)
	case "audit":
		return auditCmd(args[1:], os.Stdout)
	case "version", "--version":
		return versionCmd(args[1:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "ndhc: unknown command %q\n\n%s", args[0], usage)
		return exitcode.Usage
	}
	return exitcode.OK
}
