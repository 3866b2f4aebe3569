package session

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
)

// Defaults of [Config].
const (
	DefaultService      = "netlogind"
	DefaultAuthDeadline = 60 * time.Second
	DefaultFailDelay    = 2 * time.Second
	// maxDuration bounds both durations: a longer one is a mistake, and a
	// login that waits for it holds a process and a PAM handle.
	maxDuration = 10 * time.Minute
	// maxPeer bounds PAM_RHOST; a host name is at most 253 bytes, and an
	// address with a port or a scope fits too.
	maxPeer = 255
)

// Config is the [session] process's configuration, which the listener
// sends in the setup message (JSON, decoded strictly). Zero values mean
// the defaults.
type Config struct {
	// Service is the PAM service name: the file in the PAM configuration
	// directory that holds the stacks. Default "netlogind".
	Service string `json:"service,omitempty"`
	// PAMConfDir is the directory the service file is read from
	// (pam_start_confdir); empty means the system's (/etc/pam.d). Tests
	// point it at a temporary directory.
	PAMConfDir string `json:"pam_confdir,omitempty"`
	// Peer is the client's address as the listener saw it; it becomes
	// PAM_RHOST, which modules log and may check (pam_access). Empty
	// leaves PAM_RHOST unset.
	Peer string `json:"peer,omitempty"`
	// AuthDeadline bounds the whole authentication, from the first prompt
	// to Auth: past it the client gets Auth with AuthTimeout. Default 60s.
	AuthDeadline Duration `json:"auth_deadline,omitempty"`
	// FailDelay is how long after the client's last answer a failed
	// login is answered, whatever made it fail, so that the answer's
	// timing does not tell an unknown user from a wrong password.
	// Default 2s.
	FailDelay Duration `json:"fail_delay,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a string
// such as "2s" or "1m30s".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Service == "" {
		c.Service = DefaultService
	}
	if c.AuthDeadline == 0 {
		c.AuthDeadline = Duration(DefaultAuthDeadline)
	}
	if c.FailDelay == 0 {
		c.FailDelay = Duration(DefaultFailDelay)
	}
	return c
}

// Validate reports the first field of c (with defaults applied) that
// cannot be used.
func (c Config) Validate() error {
	c = c.WithDefaults()
	// The service name is a file name under the configuration directory:
	// nothing that could walk out of it.
	if len(c.Service) > 64 || c.Service == "." || c.Service == ".." {
		return fmt.Errorf("session: PAM service %q", c.Service)
	}
	for _, r := range c.Service {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("session: PAM service %q: only letters, digits and ._-", c.Service)
		}
	}
	if c.PAMConfDir != "" && !filepath.IsAbs(c.PAMConfDir) {
		return fmt.Errorf("session: PAM configuration directory %q is not absolute", c.PAMConfDir)
	}
	if len(c.Peer) > maxPeer {
		return fmt.Errorf("session: peer of %d bytes (at most %d)", len(c.Peer), maxPeer)
	}
	for _, r := range c.Peer {
		if r <= ' ' || r >= 0x7f {
			return fmt.Errorf("session: peer %q: only printable ASCII", c.Peer)
		}
	}
	for name, d := range map[string]Duration{"auth_deadline": c.AuthDeadline, "fail_delay": c.FailDelay} {
		if d < 0 || time.Duration(d) > maxDuration {
			return fmt.Errorf("session: %s %v (0 to %v)", name, time.Duration(d), maxDuration)
		}
	}
	return nil
}
