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
	"github.com/ndhc-go/ndhc/internal/config"
)

// stateDir is the engine's state directory: the lease of its interface,
// the interface's IAID and the DUID.
type stateDir struct {
	dir   string
	iface string
}

func (s stateDir) path(name string) string { return filepath.Join(s.dir, name) }

// LeaseFile is the name of an interface's lease file in the state
// directory (`ndhc status` reads it too).
func LeaseFile(iface string) string { return iface + ".lease" }

func (s stateDir) loadLease(log *slog.Logger) *client.Lease {
	b, err := os.ReadFile(s.path(LeaseFile(s.iface)))
	if errors.Is(err, os.ErrNotExist) {
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

// saveLease writes the lease atomically: a temporary file, fsync, rename,
// fsync of the directory.
func (s stateDir) saveLease(l *client.Lease) error {
	b, err := l.MarshalJSON()
	if err != nil {
		return err
	}
	return s.writeAtomic(LeaseFile(s.iface), append(b, '\n'))
}

func (s stateDir) forgetLease() error {
	if err := os.Remove(s.path(LeaseFile(s.iface))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (s stateDir) writeAtomic(name string, b []byte) error {
	path := s.path(name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadOrCreate reads a small binary file from the state directory, or
// creates it atomically with make when it does not exist. A file that fails
// valid is an error, never silently replaced.
func (s stateDir) loadOrCreate(name string, make func() ([]byte, error), valid func([]byte) bool) ([]byte, error) {
	b, err := os.ReadFile(s.path(name))
	if err == nil {
		if !valid(b) {
			return nil, fmt.Errorf("%s: malformed (%d bytes); remove it to create a new one", name, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if b, err = make(); err != nil {
		return nil, err
	}
	return b, s.writeAtomic(name, b)
}

// settings turns the engine's configuration into the client's.
func (e *Engine) settings() (client.Settings, error) {
	c := e.cfg
	s := client.Settings{
		MAC: c.Link.MAC, DefendRelentless: c.Relentless, OneShot: c.OneShot,
		ARP: c.ARP, Hostname: c.Hostname, RequestAddr: c.Request,
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

// clientID builds option 61: RFC 4361 (type 255, IAID, DUID) from the
// state directory, the MAC, or the operator's string.
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
	duid, err := e.st.loadOrCreate("duid", func() ([]byte, error) {
		// DUID-UUID (RFC 6355): stable for as long as the state directory
		// is, and independent of any interface.
		b := make([]byte, 18)
		binary.BigEndian.PutUint16(b, 4)
		if _, err := rand.Read(b[2:]); err != nil {
			return nil, err
		}
		b[2+6] = b[2+6]&0x0f | 0x40 // UUID version 4
		b[2+8] = b[2+8]&0x3f | 0x80 // RFC 4122 variant
		return b, nil
	}, func(b []byte) bool { return len(b) >= 3 && len(b) <= 130 })
	if err != nil {
		return dhcp.ClientID{}, fmt.Errorf("duid: %w", err)
	}
	iaid, err := e.st.loadOrCreate(e.cfg.Link.Name+".iaid", func() ([]byte, error) {
		b := make([]byte, 4)
		_, err := rand.Read(b)
		return b, err
	}, func(b []byte) bool { return len(b) == 4 })
	if err != nil {
		return dhcp.ClientID{}, fmt.Errorf("iaid: %w", err)
	}
	return dhcp.NewClientIDDUID(binary.BigEndian.Uint32(iaid), duid)
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return binary.BigEndian.Uint32(b[:])
}
