//go:build !linux

package sandbox

import (
	"net"
	"os"
	"syscall"
	"time"
)

// Enter is not supported outside Linux.
func Enter(p Policy, o Options) (*Report, error) { return nil, ErrUnsupported }

// LandlockABI is not supported outside Linux.
func LandlockABI() (int, error) { return 0, ErrUnsupported }

// ResolveIDs is not supported outside Linux.
func ResolveIDs(userName, groupName string) (uint32, uint32, error) { return 0, 0, ErrUnsupported }

// ResolveUser is not supported outside Linux.
func ResolveUser(name string) (uint32, error) { return 0, ErrUnsupported }

// ResolveGroup is not supported outside Linux.
func ResolveGroup(name string) (uint32, error) { return 0, ErrUnsupported }

// SeqpacketPair is not supported outside Linux.
func SeqpacketPair() (*os.File, *os.File, error) { return nil, nil, ErrUnsupported }

// SeqpacketConns is not supported outside Linux.
func SeqpacketConns() (*net.UnixConn, *net.UnixConn, error) { return nil, nil, ErrUnsupported }

// PeerCred is not supported outside Linux.
func PeerCred(c syscall.Conn) (Ucred, error) { return Ucred{}, ErrUnsupported }

// Ucred stands in for unix.Ucred outside Linux.
type Ucred struct{ Pid, Uid, Gid uint32 }

// File is a descriptor handed to a child under a name.
type File struct {
	Name string
	File *os.File
}

// Child is a running role started by Spawn.
type Child struct {
	Role string
	Ctl  *net.UnixConn
}

// Spec describes a child to start with Spawn.
type Spec struct {
	Role       string
	Policy     Policy
	Files      []File
	Degrade    []string
	Config     any
	Stderr     *os.File
	Program    string
	Privileged bool
	Hold       bool
}

// Spawn is not supported outside Linux.
func Spawn(s Spec) (*Child, error) { return nil, ErrUnsupported }

// IsChild reports false outside Linux.
func IsChild() (string, bool) { return "", false }

// CloseInherited is not supported outside Linux.
func CloseInherited(keep ...int) error { return ErrUnsupported }

// KillLog is not supported outside Linux.
type KillLog struct{}

// OpenKillLog is not supported outside Linux.
func OpenKillLog() (*KillLog, error) { return nil, ErrUnsupported }

// Syscall reports nothing outside Linux.
func (k *KillLog) Syscall(pid int) (string, bool) { return "", false }

// Close does nothing outside Linux.
func (k *KillLog) Close() error { return nil }

// Trim does nothing outside Linux.
func Trim() int { return 0 }

// TrimWhenQuiet does nothing outside Linux.
func TrimWhenQuiet(quiet time.Duration) {}

// Busy does nothing outside Linux.
func Busy() {}

// Trims is always 0 outside Linux.
func Trims() int { return 0 }

// Prewarm does nothing outside Linux.
func Prewarm() {}
