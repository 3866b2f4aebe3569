// Package exitcode is the one table of ndhc's exit statuses: the
// supervisor's, which users and service managers see, and each role's,
// which the supervisor reads.
package exitcode

// Exit statuses.
const (
	// OK: done as asked (a one-shot lease bound, a stop signal, a
	// command that found nothing wrong).
	OK = 0
	// Failure: a runtime failure, or a command (audit, status) that
	// found a problem.
	Failure = 1
	// Usage: a bad command line or configuration file, or something the
	// operator must fix before starting (no such interface, no role
	// users, a state directory that is not ndhc's).
	Usage = 2
	// RoleDied: a role exited unexpectedly; the supervisor stopped the
	// others. The service manager restarts.
	RoleDied = 3
	// Sandbox: a role could not enter its sandbox.
	Sandbox = 4
	// NoLease: one-shot mode gave up after its timeout without a lease;
	// nothing was configured or released.
	NoLease = 5
	// Threads: a role could not create a thread: its user's thread budget
	// (RLIMIT_NPROC, counted over every process of that user) was spent.
	Threads = 6
)
