package engine

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ndhc-go/ndhc/dhcp"
	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/ifch"
	"github.com/ndhc-go/ndhc/internal/config"
)

// stateDir is the engine's directory: its interface's lease and IAID,
// and nothing of any other interface's (the DUID comes from the
// supervisor).
type stateDir struct {
	dir string
}

func (s stateDir) path(name string) string { return filepath.Join(s.dir, name) }

// Names of the files in an engine's directory (`ndhc status` reads the
// lease too).
const (
	LeaseFile = "lease"
	IAIDFile  = "iaid"
)

// StateFiles are the engine's files. Whoever prepares its directory
// creates them, writable by the engine; the engine only ever writes them
// in place and creates nothing, so that a compromised engine cannot fill
// the file system. An empty file holds nothing: no lease, no IAID yet.
var StateFiles = []string{LeaseFile, IAIDFile}

func (s stateDir) loadLease(log *slog.Logger) *client.Lease {
	b, err := os.ReadFile(s.path(LeaseFile))
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(b) == 0) {
		return nil
	}
	if err != nil {
		log.Warn("cannot read the saved lease", "err", err)
		return nil
	}
	l, err := client.ParseLease(b)
	if err != nil {
		log.Warn("ignoring a malformed saved lease", "err", err)
		return nil
	}
	return l
}

// saveLease writes the lease in place. A crash in the middle of the write
// leaves a short or empty file, which the next start ignores (it asks for
// a lease again); the price of an engine that creates no file.
func (s stateDir) saveLease(l *client.Lease) error {
	b, err := l.MarshalJSON()
	if err != nil {
		return err
	}
	return s.writeInPlace(LeaseFile, append(b, '\n'))
}

// forgetLease empties the lease file.
func (s stateDir) forgetLease() error {
	return s.writeInPlace(LeaseFile, nil)
}

// writeInPlace replaces the content of one of the engine's files, which
// must exist, and syncs it.
func (s stateDir) writeInPlace(name string, b []byte) error {
	f, err := os.OpenFile(s.path(name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	return errors.Join(werr, f.Sync(), f.Close())
}

// loadOrCreate reads a small binary file from the state directory, or
// fills it with make when it is empty. A file that fails valid is an
// error, never silently replaced.
func (s stateDir) loadOrCreate(name string, make func() ([]byte, error), valid func([]byte) bool) ([]byte, error) {
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return nil, err
	}
	if len(b) > 0 {
		if !valid(b) {
			return nil, fmt.Errorf("%s: malformed (%d bytes); empty it to create a new one", name, len(b))
		}
		return b, nil
	}
	if b, err = make(); err != nil {
		return nil, err
	}
	return b, s.writeInPlace(name, b)
}

// settings turns the engine's configuration into the client's.
func (e *Engine) settings() (client.Settings, error) {
	c := e.cfg
	s := client.Settings{
		MAC: c.Link.MAC, DefendRelentless: c.Relentless, OneShot: c.OneShot,
		ARP: c.ARP, Hostname: c.Hostname, RequestAddr: c.Request,
		IgnoreClasslessRoutes: c.Limits.Classless == ifch.ClasslessOff,
	}
	s.ARPTimings.FastWait = c.ARPWait
	if c.VendorClass != "" {
		s.VendorClass = []byte(c.VendorClass)
	}
	id, err := e.clientID()
	if err != nil {
		return s, err
	}
	s.ClientID = id
	return s, s.Validate()
}

// clientID builds option 61: RFC 4361 (type 255, the IAID kept in the
// engine's directory, the host's DUID from the supervisor), the MAC, or
// the operator's string.
func (e *Engine) clientID() (dhcp.ClientID, error) {
	switch e.cfg.ClientID {
	case config.ClientIDMAC:
		return dhcp.NewClientIDMAC(e.cfg.Link.MAC), nil
	case config.ClientIDString:
		return dhcp.ParseClientID(append([]byte{0}, e.cfg.ClientIDText...))
	case config.ClientIDDUID:
	default:
		return dhcp.ClientID{}, fmt.Errorf("unknown client identifier kind %q", e.cfg.ClientID)
	}
	iaid, err := e.st.loadOrCreate(IAIDFile, func() ([]byte, error) {
		b := make([]byte, 4)
		_, err := rand.Read(b)
		return b, err
	}, func(b []byte) bool { return len(b) == 4 })
	if err != nil {
		return dhcp.ClientID{}, fmt.Errorf("iaid: %w", err)
	}
	return dhcp.NewClientIDDUID(binary.BigEndian.Uint32(iaid), e.cfg.DUID)
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return binary.BigEndian.Uint32(b[:])
}
