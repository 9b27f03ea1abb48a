//go:build !cgo

// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. Without it (a build without cgo, or BERTH_SHIM_MONITOR=go) the
// shim supervises its container in Go to the end (monitor.go).

package shim

// haveCMonitor is false without cgo: the shim supervises its container
// in Go (monitor.superviseGo), at the price of a Go process's memory.
const haveCMonitor = false

func (m monitor) execC() {}
