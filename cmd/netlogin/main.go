// Command netlogin is netlogind's client: it connects, answers the
// server's prompts (user name, password, whatever PAM asks), runs commands
// and exits with the status of the last one.
//
//	netlogin -connect host:port (-ca FILE | -fingerprint SHA256:...) [-c CMD]...
//	netlogin -unix /run/netlogind.sock [-c CMD]...
//	netlogin keygen -key FILE -cert FILE [-host NAME]...
//	netlogin --version
//
// Over TCP the connection is TLS 1.3 and the server must prove itself:
// either its certificate chains to one in the -ca file and holds the
// -server-name (by default the host of -connect), or its certificate has
// the -fingerprint given. There is no trust on first use: without either,
// netlogin does not connect. A UNIX socket carries the protocol in plain;
// the daemon lets in whoever the socket's file mode does.
//
// Commands come from the -c flags, run one after another, or, without
// -c, from standard input one line at a time (with a "netlogin> " prompt
// when standard input is a terminal). Prompts and the server's messages go
// to standard error; the commands' output to standard output and standard
// error as the server sends it. Answers to prompts are read from standard
// input too, with echo off for a secret when it is a terminal.
//
// keygen makes the daemon's host key: an Ed25519 key (written with mode
// 0600) and a self-signed certificate for it (0644) that clients can use
// as their -ca file. It prints the certificate's fingerprint, for clients
// that pin it instead. It never overwrites a file.
//
// Exit status: the last command's (0-255; a command killed by signal n
// gives 128+n, as in a shell), 0 when none ran, 5 when the login was
// refused, 255 when the connection failed or the server misbehaved, 2 for
// a bad command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/login/client"
	"github.com/ndhc-go/ndhc/internal/login/hostkey"
	"github.com/ndhc-go/ndhc/internal/login/wire"
	"github.com/ndhc-go/ndhc/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// config is the command line.
type config struct {
	opts     client.Options
	commands []string
}

const usageText = `usage:
  netlogin -connect host:port (-ca FILE | -fingerprint SHA256:...) [flags] [-c command]...
  netlogin -unix PATH [flags] [-c command]...
  netlogin keygen -key FILE -cert FILE [-host NAME]... [-cn NAME] [-days N]
  netlogin --version

Without -c, commands are read from standard input, one per line.

flags:
`

// parseFlags reads the command line. flag.ErrHelp means -h was asked for;
// any other error is a usage error, already explained on stderr.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("netlogin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var connect, unixPath string
	var cmds stringList
	fs.StringVar(&connect, "connect", "", "connect over TCP with TLS 1.3 to `host:port`")
	fs.StringVar(&unixPath, "unix", "", "connect to the daemon's UNIX socket at `path` (no TLS)")
	fs.StringVar(&c.opts.CAFile, "ca", "", "verify the server's certificate against the PEM certificates in `file`")
	fs.StringVar(&c.opts.Fingerprint, "fingerprint", "", "accept only the server certificate with this `SHA256:hex` fingerprint")
	fs.StringVar(&c.opts.ServerName, "server-name", "", "the `name` the certificate must hold with -ca (default: the host of -connect)")
	fs.Var(&cmds, "c", "run `command` (repeatable; they run in order)")
	fs.DurationVar(&c.opts.Timeout, "timeout", client.DefaultTimeout, "give up connecting after `duration`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) (*config, error) {
		err := fmt.Errorf("netlogin: "+format, a...)
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "netlogin: run netlogin -h for help")
		return nil, err
	}
	if fs.NArg() != 0 {
		return bad("unexpected argument %q (commands go in -c)", fs.Arg(0))
	}
	switch {
	case connect != "" && unixPath != "":
		return bad("-connect and -unix are exclusive")
	case connect != "":
		c.opts.Network, c.opts.Address = "tcp", connect
		if c.opts.CAFile == "" && c.opts.Fingerprint == "" {
			return bad("-connect needs -ca or -fingerprint to verify the server")
		}
		if c.opts.Fingerprint != "" {
			if _, err := hostkey.ParseFingerprint(c.opts.Fingerprint); err != nil {
				return bad("-fingerprint: %v", err)
			}
		}
	case unixPath != "":
		c.opts.Network, c.opts.Address = "unix", unixPath
		if c.opts.CAFile != "" || c.opts.Fingerprint != "" || c.opts.ServerName != "" {
			return bad("-ca, -fingerprint and -server-name are for -connect: a UNIX socket has no TLS")
		}
	default:
		return bad("say where to connect: -connect host:port or -unix path")
	}
	if c.opts.Timeout <= 0 {
		return bad("-timeout %v is not positive", c.opts.Timeout)
	}
	for _, cmd := range cmds {
		if err := wire.ValidCommand(cmd); err != nil {
			return bad("-c %q: %v", cmd, err)
		}
	}
	c.commands = cmds
	return &c, nil
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintln(stdout, version.Get("netlogin"))
		return exitcode.OK
	}
	if len(args) > 0 && args[0] == "keygen" {
		return keygen(args[1:], stdout, stderr)
	}
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitcode.OK
	}
	if err != nil {
		return exitcode.Usage
	}
	ctx := context.Background()
	conn, err := client.Dial(ctx, c.opts)
	if err != nil {
		fmt.Fprintln(stderr, "netlogin:", plain(err))
		return client.StatusError
	}
	defer conn.Close()
	ui := newTermUI(stdin, stdout, stderr, c.commands)
	status, err := client.Run(ctx, conn, ui)
	if err != nil {
		fmt.Fprintln(stderr, "netlogin:", plain(err))
	}
	return status
}

