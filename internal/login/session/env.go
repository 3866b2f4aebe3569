package session

import (
	"slices"
	"strings"
)

// DefaultPath is every command's PATH. PAM may not change it: a module's
// PATH (or one from a user's pam_environment) would decide which program a
// bare command name runs.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// bannedEnv are the names PAM's environment never passes to a command:
// the fixed set (which PAM may not override), and variables that make the
// dynamic loader, the C library or the shell load or run something other
// than what the command line says (glibc's list of variables it drops for
// setuid programs, and the shell's start-up and parsing hooks).
var bannedEnv = map[string]bool{
	"HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "PATH": true,
	"GCONV_PATH": true, "GETCONF_DIR": true, "HOSTALIASES": true,
	"LOCALDOMAIN": true, "LOCPATH": true, "NIS_PATH": true, "NLSPATH": true,
	"RESOLV_HOST_CONF": true, "RES_OPTIONS": true, "TZDIR": true,
	"GLIBC_TUNABLES": true,
	"IFS":            true, "ENV": true, "BASH_ENV": true, "CDPATH": true,
	"PS4": true, "SHELLOPTS": true, "BASHOPTS": true, "GLOBIGNORE": true,
	"PROMPT_COMMAND": true,
}

// bannedPrefixes are families of such variables: the loader's (LD_PRELOAD,
// LD_LIBRARY_PATH, LD_AUDIT...) and malloc's debugging hooks.
var bannedPrefixes = []string{"LD_", "MALLOC_"}

// allowedEnv reports whether a variable from PAM may reach commands. A
// name must be a shell identifier: anything else (bash's exported
// functions, "BASH_FUNC_x%%") is refused with the rest.
func allowedEnv(name string) bool {
	if name == "" || bannedEnv[name] {
		return false
	}
	for _, p := range bannedPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// commandEnv is a command's whole environment: the fixed set for a, then
// PAM's variables that pass allowedEnv, sorted, each name once.
func commandEnv(a *Account, pamEnv []string) []string {
	env := []string{
		"HOME=" + a.Home,
		"USER=" + a.Name,
		"LOGNAME=" + a.Name,
		"SHELL=" + a.Shell,
		"PATH=" + DefaultPath,
	}
	var extra []string
	seen := map[string]bool{}
	for _, kv := range pamEnv {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || seen[name] || !allowedEnv(name) || strings.ContainsRune(kv, 0) {
			continue
		}
		seen[name] = true
		extra = append(extra, kv)
	}
	slices.Sort(extra)
	return append(env, extra...)
}
