// Engine tuning: skip on first reading. Without it, create does the same
// work, one step after the other.

package ociruntime

import "os"

// Work of create's that waits for nothing of the container's, done
// beside what does.
//
// Go's os package checks once per program, at its first start of a
// process, that the kernel's pidfd calls work: it opens a pidfd of
// itself, and clones and reaps a child that exits at once. Some 0.3 ms,
// which create would pay inside namespace.Start, between reading the
// bundle and init's fork, on the path of every container. Asked for in
// a goroutine as soon as create begins (os.FindProcess of this process
// makes the same check), it is done while the bundle is read.
func warmPidfdCheck() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
}

// initTuning is init's environment beyond the glibc tunable create.go
// sets, read by init's Go runtime only (the process gets process.env at
// the exec):
//
//   - GOGC=off: init lives for milliseconds and allocates a few hundred
//     kilobytes; a collection would be pure cost.
//   - GOMAXPROCS=1: init's work is one thread's (it is locked to it for
//     the namespaces and credentials); fewer threads start, and fewer
//     are there to be stopped when the process's execve ends them all.
var initTuning = []string{"GOGC=off", "GOMAXPROCS=1"}
