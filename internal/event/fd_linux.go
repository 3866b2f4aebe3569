//go:build linux

package event

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenFD returns a stream writing to descriptor fd (--event-fd), which
// must be open and a pipe, a socket or a character device: a regular
// file would run into the supervisor's file-size limits after it enters
// its sandbox, and events would be lost. fd is made close-on-exec.
func OpenFD(fd int) (*Stream, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("event-fd %d: %w", fd, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
		unix.CloseOnExec(fd)
		return NewStream(os.NewFile(uintptr(fd), "events")), nil
	}
	return nil, fmt.Errorf("event-fd %d: not a pipe, socket or terminal", fd)
}
