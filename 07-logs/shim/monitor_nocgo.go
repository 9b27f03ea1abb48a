//go:build !cgo

package shim

// haveCMonitor is false without cgo: the shim supervises its container
// in Go (monitor.superviseGo), at the price of a Go process's memory.
const haveCMonitor = false

func (m monitor) execC() {}
