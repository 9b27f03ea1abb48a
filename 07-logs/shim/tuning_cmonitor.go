// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without it the shim supervises its container in Go to the end
// (monitor.go's superviseGo), and the container runs just the same.

package shim

import (
	"os"
	"time"
)

// cMonitorAfter is how long a shim supervises its container in Go before
// it replaces itself with the C monitor (tuning_cmonitor.c). The C
// monitor is there for memory: a Go process costs some 10 MiB for as long as the
// container runs, the C monitor under 2. But its start (an execve of this
// big binary, the dynamic loader, a log file opened again) costs a
// millisecond or two of CPU, and for a container that exits at once
// (`docker run --rm IMAGE true`) it comes right when the exit should be
// reported. A container that ends within this time never needs it.
const cMonitorAfter = 100 * time.Millisecond

// handsOver reports whether the shim may give the container to the C
// monitor after cMonitorAfter: only without stdin and terminal, whose
// forwarding cannot be stopped half-way, and with pipes whose reads can
// be interrupted (a read deadline) without closing them.
func (m monitor) handsOver() bool {
	if m.in != nil || m.console != nil {
		return false
	}
	for _, f := range []*os.File{m.out, m.err} {
		if f != nil && f.SetReadDeadline(time.Time{}) != nil {
			return false
		}
	}
	return true
}

// handOverToC is the shim's memory tuning: it supervises the container
// in Go for its first cMonitorAfter, then replaces the shim with the C
// monitor (execC, tuning_cmonitor.c), which never comes back. It returns
// true if the container ended while Go watched it, and false if Go must
// supervise it to its end: no C monitor in this build, MonitorEnv "go",
// or an execve that failed. With MonitorEnv "c" it hands over at once.
func (m monitor) handOverToC() (ended bool) {
	mode := os.Getenv(MonitorEnv)
	if !haveCMonitor || mode == "go" {
		return false
	}
	if mode != "c" && m.handsOver() && m.superviseGo(cMonitorAfter) {
		return true
	}
	m.execC() // returns only if execve failed: carry on in Go
	return false
}
