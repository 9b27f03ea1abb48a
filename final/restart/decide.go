package restart

import "time"

// The decisions, as dockerd makes them (its restartmanager and the
// daemon's exit handler and restore): pure functions of what is known,
// so that each rule is one line of a table test.

const (
	// FirstDelay is the wait before the first restart of a series.
	FirstDelay = 100 * time.Millisecond
	// MaxDelay caps the doubling: a container that fails at once is
	// started again once a minute, for ever (always) or until its
	// retries are spent (on-failure:N).
	MaxDelay = time.Minute
	// ResetAfter is how long a run must have lasted for the series to
	// end: the next restart waits FirstDelay again. The restart count
	// is not reset by it (only a manual start resets that).
	ResetAfter = 10 * time.Second
)

// ShouldRestart decides, at the end of a run, whether the policy
// restarts the container:
//
//   - no: never.
//   - always: yes.
//   - unless-stopped: yes, unless a user stopped it (stopped).
//   - on-failure[:N]: for a non-zero status only, and while fewer than N
//     restarts were made since the last manual start (count); N = 0
//     means no bound.
//
// stopped is a user's stop or kill since the last manual start. A stop
// also cancels the restarts of any policy until the next manual start
// (the Manager's cancellation, dockerd's ExitOnNext), which is checked
// before this rule; stopped alone remains for the kills that do not
// cancel (a signal other than the container's stop signal) and for
// AtDaemonStart.
func ShouldRestart(p Policy, count, code int, stopped bool) bool {
	switch {
	case p.IsAlways():
		return true
	case p.IsUnlessStopped():
		return !stopped
	case p.IsOnFailure():
		return code != 0 && (p.MaximumRetryCount == 0 || count < p.MaximumRetryCount)
	}
	return false
}

// AtDaemonStart decides whether a daemon that starts starts a container
// that is not running: one that exited while no daemon ran, or that was
// stopped. It is dockerd's restore, the same rule as ShouldRestart with
// no cancellation (that lived in the last daemon's memory): always
// starts whatever stopped it (a stopped "always" container comes back
// with the daemon, as Docker documents); unless-stopped only if no user
// stopped it; on-failure if its last status was a failure and its
// retries are not spent (a user's stop does not count: dockerd does not
// look at it for on-failure, and a stop's SIGTERM or SIGKILL is a
// non-zero status). A container that never ran (created, or its first
// start failed) is not started.
func AtDaemonStart(p Policy, count, code int, stopped, ranBefore bool) bool {
	return ranBefore && ShouldRestart(p, count, code, stopped)
}

// NextDelay is the back-off before a restart: FirstDelay for the first
// of a series (last is 0) and after a run of at least ResetAfter, twice
// the last one otherwise, never more than MaxDelay.
//
//	run  ran   delay
//	1    1s    100ms
//	2    1s    200ms
//	3    1s    400ms
//	...        ... 1m, 1m, 1m
//	k    12s   100ms   (a run of 10 s or more starts a new series)
func NextDelay(last, ran time.Duration) time.Duration {
	if last == 0 || ran >= ResetAfter {
		return FirstDelay
	}
	return min(2*last, MaxDelay)
}
