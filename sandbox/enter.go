package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Layers that an operator may allow to be missing with [Options.Degrade].
// Every other layer is mandatory.
const (
	LayerLandlock = "landlock"
	LayerSeccomp  = "seccomp"
)

// Options tune how [Enter] applies a policy.
type Options struct {
	// Degrade names the layers (LayerLandlock, LayerSeccomp) that may be
	// skipped when the kernel cannot apply them. Using one is logged at
	// warning level.
	Degrade []string
	// Log receives the warnings; nil means slog.Default().
	Log *slog.Logger
	// ParentPID, when not zero, is the pid the role's parent must still
	// have once the parent-death signal is set again after the uid change.
	ParentPID int
	// TrimWhenQuiet, when positive, has [Inherited.Ready] call
	// [TrimWhenQuiet] with it once the ready notice is sent: the role
	// gives back its start-up's memory after that long without work.
	TrimWhenQuiet time.Duration
}

// ErrCgo is why [Enter] cannot work in a program linked with cgo: the
// capability, securebits and no_new_privs layers change every thread
// through syscall.AllThreadsSyscall, which refuses to run there. No layer
// can be degraded around it.
var ErrCgo = errors.New("per-thread state cannot be changed on every thread in a cgo build: build with CGO_ENABLED=0")

// CheckBuild returns [ErrCgo] in a program linked with cgo, where [Enter]
// always fails, and nil otherwise. A daemon calls it before it starts
// anything, to stop with one line rather than with one per role; Enter
// checks it too, before it changes anything.
func CheckBuild() error {
	if cgoBuild {
		return ErrCgo
	}
	return nil
}

// DefaultTrimQuiet is a quiet period for [TrimWhenQuiet] that suits a
// daemon whose work comes in bursts (a lease exchange, a configuration):
// long enough that a burst is over, short enough that the memory is back
// well before the next one.
const DefaultTrimQuiet = time.Second

// Report says what [Enter] did and what the kernel reports afterwards.
type Report struct {
	Role string `json:"role"`
	// Status is the main thread's /proc status after the last layer.
	Status Status `json:"status"`
	// ThreadsChecked counts the threads whose status was read back.
	ThreadsChecked int `json:"threads_checked"`
	// LandlockABI is the kernel's Landlock ABI (0: none).
	LandlockABI int `json:"landlock_abi"`
	// LandlockEnforced and LandlockMissing name the Landlock rights the
	// kernel enforced for this role and those it lacks.
	LandlockEnforced []string `json:"landlock_enforced"`
	LandlockMissing  []string `json:"landlock_missing,omitempty"`
	// SeccompInstructions is the size of the installed filter.
	SeccompInstructions int `json:"seccomp_instructions"`
	// Degraded lists the layers skipped under Options.Degrade.
	Degraded []string `json:"degraded,omitempty"`
}

// LayerError is returned when a layer of the sandbox cannot be applied.
type LayerError struct {
	Role  string
	Layer string
	Err   error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("sandbox: role %s: layer %s: %v", e.Role, e.Layer, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// ParseLayers parses an operator's comma-separated list of layers that may
// be missing (the value of a --allow-degraded-sandbox flag). The empty
// string is the empty list; anything but LayerLandlock and LayerSeccomp is
// an error.
func ParseLayers(s string) ([]string, error) {
	var out []string
	for _, d := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' }) {
		d = strings.TrimSpace(d)
		if d != LayerLandlock && d != LayerSeccomp {
			return nil, fmt.Errorf("sandbox: layer %q cannot be degraded: want %s and/or %s", d, LayerLandlock, LayerSeccomp)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}
