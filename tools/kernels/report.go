package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// The guest's console protocol (guest/init.sh): result lines
// "@@ndhc-kernels KIND key=value ..." and raw output lines
// "@@ndhc-kernels-data STREAM TEXT". A marker is searched anywhere in a
// console line, not only at its start, because a kernel message can land
// in front of it on the same line.
const (
	markerPrefix = "@@ndhc-kernels "
	dataPrefix   = "@@ndhc-kernels-data "
)

// marker is one result line.
type marker struct {
	Kind   string
	Fields map[string]string
}

// guestReport is everything a guest said, in the order it said it.
type guestReport struct {
	Markers []marker
	Data    map[string][]string
}

// feed takes one console line (with or without its line ending).
func (g *guestReport) feed(line string) {
	line = strings.TrimRight(line, "\r\n")
	if i := strings.Index(line, dataPrefix); i >= 0 {
		rest := line[i+len(dataPrefix):]
		stream, text, _ := strings.Cut(rest, " ")
		if stream == "" {
			return
		}
		if g.Data == nil {
			g.Data = map[string][]string{}
		}
		g.Data[stream] = append(g.Data[stream], text)
		return
	}
	if i := strings.Index(line, markerPrefix); i >= 0 {
		if m, ok := parseMarker(line[i+len(markerPrefix):]); ok {
			g.Markers = append(g.Markers, m)
		}
	}
}

// parseMarker parses "KIND k=v k=v"; values never hold spaces (the guest
// only reports single words).
func parseMarker(s string) (marker, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return marker{}, false
	}
	m := marker{Kind: f[0], Fields: map[string]string{}}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		m.Fields[k] = v
	}
	return m, true
}

// first returns the first marker of a kind.
func (g *guestReport) first(kind string) (marker, bool) {
	for _, m := range g.Markers {
		if m.Kind == kind {
			return m, true
		}
	}
	return marker{}, false
}

// find returns the first marker of a kind whose field key has value v.
func (g *guestReport) find(kind, key, v string) (marker, bool) {
	for _, m := range g.Markers {
		if m.Kind == kind && m.Fields[key] == v {
			return m, true
		}
	}
	return marker{}, false
}

// stream returns a data stream joined back into text.
func (g *guestReport) stream(name string) string {
	lines := g.Data[name]
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

var seccompRecord = regexp.MustCompile(`\buid=(\d+) .*\barch=([0-9a-fA-F]+) syscall=(\d+)`)

// seccompKill is what an audit record of a seccomp kill says
// ("audit: type=1326 ... uid=104 ... arch=c000003e syscall=228 ...").
type seccompKill struct {
	User    string // the role user, from the guest's uid numbering
	Syscall string // its name, or its number if the table lacks it
}

func parseSeccomp(line string) (seccompKill, bool) {
	m := seccompRecord.FindStringSubmatch(line)
	if m == nil {
		return seccompKill{}, false
	}
	k := seccompKill{User: "uid " + m[1], Syscall: "syscall " + m[3]}
	if uid, err := strconv.Atoi(m[1]); err == nil {
		if uid == 0 {
			k.User = "root"
		} else if i := uid - firstRoleUID; i >= 0 && i < len(roleUsers) {
			k.User = roleUsers[i]
		}
	}
	var info *arch.Info
	switch strings.ToLower(m[2]) {
	case "c000003e":
		info = arch.X86_64
	case "c00000b7":
		info = arch.AARCH64
	}
	if nr, err := strconv.Atoi(m[3]); err == nil && info != nil {
		if name, ok := info.SyscallNumbers[nr]; ok {
			k.Syscall = name
		}
	}
	return k, true
}

// summarizeSeccomp counts kills by user and syscall, in first-seen order,
// as "ndhc-ifch: clock_gettime x3", so that dozens of records read as the
// two or three facts they are.
func summarizeSeccomp(lines []string) []string {
	counts := map[seccompKill]int{}
	var order []seccompKill
	for _, l := range lines {
		k, ok := parseSeccomp(l)
		if !ok {
			continue
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	out := make([]string, len(order))
	for i, k := range order {
		out[i] = fmt.Sprintf("%s: %s x%d", k.User, k.Syscall, counts[k])
	}
	return out
}
