package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// ErrUnsupported is returned by every entry point that needs Linux when the
// program runs elsewhere.
var ErrUnsupported = errors.New("sandbox: not supported on this operating system")

// Policy describes one role completely. It is plain data: building one has
// no side effects, and [Policy.Validate] and [CompileSeccomp] can check it
// without privileges.
type Policy struct {
	// Role names the role in logs, reports and errors.
	Role string `json:"role"`
	// User and Group are the user and group the role runs as, by name or
	// by number. Root (0) is refused. Supplementary groups are always
	// cleared.
	User  string `json:"user"`
	Group string `json:"group"`
	// Chroot is the directory the role changes its root to; it should be
	// empty unless the role keeps files there. Required.
	Chroot string `json:"chroot"`
	// Caps lists the capabilities the role keeps in its permitted and
	// effective sets (for example "CAP_NET_RAW"). Every other capability is
	// removed from all five sets, and the bounding set holds only these.
	Caps []string `json:"caps"`
	// Rlimits are set before anything else.
	Rlimits []Rlimit `json:"rlimits"`
	// MemoryGrowth, when set, bounds how much memory the role can map
	// once it entered the sandbox: Enter sets RLIMIT_AS to the address
	// space the process holds at that point (the Go runtime reserves
	// about 1.2 GB of it at start-up, nearly all without access) plus
	// MemoryGrowth. Every later mapping counts against it, where
	// RLIMIT_DATA misses some of the runtime's (see the DATA limits of
	// the roles that use it). A role that reaches it dies of the
	// runtime's "out of memory". At least 128 MiB, since the runtime
	// reserves its heap 64 MiB arena at a time (a test role with 64 MiB
	// died growing its heap); not with an AS rlimit.
	MemoryGrowth uint64 `json:"memory_growth,omitempty"`
	// GoMaxProcs, when not zero, is the number of Ps (GOMAXPROCS) the
	// role's Go runtime schedules on. [Spawn] puts it in the child's
	// environment, so that the runtime sizes its scheduler before main
	// runs; [Enter] sets it in a process that was not spawned. A role
	// that waits on a few descriptors needs one: every further P is
	// another per-P cache and, under load, another OS thread, each with
	// its stacks (measured: a quarter of a megabyte of private memory and
	// one thread per role). It is not a sandbox layer: nothing depends on
	// it for safety.
	GoMaxProcs int `json:"go_max_procs,omitempty"`
	// Umask is the file mode creation mask.
	Umask uint32 `json:"umask"`
	// Landlock restricts filesystem and network access and scopes IPC.
	Landlock Landlock `json:"landlock"`
	// Seccomp is the syscall allowlist; everything else kills the process.
	// With SeccompDefaultAllow it is a deny list instead.
	Seccomp []Syscall `json:"seccomp"`
	// SeccompDefaultAllow turns Seccomp into a deny list: the listed
	// syscalls (under their conditions) fail with ENOSYS and every other
	// syscall is allowed. It exists for a role whose job is to run
	// programs it does not know (a hook): an allowlist would have to
	// cover every program's syscalls. The filter is still installed
	// (seccomp mode 2, inherited across execve, no_new_privs), and the
	// policy and audit reports say "default allow" loudly. Never set it
	// for a role that parses untrusted input.
	SeccompDefaultAllow bool `json:"seccomp_default_allow,omitempty"`
}

// ApplyRuntime sets in the running process what p says of the Go runtime
// (GoMaxProcs). [Enter] calls it; a parent that enters its sandbox only
// after starting its children calls it first, so that it starts them
// with the Ps it will keep. A spawned child already started with them
// (Spawn's environment): then it changes nothing and stops no world.
func ApplyRuntime(p *Policy) {
	if p.GoMaxProcs > 0 && runtime.GOMAXPROCS(0) != p.GoMaxProcs {
		runtime.GOMAXPROCS(p.GoMaxProcs)
	}
}

// MaxGoMaxProcs bounds [Policy.GoMaxProcs].
const MaxGoMaxProcs = 1024

// Unlimited is an Rlimit's Max for no limit (RLIM_INFINITY).
const Unlimited = ^uint64(0)

// Rlimit is one resource limit, soft and hard set to Max.
type Rlimit struct {
	// Resource is the limit's name without the RLIMIT_ prefix: NPROC,
	// CORE, NOFILE, FSIZE, ...
	Resource string `json:"resource"`
	Max      uint64 `json:"max"`
}

