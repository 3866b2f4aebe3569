// Package memaccount is the memory account of a Go process as its runtime
// sees it: one line of text with the runtime/metrics memory classes, which
// a diagnostic build (build tag memaccount) of ndhc writes to stderr after
// each trim, and which tools/startprobe -memaccount reads back to print
// where each role's memory goes. Release builds never write it.
package memaccount

import (
	"errors"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Tag starts every account line.
const Tag = "memaccount"

// Classes are the runtime's memory classes an account reports, by the
// short name the line uses. The runtime counts memory it has mapped and
// made ready, whether or not it is resident, so a class can exceed its
// share of the resident set (the unused parts of a span are never touched
// until an object lands there).
var Classes = []struct{ Name, Metric string }{
	{"heap-objects", "/memory/classes/heap/objects:bytes"},
	{"heap-unused", "/memory/classes/heap/unused:bytes"},
	{"heap-free", "/memory/classes/heap/free:bytes"},
	{"stacks", "/memory/classes/heap/stacks:bytes"},
	{"os-stacks", "/memory/classes/os-stacks:bytes"},
	{"mspan", "/memory/classes/metadata/mspan/inuse:bytes"},
	{"mcache", "/memory/classes/metadata/mcache/inuse:bytes"},
	{"metadata-other", "/memory/classes/metadata/other:bytes"},
	{"other", "/memory/classes/other:bytes"},
	{"released", "/memory/classes/heap/released:bytes"},
	{"gc-cycles", "/gc/cycles/total:gc-cycles"},
	{"goroutines", "/sched/goroutines:goroutines"},
}

// Line returns this process's account: "memaccount pid=N name=value ...",
// bytes for the memory classes.
func Line() string {
	ss := make([]metrics.Sample, len(Classes))
	for i, c := range Classes {
		ss[i].Name = c.Metric
	}
	metrics.Read(ss)
	var b strings.Builder
	b.WriteString(Tag + " pid=" + strconv.Itoa(os.Getpid()))
	for i, c := range Classes {
		var v uint64
		if ss[i].Value.Kind() == metrics.KindUint64 {
			v = ss[i].Value.Uint64()
		}
		b.WriteString(" " + c.Name + "=" + strconv.FormatUint(v, 10))
	}
	return b.String()
}

// Parse finds an account in a line of a daemon's output (a role's lines
// come with the supervisor's "role[pid]: " in front) and returns its pid
// and values. It reports false for a line without an account.
func Parse(line string) (pid int, values map[string]uint64, ok bool, err error) {
	i := strings.Index(line, Tag+" pid=")
	if i < 0 {
		return 0, nil, false, nil
	}
	f := strings.Fields(line[i+len(Tag):])
	values = map[string]uint64{}
	for _, kv := range f {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return 0, nil, true, errors.New("memaccount: field " + strconv.Quote(kv) + " is not name=value")
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, nil, true, errors.New("memaccount: field " + strconv.Quote(kv) + ": not a number")
		}
		if k == "pid" {
			pid = int(n)
			continue
		}
		values[k] = n
	}
	if pid <= 0 {
		return 0, nil, true, errors.New("memaccount: no pid")
	}
	return pid, values, true, nil
}
