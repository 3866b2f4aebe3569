package dnsrole

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ndhc-go/ndhc/internal/config"
)

// Modes lists the values of --dns.
var Modes = []config.DNSMode{config.DNSAuto, config.DNSFile, config.DNSResolved, config.DNSNone}

// errResolvconf explains why --dns resolvconf is not offered.
var errResolvconf = errors.New("dns resolvconf is not supported: the resolvconf program runs as root and is a shell script that would be fed the server's data; " +
	"use --dns resolved (systemd-resolved over D-Bus), --dns file, or, accepting that risk knowingly, a lease hook that calls resolvconf")

// ParseMode parses a --dns value.
func ParseMode(s string) (config.DNSMode, error) {
	if s == "resolvconf" {
		return "", errResolvconf
	}
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("dns %q: want auto, file, resolved or none", s)
}

// Paths are what Decide looks at; DefaultPaths are a real system's.
type Paths struct {
	// ResolvedSocket is resolved's Varlink socket: it exists while
	// resolved runs.
	ResolvedSocket string
	// ResolvedDir is where resolved keeps its resolv.conf files.
	ResolvedDir string
	// ResolvConf is the resolv.conf ndhc would otherwise write
	// (--resolv-conf).
	ResolvConf string
}

// DefaultPaths are systemd-resolved's paths and the default resolv.conf.
var DefaultPaths = Paths{
	ResolvedSocket: "/run/systemd/resolve/io.systemd.Resolve",
	ResolvedDir:    "/run/systemd/resolve",
	ResolvConf:     "/etc/resolv.conf",
}

// Decide turns a mode into the one that applies, file, resolved or none,
// and says why. auto is resolved when resolved runs (its socket exists)
// and resolv.conf is resolved's (a symlink into its directory), file
// otherwise. The bus name is not asked for: that needs a bus connection,
// and the supervisor, which decides, runs as root (see the package
// documentation for why no root connection is made).
func Decide(m config.DNSMode, p Paths) (config.DNSMode, string) {
	switch m {
	case config.DNSFile, config.DNSResolved, config.DNSNone:
		return m, "configured"
	}
	if p.ResolvConf == "" {
		return config.DNSNone, "resolv-conf is empty"
	}
	fi, err := os.Stat(p.ResolvedSocket)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return config.DNSFile, "systemd-resolved does not run (no " + p.ResolvedSocket + ")"
	}
	target, err := filepath.EvalSymlinks(p.ResolvConf)
	if err != nil {
		return config.DNSFile, fmt.Sprintf("systemd-resolved runs, but %s does not resolve: %v", p.ResolvConf, err)
	}
	dir, err := filepath.EvalSymlinks(p.ResolvedDir)
	if err != nil {
		dir = p.ResolvedDir
	}
	if !strings.HasPrefix(target, dir+"/") {
		return config.DNSFile, fmt.Sprintf("systemd-resolved runs, but %s is %s, not one of its files", p.ResolvConf, target)
	}
	return config.DNSResolved, fmt.Sprintf("systemd-resolved runs and %s is its %s", p.ResolvConf, target)
}