// Landlock lists what a role may still reach once Landlock handles every
// right the kernel knows. Paths are resolved after the chroot, so "/" is the
// chroot directory itself. An empty value denies all filesystem access, all
// TCP bind and connect, and (where the kernel scopes them) signals to and
// abstract UNIX sockets of processes outside the role.
type Landlock struct {
	RODirs  []string `json:"ro_dirs,omitempty"`
	RWDirs  []string `json:"rw_dirs,omitempty"`
	ROFiles []string `json:"ro_files,omitempty"`
	RWFiles []string `json:"rw_files,omitempty"`
	// ConnectUnix are the pathname UNIX sockets the role may connect to
	// (resolve_unix, ABI 9; older kernels do not govern that connect).
	ConnectUnix []string `json:"connect_unix,omitempty"`
	// BindTCP and ConnectTCP are the TCP ports the role may bind and
	// connect to (ABI 4).
	BindTCP    []uint16 `json:"bind_tcp,omitempty"`
	ConnectTCP []uint16 `json:"connect_tcp,omitempty"`
	// BindUDP and SendUDP are the UDP ports the role may bind and
	// connect or send to (ABI 10).
	BindUDP []uint16 `json:"bind_udp,omitempty"`
	SendUDP []uint16 `json:"send_udp,omitempty"`
	// AllowSignalsOut and AllowAbstractOut turn off scoping of signals and
	// abstract UNIX sockets (ABI 6). Both are scoped unless set.
	AllowSignalsOut  bool `json:"allow_signals_out,omitempty"`
	AllowAbstractOut bool `json:"allow_abstract_out,omitempty"`
	// AllowNetwork leaves the network rights (TCP and UDP bind and
	// connect) unhandled: the role binds and connects as its user may.
	// The port lists must then be empty. For a role that runs programs
	// it does not know (a hook posting to a web service, say).
	AllowNetwork bool `json:"allow_network,omitempty"`
}

// Syscall is one allowlist entry. Why says who needs it; policies must give
// a reason for every entry. When Any is empty the syscall is allowed with any
// arguments; otherwise it is allowed when at least one of the condition
// lists holds, each list being a conjunction.
type Syscall struct {
	Name string   `json:"name"`
	Why  string   `json:"why"`
	Any  [][]Cond `json:"any,omitempty"`
}

// Op is a comparison of a syscall argument with a value.
type Op string

// The comparisons a Cond can make. BitsSet holds when all bits of Value are
// set in the argument; BitsClear when none are.
const (
	Eq        Op = "=="
	Ne        Op = "!="
	Lt        Op = "<"
	Le        Op = "<="
	Gt        Op = ">"
	Ge        Op = ">="
	BitsSet   Op = "&=="
	BitsClear Op = "&!="
)

// Cond is one condition on syscall argument Arg (0..5). Label names Value
// for people (for example "AF_PACKET"); it does not change the filter.
type Cond struct {
	Arg   int    `json:"arg"`
	Op    Op     `json:"op"`
	Value uint64 `json:"value"`
	Label string `json:"label,omitempty"`
	// Self compares with the process id of the process that installs the
	// filter (getpid() at Enter) instead of Value, which must be zero:
	// tgkill(getpid(), ...) reaches the role's own threads only.
	Self bool `json:"self,omitempty"`
}

// String renders a condition as "arg0 == AF_PACKET(17)".
func (c Cond) String() string {
	if c.Self {
		return fmt.Sprintf("arg%d %s getpid()", c.Arg, c.Op)
	}
	v := fmt.Sprintf("%#x", c.Value)
	if c.Value < 4096 {
		v = fmt.Sprintf("%d", c.Value)
	}
	if c.Label != "" {
		v = c.Label + "(" + v + ")"
	}
	return fmt.Sprintf("arg%d %s %s", c.Arg, c.Op, v)
}

// Allow is shorthand for an unconditional allowlist entry.
func Allow(name, why string) Syscall { return Syscall{Name: name, Why: why} }

// AllowIf is shorthand for an entry allowed when any of the condition lists
// holds.
func AllowIf(name, why string, any ...[]Cond) Syscall {
	return Syscall{Name: name, Why: why, Any: any}
}

// Arg is shorthand for a list holding the single condition arg op value.
func Arg(arg int, op Op, value uint64, label string) []Cond {
	return []Cond{{Arg: arg, Op: op, Value: value, Label: label}}
}

