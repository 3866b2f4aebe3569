// Package policies holds the sandbox policy of every ndhc role as data: one
// file per role, each returning a [sandbox.Policy] literal with a reason on
// every allowlisted syscall. Nothing here installs anything; the roles pass
// these values to sandbox.Enter, and `ndhc policy` prints them.
//
// Callers may override User, Group and Chroot from the configuration; the
// capabilities, rlimits, Landlock rules and syscall lists are fixed.
//
// The policies are Linux data (syscall names and argument values of the
// running architecture), so the package is empty on other systems.
package policies