// plain drops the package prefix from an error for the user.
func plain(err error) string {
	return strings.TrimPrefix(err.Error(), "client: ")
}

// keygen writes a new host key and certificate.
func keygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netlogin keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var keyPath, certPath, cn string
	var hosts stringList
	var days int
	fs.StringVar(&keyPath, "key", "", "write the private key to `file` (mode 0600; must not exist)")
	fs.StringVar(&certPath, "cert", "", "write the certificate to `file` (mode 0644; must not exist)")
	fs.Var(&hosts, "host", "a DNS `name` or IP address clients use to reach the server (repeatable)")
	fs.StringVar(&cn, "cn", "netlogind", "the certificate's common `name`")
	fs.IntVar(&days, "days", 3650, "the certificate's validity in `days`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: netlogin keygen -key FILE -cert FILE [-host NAME]... [-cn NAME] [-days N]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcode.OK
		}
		return exitcode.Usage
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "netlogin keygen:", msg)
		return exitcode.Usage
	}
	switch {
	case fs.NArg() != 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case keyPath == "" || certPath == "":
		return usage("-key and -cert are required")
	case keyPath == certPath:
		return usage("-key and -cert must be different files")
	case days <= 0 || days > 100*366:
		return usage(fmt.Sprintf("-days %d is out of range", days))
	}
	keyPEM, certPEM, err := hostkey.Generate(cn, hosts, time.Duration(days)*24*time.Hour)
	if err != nil {
		return usage(err.Error())
	}
	defer clear(keyPEM)
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		fmt.Fprintln(stderr, "netlogin keygen:", err)
		return exitcode.Failure
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		// Do not leave a key without its certificate behind: the next
		// attempt would refuse to overwrite it.
		os.Remove(keyPath)
		fmt.Fprintln(stderr, "netlogin keygen:", err)
		return exitcode.Failure
	}
	_, chain, err := hostkey.Load(keyPath, certPath)
	if err != nil {
		// What was just written must load; if it does not, say so now
		// rather than when the daemon starts.
		fmt.Fprintln(stderr, "netlogin keygen:", err)
		return exitcode.Failure
	}
	fmt.Fprintln(stdout, hostkey.Fingerprint(chain.DER[0]))
	return exitcode.OK
}

// writeNew creates path, which must not exist, with exactly mode (not
// narrowed by the umask) and contents b. A file left half-written by a
// failure is removed.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
