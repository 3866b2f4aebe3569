// Package config holds the typed configuration the supervisor gives each
// role. The supervisor builds it once from the command line and the
// configuration file, validates it, and hands each role only its own part
// in the role's setup message (sandbox.Spec.Config), where it is decoded
// strictly; no role parses a flag or a string of the operator's again.
package config

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/logging"
)

// Link is the interface a client instance serves, resolved by the
// supervisor before any role starts.
type Link struct {
	Name  string   `json:"name"`
	Index int      `json:"index"`
	MAC   dhcp.MAC `json:"mac"`
}

// Log is the logging configuration every role gets.
type Log struct {
	Level  slog.Level     `json:"level"`
	Format logging.Format `json:"format"`
}

// ClientIDKind says how the engine builds option 61.
type ClientIDKind string

// Client identifier kinds.
const (
	// ClientIDDUID: RFC 4361, type 255, the IAID and a DUID-UUID kept in
	// the state directory.
	ClientIDDUID ClientIDKind = "duid"
	// ClientIDMAC: type 1 and the interface's hardware address.
	ClientIDMAC ClientIDKind = "mac"
	// ClientIDString: type 0 and the operator's text.
	ClientIDString ClientIDKind = "string"
)

// Engine is the engine's configuration.
type Engine struct {
	Link Link `json:"link"`
	Log  Log  `json:"log"`

	Hostname    dhcp.Hostname `json:"hostname"`
	VendorClass string        `json:"vendor_class,omitempty"`
	ClientID    ClientIDKind  `json:"clientid"`
	// ClientIDText is the identifier of ClientIDString.
	ClientIDText string `json:"clientid_text,omitempty"`
	// DUID is the host's DUID (RFC 8415 section 11), kept by the
	// supervisor in the state directory, out of every engine's reach.
	DUID    []byte     `json:"duid,omitempty"`
	Request netip.Addr `json:"request"`

	OneShot       bool           `json:"oneshot,omitempty"`
	ReleaseOnExit bool           `json:"release_on_exit,omitempty"`
	ARP           client.ARPMode `json:"arp_mode"`
	ARPWait       time.Duration  `json:"arp_wait,omitempty"`
	Relentless    bool           `json:"relentless,omitempty"`
	// LinkReady says the supervisor saw the link up and running (IFF_UP
	// and IFF_RUNNING) after it had opened the engine's link-event
	// socket: the engine starts DHCP at once instead of asking ifch to
	// bring the link up and for its carrier. A change after that look
	// reaches the engine as a link event, as any later one does.
	LinkReady bool `json:"link_ready,omitempty"`

	// Limits are ifch's limits on the optional fields of a lease (DNS
	// servers, search domains, MTU floor): the engine drops what ifch
	// would refuse (ifch.Policy.Sanitize) instead of having the whole
	// lease refused.
	Limits ifch.Policy `json:"limits"`
}

// Sockd is the socket broker's configuration.
type Sockd struct {
	Link Link `json:"link"`
	Log  Log  `json:"log"`
}

// Ifch is the configuration of the spawned ifch role.
type Ifch struct {
	Link Link `json:"link"`
	Log  Log  `json:"log"`
	// ResolvConf is the file ifch opens as root before its sandbox and
	// rewrites from then on; empty: leave resolv.conf alone.
	ResolvConf  string `json:"resolv_conf,omitempty"`
	RouteMetric uint32 `json:"route_metric,omitempty"`
	// SetHostname: ifch asks the hostname role to set the lease's host
	// name.
	SetHostname bool `json:"set_hostname,omitempty"`
	// Policy is what ifch accepts from the engine; its Interfaces are
	// exactly Link.Name.
	Policy ifch.Policy `json:"policy"`
	// DNS is the decided DNS mode (file, resolved or none; never auto).
	// With resolved, ifch sends each link's DNS data to the dns role
	// and writes no file.
	DNS DNSMode `json:"dns,omitempty"`
}

// Hostname is the hostname role's configuration.
type Hostname struct {
	Log Log `json:"log"`
}

// DNSMode is where the lease's DNS servers and search domains go
// (--dns).
type DNSMode string

// DNS modes.
const (
	DNSAuto     DNSMode = "auto"
	DNSFile     DNSMode = "file"
	DNSResolved DNSMode = "resolved"
	DNSNone     DNSMode = "none"
)

// DNS is the dns role's configuration, and the supervisor's record of
// the decision.
type DNS struct {
	Log Log `json:"log"`
	// Socket is the system bus socket's path inside the role's chroot.
	Socket string `json:"socket"`
	// Mode and Why are the decision --dns led to (Mode never auto), for
	// the start-up log and `ndhc show`; the role does not use them.
	Mode DNSMode `json:"mode,omitempty"`
	Why  string  `json:"why,omitempty"`
}

// Role is any role's configuration: what the role's logger needs.
type Role interface {
	// Logging returns the logging configuration and the interface the
	// role serves (empty when it serves none).
	Logging() (Log, string)
}

// Logging implements Role.
func (c *Engine) Logging() (Log, string) { return c.Log, c.Link.Name }

// Logging implements Role.
func (c *Sockd) Logging() (Log, string) { return c.Log, c.Link.Name }

// Logging implements Role.
func (c *Ifch) Logging() (Log, string) { return c.Log, c.Link.Name }

// Logging implements Role.
func (c *Hostname) Logging() (Log, string) { return c.Log, "" }

// Logging implements Role.
func (c *DNS) Logging() (Log, string) { return c.Log, "" }

// Hook is the hook role's configuration (--hook).
type Hook struct {
	Log Log `json:"log"`
	// Interface is the interface the instance serves: the hook's third
	// argument and NDHC_INTERFACE.
	Interface string `json:"interface"`
	// Path is the program run at each lease event, checked by the
	// supervisor at start-up (internal/hook.CheckPath).
	Path string `json:"path"`
	// Timeout bounds each run; its process group is killed at the end.
	Timeout time.Duration `json:"timeout"`
}

// Logging implements Role.
func (c *Hook) Logging() (Log, string) { return c.Log, c.Interface }
