package dhcp

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrChecksum reports an IPv4 header or UDP checksum that does not verify.
// Callers may count these separately from other malformed frames.
var ErrChecksum = errors.New("dhcp: bad checksum")

// OptionError reports a malformed option: its code and what is wrong with it.
type OptionError struct {
	Code OptionCode
	Err  error
}

// Error implements error.
func (e *OptionError) Error() string {
	s := "dhcp: option " + strconv.Itoa(int(e.Code))
	if name := e.Code.String(); name != "option "+strconv.Itoa(int(e.Code)) {
		s += " (" + name + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OptionError) Unwrap() error { return e.Err }

// errTruncated wraps io.ErrUnexpectedEOF with what was being read.
func errTruncated(what string) error {
	return fmt.Errorf("dhcp: truncated %s: %w", what, io.ErrUnexpectedEOF)
}

// errShort is errTruncated for the inner error of an OptionError.
func errShort(what string) error {
	return fmt.Errorf("truncated %s: %w", what, io.ErrUnexpectedEOF)
}

// errWrongLen is the inner error of an OptionError for a fixed-size option
// of the wrong size.
func errWrongLen(got int, want string) error {
	return fmt.Errorf("length %d, want %s", got, want)
}
