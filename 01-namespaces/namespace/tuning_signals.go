// Engine tuning: skip on first reading. ForwardSignals (process.go) is
// the lesson; this only lets a caller pay for it earlier.

package namespace

import (
	"os"
	"os/signal"
)

// Signals caught before there is a process to forward them to.
//
// The first signal.Notify of a program is slow: for each signal, the Go
// runtime hands the change of the signal mask to a thread of its own and
// waits for it to be done, a round trip between two threads per signal,
// some 0.2 to 0.5 ms for ForwardSignals' nine. A later Notify of the same
// signals only adds a channel. A runtime that creates a container and
// then waits for it (berth-runtime run) pays that between create and
// start, on the path of every container; with CatchSignals it pays it
// in a goroutine while create runs, and Handover then costs nothing:
//
//	go CatchSignals()  ── Notify(early, forwarded...)  (the slow part)
//	Start, setup ...                                  signals land in early
//	Handover(p)        ── p.ForwardSignals() (cheap), then what early
//	                      caught goes to p, and early is dropped
//
// A signal that arrives between the two Notify's ends is in both
// channels and reaches the process twice; without early, it would have
// ended the caller instead (the default action).

// EarlySignals holds the forwarded signals caught before a process
// exists.
type EarlySignals struct {
	ch chan os.Signal
}

// CatchSignals starts catching the signals ForwardSignals forwards.
// Hand them over to a process with Handover, or drop them with Stop.
func CatchSignals() *EarlySignals {
	e := &EarlySignals{ch: make(chan os.Signal, len(forwarded))}
	signal.Notify(e.ch, forwarded...)
	return e
}

// Handover forwards the signals to p from now on, as ForwardSignals
// does (stop ends it), and sends p those caught so far.
func (e *EarlySignals) Handover(p *Process) (stop func()) {
	stop = p.ForwardSignals()
	signal.Stop(e.ch)
	for {
		select {
		case sig := <-e.ch:
			_ = p.cmd.Process.Signal(sig)
		default:
			return stop
		}
	}
}

// Stop stops catching: the signals have their default action again,
// and those caught are dropped.
func (e *EarlySignals) Stop() { signal.Stop(e.ch) }
