// Package manuals holds no code: its tests keep the manual pages in man/
// and the shell completions in contrib/completion/ in step with the
// binaries. They build ndhc, ifchd, netlogind and netlogin, read the flags
// each prints for -h (and for -h of each subcommand), and fail when a flag
// or subcommand is missing from its page or its completion, when a page
// documents a flag that no longer exists, or when mandoc finds a warning.
package manuals