// Validate reports the first inconsistency in p: a missing user, group,
// chroot or reason, an unknown capability, rlimit or syscall, a duplicate
// entry, or a malformed condition.
func (p *Policy) Validate() error {
	if p.Role == "" {
		return errors.New("sandbox: policy without a role name")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("sandbox: policy %s: %s", p.Role, fmt.Sprintf(format, args...))
	}
	if p.User == "" || p.Group == "" {
		return bad("user and group are required")
	}
	if p.User == "0" || p.User == "root" || p.Group == "0" || p.Group == "root" {
		return bad("refusing to run a role as root (user %q, group %q)", p.User, p.Group)
	}
	if p.Chroot == "" || !strings.HasPrefix(p.Chroot, "/") {
		return bad("chroot must be an absolute directory, got %q", p.Chroot)
	}
	seen := map[string]bool{}
	for _, c := range p.Caps {
		if _, ok := capByName[c]; !ok {
			return bad("unknown capability %q", c)
		}
		if seen[c] {
			return bad("capability %s listed twice", c)
		}
		seen[c] = true
	}
	clear(seen)
	for _, r := range p.Rlimits {
		if _, ok := rlimitByName[r.Resource]; !ok {
			return bad("unknown rlimit %q", r.Resource)
		}
		if seen[r.Resource] {
			return bad("rlimit %s listed twice", r.Resource)
		}
		seen[r.Resource] = true
	}
	if p.MemoryGrowth != 0 && (p.MemoryGrowth < 128<<20 || seen["AS"]) {
		return bad("memory_growth %d: at least 128 MiB, and no AS rlimit besides", p.MemoryGrowth)
	}
	if p.GoMaxProcs < 0 || p.GoMaxProcs > MaxGoMaxProcs {
		return bad("go_max_procs %d: want 0 (the runtime's default) to %d", p.GoMaxProcs, MaxGoMaxProcs)
	}
	if p.Umask > 0o777 {
		return bad("umask %#o out of range", p.Umask)
	}
	for _, list := range [][]string{p.Landlock.RODirs, p.Landlock.RWDirs, p.Landlock.ROFiles, p.Landlock.RWFiles, p.Landlock.ConnectUnix} {
		for _, path := range list {
			if !strings.HasPrefix(path, "/") {
				return bad("landlock path %q is not absolute", path)
			}
		}
	}
	if p.SeccompDefaultAllow && len(p.Caps) > 0 {
		// A deny list cannot bound what a capability reaches; only an
		// allowlist can (the hostname role's CAP_SYS_ADMIN).
		return bad("seccomp_default_allow with capabilities %v: a capability needs an allowlist to bound it", p.Caps)
	}
	l := p.Landlock
	if l.AllowNetwork && len(l.BindTCP)+len(l.ConnectTCP)+len(l.BindUDP)+len(l.SendUDP) > 0 {
		return bad("landlock allow_network with port rules: the ports would not be enforced")
	}
	clear(seen)
	for _, s := range p.Seccomp {
		if _, ok := syscallNumber(s.Name); !ok {
			return bad("unknown syscall %q", s.Name)
		}
		if seen[s.Name] {
			return bad("syscall %s listed twice (merge its conditions into one entry)", s.Name)
		}
		seen[s.Name] = true
		if strings.TrimSpace(s.Why) == "" {
			return bad("syscall %s has no reason", s.Name)
		}
		for _, list := range s.Any {
			if len(list) == 0 {
				return bad("syscall %s has an empty condition list", s.Name)
			}
			for _, c := range list {
				if c.Arg < 0 || c.Arg > 5 {
					return bad("syscall %s: argument %d out of range", s.Name, c.Arg)
				}
				if _, ok := seccompOps[c.Op]; !ok {
					return bad("syscall %s: unknown operation %q", s.Name, c.Op)
				}
				if c.Self && (c.Value != 0 || c.Op != Eq) {
					return bad("syscall %s: a getpid() condition compares with == and has no value", s.Name)
				}
			}
		}
	}
	return nil
}

// SyscallNames returns the names in p's allowlist, sorted.
func (p *Policy) SyscallNames() []string {
	names := make([]string, 0, len(p.Seccomp))
	for _, s := range p.Seccomp {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// Allows reports whether p's allowlist has an entry for the syscall name
// (with or without conditions).
func (p *Policy) Allows(name string) bool {
	return slices.ContainsFunc(p.Seccomp, func(s Syscall) bool { return s.Name == name })
}
