package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openReadyFD checks the --ready-fd descriptor: open, and a pipe, a socket
// or a character device, like --event-fd's (a regular file would meet the
// supervisor's file-size limit). It is made close-on-exec: no role gets it.
func openReadyFD(fd int) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("ready-fd %d: %w", fd, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
		unix.CloseOnExec(fd)
		return os.NewFile(uintptr(fd), "ready"), nil
	}
	return nil, fmt.Errorf("ready-fd %d: not a pipe, socket or terminal", fd)
}
