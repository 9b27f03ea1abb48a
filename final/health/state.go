package health

import (
	"time"

	"github.com/moby/moby/api/types/container"
)

// Result is one check's outcome: exit code 0 passes, anything else
// fails (-1: it timed out, or could not run).
type Result struct {
	Start, End time.Time
	ExitCode   int
	Output     string
}

// State is a container's health during one run, and the log that
// outlives it. It is a value without locks or timers: its owner (the
// daemon's monitor) serialises the calls and owns the clock, so the
// rules below are tested with made-up times.
type State struct {
	// Status is Starting until a check passes or Retries fail in a row
	// outside the start period.
	Status container.HealthStatus
	// FailingStreak counts the failures since the last success, but
	// not those in the start period while Status is Starting: a slow
	// start is not a failure.
	FailingStreak int
	// Log holds the last MaxLog results, oldest first.
	Log []Result

	// started is when the container's run began: the start period
	// counts from there.
	started time.Time
}

// Restart begins a run of the container at t: the status is Starting
// again and the streak 0, the log kept, as dockerd does at each start
// (and when it starts with containers still running).
func (s *State) Restart(t time.Time) {
	s.Status, s.FailingStreak, s.started = Starting, 0, t
}

// Record applies r and reports whether the status changed (the daemon
// emits a health_status event then).
func (s *State) Record(sch Schedule, r Result) bool {
	before := s.Status
	if len(r.Output) > MaxOutput {
		r.Output = r.Output[:MaxOutput] + "..."
	}
	s.Log = append(s.Log, r)
	if n := len(s.Log); n > MaxLog {
		s.Log = append(s.Log[:0:0], s.Log[n-MaxLog:]...)
	}
	switch {
	case r.ExitCode == 0:
		s.FailingStreak = 0
		s.Status = Healthy
	case s.Status == Starting && r.Start.Sub(s.started) < sch.StartPeriod:
		// In the start period, before any success: not counted.
	default:
		s.FailingStreak++
		if s.FailingStreak >= sch.Retries {
			s.Status = Unhealthy
		}
	}
	return s.Status != before
}

// Next is the wait from now to the next check: the start interval while
// the container is Starting within its start period, the interval
// otherwise.
func (s *State) Next(sch Schedule, now time.Time) time.Duration {
	if s.Status == Starting && now.Sub(s.started) < sch.StartPeriod {
		return sch.StartInterval
	}
	return sch.Interval
}

// Docker is the state as inspect's State.Health shows it.
func (s *State) Docker() *container.Health {
	h := &container.Health{Status: s.Status, FailingStreak: s.FailingStreak, Log: make([]*container.HealthcheckResult, 0, len(s.Log))}
	for _, r := range s.Log {
		h.Log = append(h.Log, &container.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
	}
	return h
}

// FromDocker is the inverse of Docker, for a state read back from disk.
func FromDocker(h *container.Health) State {
	s := State{Status: h.Status, FailingStreak: h.FailingStreak}
	for _, r := range h.Log {
		if r != nil {
			s.Log = append(s.Log, Result{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
		}
	}
	return s
}
