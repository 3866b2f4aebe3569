package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"syscall"
)

// maxResolvSize bounds what is read of resolv.conf and of its head and tail
// files, and what is written.
const maxResolvSize = 64 << 10

// ResolvConf rewrites resolv.conf through a descriptor opened before the
// sandbox is entered, so that ifch needs no path access afterwards.
//
// The choice, and its trade-off: the file is rewritten in place through the
// held descriptor, not by writing a temporary file and renaming it. A rename
// would give readers an atomic switch, but it needs a directory descriptor,
// openat, renameat and unlinkat after the drop, a Landlock write rule on that
// directory, and a directory no one else can write to (or symlink races
// follow); it would also replace a resolv.conf symlink managed by another
// tool. In place, ifch keeps one regular file and nothing else. To keep what
// readers can see sane, Write never shrinks the file before writing: it
// writes the new content in a single pwrite at offset 0, padded with
// newlines up to the old length when it is shorter, and only then truncates
// to the new length. A reader therefore sees the old file, or the new file
// followed by blank lines, or the new file; a reader racing the pwrite itself
// can in principle see a mix of old and new bytes within a page, which is the
// residual risk accepted here. If someone replaces the file by rename, ifch
// keeps writing to the old inode: that is the price of holding a descriptor.
type ResolvConf struct {
	f          *os.File
	head, tail []byte
	last       []byte // what the file held after the last write, or at open
}

// OpenResolvConf opens path for rewriting, creating it with mode 0644 when it
// does not exist and setting mode 0644 on it otherwise, and reads the
// optional head and tail files (path+".head", path+".tail"; a missing one is
// empty). Call it before entering the sandbox.
//
// A symlink at path is refused (O_NOFOLLOW on the last component): on a
// host where /etc/resolv.conf links to another tool's file (systemd-resolved's
// stub-resolv.conf, say), rewriting it would overwrite that tool's file.
func OpenResolvConf(path string) (*ResolvConf, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, syscall.ELOOP) {
		return nil, symlinkError(path)
	}
	if err != nil {
		return nil, fmt.Errorf("ifch: resolv.conf: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	var head, tail []byte
	if err == nil {
		head, err = readOptional(path + ".head")
	}
	if err == nil {
		tail, err = readOptional(path + ".tail")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ifch: resolv.conf: %w", err)
	}
	return NewResolvConf(f, head, tail)
}

// symlinkError names the symlink's target and the ways out.
func symlinkError(path string) error {
	target, err := os.Readlink(path)
	if err != nil {
		target = "(unreadable: " + err.Error() + ")"
	}
	return fmt.Errorf("ifch: resolv.conf: %s is a symlink to %s, another tool's file: refusing to overwrite it; "+
		"use --dns resolved where that tool is systemd-resolved, or --resolv-conf naming the real file to take it over", path, target)
}

// NewResolvConf wraps an open, writable regular file. head and tail are
// copied verbatim before and after the generated lines.
func NewResolvConf(f *os.File, head, tail []byte) (*ResolvConf, error) {
	cur, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, maxResolvSize+1), maxResolvSize+1))
	if err != nil {
		return nil, fmt.Errorf("ifch: resolv.conf: read: %w", err)
	}
	return &ResolvConf{f: f, head: bytes.Clone(head), tail: bytes.Clone(tail), last: cur}, nil
}

func readOptional(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResolvSize+1))
	if err == nil && len(b) > maxResolvSize {
		err = fmt.Errorf("%s is over %d bytes", path, maxResolvSize)
	}
	return b, err
}

// Close closes the held descriptor.
func (r *ResolvConf) Close() error { return r.f.Close() }

// Content returns the file content for the given servers and search list.
// The names must already be validated (ifch's policy does that); a domain
// without a search list is passed as a one-entry search list. There is no
// "domain" line: it and "search" are mutually exclusive in resolv.conf, the
// last one winning.
func (r *ResolvConf) Content(servers []netip.Addr, search []string) []byte {
	var b bytes.Buffer
	b.Write(r.head)
	if len(r.head) > 0 && r.head[len(r.head)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("# Written by ndhc-go ifch; changes are lost on the next lease.\n")
	for _, s := range servers {
		b.WriteString("nameserver " + s.String() + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	b.Write(r.tail)
	return b.Bytes()
}

// Write rewrites the file when its content changes; see ResolvConf for how.
func (r *ResolvConf) Write(servers []netip.Addr, search []string) error {
	content := r.Content(servers, search)
	if bytes.Equal(content, r.last) {
		return nil
	}
	if len(content) > maxResolvSize {
		return fmt.Errorf("ifch: resolv.conf: %d bytes is over %d", len(content), maxResolvSize)
	}
	// The old length is the one ifch knows (read at open, or written
	// since), which spares an fstat after the sandbox; if someone else
	// grew the file meanwhile, the truncate still removes what they added.
	buf := content
	if old := len(r.last); old > len(content) {
		buf = append(bytes.Clone(content), bytes.Repeat([]byte{'\n'}, old-len(content))...)
	}
	if _, err := r.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("ifch: resolv.conf: write: %w", err)
	}
	if err := r.f.Truncate(int64(len(content))); err != nil {
		return fmt.Errorf("ifch: resolv.conf: truncate: %w", err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("ifch: resolv.conf: sync: %w", err)
	}
	r.last = bytes.Clone(content)
	return nil
}
