package restart

import (
	"sync"
	"time"
)

// Clock is what a Manager needs of time: a timer that calls a function.
// The daemon uses System; tests use a fake they move forward by hand, so
// that no test sleeps through a back-off.
type Clock interface {
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer of a Clock.
type Timer interface {
	// Stop stops the timer; false if it has fired (or was stopped).
	Stop() bool
}

type systemClock struct{}

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// System is the real clock.
var System Clock = systemClock{}

// Manager applies one container's restart policy. The daemon tells it
// what happens to the container (Exited, Stop, ManualStart, Started,
// SetPolicy) and asks it what to show (Status, Count, Policy); when an
// exit is to be restarted, the Manager calls the daemon's start after
// the back-off, from a timer's goroutine.
//
// Its Record is written to the container's directory at each change;
// the rest (the back-off, the timer, the status) lives only as long as
// the daemon, as in dockerd.
type Manager struct {
	dir   string
	clock Clock

	// startMu is held while the daemon's start runs (Starting): a stop
	// or a removal waits for it, then deals with a running container.
	startMu sync.Mutex

	mu        sync.Mutex
	rec       Record
	status    Status
	delay     time.Duration // the last back-off; 0 before the first restart of a series
	timer     Timer
	cancelled bool // stopped, removed or closed: no restart until ManualStart
}

// Open returns the Manager of the container whose directory is dir,
// created with policy. Its record, if the container has one, says the
// policy now (after updates), the restart count and the stop flag. A
// record that cannot be read is reported, and the Manager starts afresh
// from policy, as a container that never restarted.
func Open(dir string, policy Policy, clock Clock) (*Manager, error) {
	rec, ok, err := load(dir)
	if !ok {
		rec = Record{Policy: policy}
	}
	return &Manager{dir: dir, clock: clock, rec: rec}, err
}

// Policy is the container's restart policy now.
func (m *Manager) Policy() Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec.Policy
}

// Count is inspect's RestartCount: the restarts since the last manual
// start.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec.Count
}

// Status is where the container stands (see Status).
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Decision is what Exited decided.
type Decision struct {
	Restart bool
	Delay   time.Duration // the back-off before the start
}

// Exited is told of the end of a run: its status and how long it ran.
// If the policy restarts it, the count goes up (as dockerd counts: at
// the decision, before the back-off), and start is called after the
// back-off from a goroutine of the clock, unless a stop, a removal or
// Close comes first. start must call Started when its start has ended,
// whether it succeeded or not.
func (m *Manager) Exited(code int, ran time.Duration, start func()) (Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Starting: the run that the restart started has ended already,
	// before its start returned (a command that exits at once); it is
	// an exit like any other.
	if m.status == BackingOff || m.cancelled || !ShouldRestart(m.rec.Policy, m.rec.Count, code, m.rec.Stopped) {
		return Decision{}, nil
	}
	m.delay = NextDelay(m.delay, ran)
	m.rec.Count++
	m.status = BackingOff
	m.timer = m.clock.AfterFunc(m.delay, func() { m.fire(start) })
	return Decision{Restart: true, Delay: m.delay}, save(m.dir, m.rec)
}

// fire is the end of the back-off: the daemon's start, if nothing
// cancelled it meanwhile.
func (m *Manager) fire(start func()) {
	m.startMu.Lock()
	defer m.startMu.Unlock()
	m.mu.Lock()
	if m.status != BackingOff || m.cancelled {
		m.mu.Unlock()
		return
	}
	m.status = Starting
	m.timer = nil
	m.mu.Unlock()
	start()
}

// Started ends a start that the Manager asked for (Starting): the
// container runs again, or its start failed and it stays stopped with
// the status of that failure: dockerd does not try again after a start
// that fails, the restart manager waits for exits only.
func (m *Manager) Started() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == Starting {
		m.status = Watching
	}
}

// Stop is a user's docker stop, or a docker kill with SIGKILL or the
// container's stop signal (any signal if it has none): no restart until
// the next manual start, and unless-stopped stays stopped across daemon
// restarts. It reports whether a restart was pending (BackingOff): the
// container is then stopped with the status of its last exit, and the
// caller has nothing to signal. A start under way (Starting) is waited
// for first: the caller stops the run it started.
func (m *Manager) Stop() (pending bool, err error) {
	pending = m.cancel()
	return pending, m.MarkStopped()
}

// MarkStopped is a docker kill with another signal: dockerd records the
// user's stop (unless-stopped will not restart the container, now or
// after a daemon restart) but cancels nothing (always restarts it if the
// signal ends it).
func (m *Manager) MarkStopped() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rec.Stopped {
		return nil
	}
	m.rec.Stopped = true
	return save(m.dir, m.rec)
}

// Cancel is Stop without the record: for a removal, and for a daemon
// that closes (the next daemon decides again, AtDaemonStart). It reports
// whether a restart was pending.
func (m *Manager) Cancel() bool { return m.cancel() }

func (m *Manager) cancel() bool {
	m.mu.Lock()
	m.cancelled = true
	pending := m.status == BackingOff
	if pending {
		m.timer.Stop()
		m.timer = nil
		m.status = Watching
	}
	m.mu.Unlock()
	// A start under way ends before the caller goes on.
	m.startMu.Lock()
	m.startMu.Unlock() //nolint:staticcheck // an empty critical section: waiting for fire
	return pending
}

// ManualStart is a user's docker start (or restart), or the daemon's
// start of the container when it starts (AtDaemonStart): a new series,
// as dockerd resets the restart manager then: the count goes back to 0,
// the stop flag and any cancellation are forgotten, the back-off starts
// again at FirstDelay. The caller has checked that the container is not
// restarting (Status).
func (m *Manager) ManualStart() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancelled = false
	m.delay = 0
	if m.rec.Count == 0 && !m.rec.Stopped {
		return nil // nothing to write: the common case of a plain start
	}
	m.rec.Count, m.rec.Stopped = 0, false
	return save(m.dir, m.rec)
}

// AtDaemonStart decides, for a daemon that starts, whether to start the
// container, not running, whose last run ended with code (see the
// function of the same name).
func (m *Manager) AtDaemonStart(code int, ranBefore bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return AtDaemonStart(m.rec.Policy, m.rec.Count, code, m.rec.Stopped, ranBefore)
}

// SetPolicy is docker update --restart: the new policy applies from the
// next exit on (a pending restart goes on), as in dockerd. The caller
// has validated it.
func (m *Manager) SetPolicy(p Policy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rec.Policy = p
	return save(m.dir, m.rec)
}
