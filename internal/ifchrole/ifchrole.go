// Package ifchrole is the ifch role that ndhc spawns for its own
// interface: it opens, as root and before its sandbox, the netlink socket
// and resolv.conf it will use, then serves the engine's ifch requests
// through the applier of package ifch/apply, re-validating each against
// a policy that names only this interface. A standalone ifchd serves the
// same protocol to several clients (cmd/ifchd).
package ifchrole

import (
	"log/slog"
	"net"

	"github.com/ndhc-go/ndhc/ifch/apply"
	"github.com/ndhc-go/ndhc/internal/config"
	"github.com/ndhc-go/ndhc/internal/dnsrole"
	"github.com/ndhc-go/ndhc/internal/exitcode"
	"github.com/ndhc-go/ndhc/internal/hostname"
	"github.com/ndhc-go/ndhc/sandbox"
)

// Role is the ifch role between its start and its sandbox.
type Role struct {
	cfg     *config.Ifch
	applier *apply.Applier
	// applyLog is for the applier and the server loop, which name the
	// interface in each line themselves.
	applyLog *slog.Logger
}

// Open opens what the role needs before its sandbox: the netlink handle,
// resolv.conf, the client of the hostname role when hostnameConn is not
// nil, and that of the dns role when dnsConn is not nil (--dns resolved). The applier and the server loop log to applyLog, which must
// not name the interface: they name it in each line.
func Open(cfg *config.Ifch, hostnameConn, dnsConn *net.UnixConn, applyLog *slog.Logger) (*Role, error) {
	k, err := apply.OpenNetlink()
	if err != nil {
		return nil, err
	}
	acfg := apply.Config{Metric: int(cfg.RouteMetric), Log: applyLog}
	if cfg.ResolvConf != "" {
		r, err := apply.OpenResolvConf(cfg.ResolvConf)
		if err != nil {
			return nil, err
		}
		acfg.Resolv = r
	}
	if hostnameConn != nil {
		acfg.Hostname = &hostname.Client{Conn: hostnameConn}
	}
	if dnsConn != nil {
		acfg.LinkDNS = &dnsrole.Client{Conn: dnsConn}
	}
	return &Role{cfg: cfg, applier: apply.New(k, acfg), applyLog: applyLog}, nil
}

// Run serves the engine on conn until it closes its channel (status 0)
// or breaks the protocol (status 1); the sandbox is already entered.
func (r *Role) Run(conn *net.UnixConn, log *slog.Logger) int {
	pol := r.cfg.Policy
	pol.Interfaces = []string{r.cfg.Link.Name}
	if err := apply.Serve(busyConn{conn}, r.applier, apply.ServeOptions{Policy: &pol, Log: r.applyLog}); err != nil {
		log.Error("engine broke the ifch protocol; exiting", "err", err)
		return exitcode.Failure
	}
	log.Info("engine closed its channel; exiting")
	return exitcode.OK
}

// busyConn marks the process busy (sandbox.Busy) on every read, so the
// role gives back the memory a configuration used once it is quiet again.
type busyConn struct{ net.Conn }

func (c busyConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	sandbox.Busy()
	return n, err
}
