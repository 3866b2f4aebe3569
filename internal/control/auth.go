package control

import "slices"

// Creds are a peer's credentials as the kernel gives them: SO_PEERCRED's
// uid and gid and SO_PEERGROUPS's supplementary groups.
type Creds struct {
	Uid, Gid uint32
	Groups   []uint32
}

// Access is what a peer may do.
type Access int

// Accesses.
const (
	// None: the connection is refused.
	None Access = iota
	// Query: show and wait.
	Query
	// Full: every operation.
	Full
)

// Authorize decides what a peer may do: root everything; a peer whose
// primary or supplementary groups hold the control group, queries; anyone
// else nothing. A control group of 0 (root, the default) admits root
// alone: being in group 0 grants nothing.
func Authorize(c Creds, group uint32) Access {
	switch {
	case c.Uid == 0:
		return Full
	case group != 0 && (c.Gid == group || slices.Contains(c.Groups, group)):
		return Query
	}
	return None
}

// Permits reports whether a holds the right to op.
func (a Access) Permits(op Op) bool {
	return a == Full || a == Query && op.ReadOnly()
}
