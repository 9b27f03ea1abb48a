package cgroup

import (
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// The explain trace (01-namespaces/explain) of the cgroups that asked
// for one (Hierarchy.Explain), by the cgroup's name: the last element
// of each of its directories. The files are written deep in this
// package, by functions that take a directory and nothing else; this
// table lets each of them name its write in one line, and costs the
// cgroups without a trace one atomic load per write.
var traced struct {
	n     atomic.Int32
	names sync.Map // name -> *explain.Trace
}

// traceCgroup sends the steps on the cgroup name to t until untrace.
func traceCgroup(name string, t *explain.Trace) {
	if t == nil {
		return
	}
	traced.names.Store(name, t)
	traced.n.Add(1)
}

func untraceCgroup(name string) {
	if _, ok := traced.names.LoadAndDelete(name); ok {
		traced.n.Add(-1)
	}
}

// traceOf is the trace of the cgroup whose directory is dir, or nil.
func traceOf(dir string) *explain.Trace {
	if traced.n.Load() == 0 {
		return nil
	}
	t, _ := traced.names.Load(filepath.Base(dir))
	tr, _ := t.(*explain.Trace)
	return tr
}

// traceWrite names a write of value to dir/name: the cgroup's members,
// its device rules, or a limit.
func traceWrite(dir, name, value string) {
	t := traceOf(dir)
	if t == nil {
		return
	}
	s := explain.Limits
	switch {
	case name == "cgroup.procs":
		s = explain.Cgroups
	case strings.HasPrefix(name, "devices."):
		s = explain.Devices
	}
	t.Write(s, filepath.Join(dir, name), value)
}

// traceMkdir names the making of a cgroup's directory.
func traceMkdir(path string) {
	traceOf(path).Step(explain.Cgroups, "mkdir", path)
}
