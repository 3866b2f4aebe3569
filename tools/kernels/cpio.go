package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// cpioWriter writes the "newc" (SVR4 without CRC) cpio format, the one the
// kernel unpacks as an initramfs. It is written here rather than by
// cpio(1) so that the host needs no cpio package and every entry's owner
// and mode are exact regardless of the host's files.
type cpioWriter struct {
	w   *bufio.Writer
	n   int64 // bytes written, for padding
	ino uint32
	err error
}

func newCPIO(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriter(w), ino: 1}
}

// Mode bits of the entry types (the file type part of st_mode).
const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

type cpioEntry struct {
	Name       string // without a leading slash
	Mode       uint32 // type and permission bits
	UID, GID   uint32
	RMaj, RMin uint32 // device numbers of a character device
	Data       []byte // file contents or symlink target
}

func (c *cpioWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// header writes one entry's header and name. Each entry gets a fresh inode
// number so that the kernel never treats two files as hard links.
func (c *cpioWriter) header(name string, mode, uid, gid, nlink uint32, size int, rmaj, rmin uint32) {
	c.ino++
	// 13 fields of 8 hex digits: ino, mode, uid, gid, nlink, mtime,
	// filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
	// mtime 0: the archive is the same bytes for the same inputs.
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, uid, gid, nlink, 0, size, 0, 0, rmaj, rmin, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
}

// Add writes one entry.
func (c *cpioWriter) Add(e cpioEntry) error {
	name := strings.TrimPrefix(e.Name, "/")
	if name == "" || strings.Contains(name, "\x00") {
		return fmt.Errorf("cpio: bad name %q", e.Name)
	}
	nlink := uint32(1)
	if e.Mode&0o170000 == cpioDir {
		nlink = 2
	}
	c.header(name, e.Mode, e.UID, e.GID, nlink, len(e.Data), e.RMaj, e.RMin)
	c.write(e.Data)
	c.pad()
	return c.err
}

// Close writes the trailer entry and flushes.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0, 1, 0, 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
