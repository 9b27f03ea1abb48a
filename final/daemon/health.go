package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/health"
	"github.com/berth-project/berth/final/nsenter"
)

// Health checks (docker run --health-*, HEALTHCHECK): package
// final/health holds the rules (schedule, states, log); here one
// goroutine per running container with a check waits for its turn, runs
// the check inside the container as docker exec would, and records the
// result.
//
//	start / restart policy / berthd start ─▶ healthStart: state "starting"
//	       │ timer (health.State.Next)
//	       ▼
//	  runCheck: nsenter (the exec's options, computed once per run),
//	  killed at the timeout ─▶ Record ─▶ health_status event, and
//	  health.json when the status or the streak changed
//	       │
//	  the run's end (look) / removal / berthd closes ─▶ healthStop:
//	  the goroutine ends, the status is "unhealthy" (dockerd's choice)

// healthFile keeps a container's health between runs and across
// restarts of berthd, beside its record.
const healthFile = "health.json"

// healthMon is a container's check during one run.
type healthMon struct {
	sch      health.Schedule
	run      time.Time     // StartedAt of the run it checks
	stop     chan struct{} // closed to end the goroutine
	done     chan struct{} // closed by the goroutine at its end
	finished chan struct{} // closed once the final state is written
	once     sync.Once

	mu sync.Mutex
	st health.State
}

// healthConfig is e's merged health config, if it asks for checks.
func (e *entry) healthConfig() *container.HealthConfig {
	if e.rec == nil || !health.Enabled(e.rec.Config.Healthcheck) {
		return nil
	}
	return e.rec.Config.Healthcheck
}

// healthStart begins checking e's current run, if it has a check: the
// status is "starting" again, the streak 0, the log kept (dockerd's
// initHealthMonitor).
func (d *Daemon) healthStart(e *entry) {
	hc := e.healthConfig()
	if hc == nil {
		return
	}
	sch, err := health.NewSchedule(hc)
	if err != nil {
		return // create refused it; a record edited by hand gets no checks
	}
	st, err := e.c.State()
	if err != nil || st.Status != shim.Running {
		return
	}
	e.healthMu.Lock()
	old := e.health
	e.healthMu.Unlock()
	if old != nil && old.run.Equal(st.StartedAt) {
		return // already checking this run
	}
	// The last run's checks end first, without the lock: ps and inspect
	// do not wait for a check that is still running.
	if old != nil {
		old.end(e, false)
	}
	e.healthMu.Lock()
	defer e.healthMu.Unlock()
	if e.health != old {
		return // another start got here first, with a newer run
	}
	m := &healthMon{sch: sch, run: st.StartedAt, stop: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{})}
	if old != nil {
		old.mu.Lock()
		m.st = old.st
		old.mu.Unlock()
	} else {
		m.st = readHealth(e.c.Dir())
	}
	m.st.Restart(st.StartedAt)
	e.health = m
	writeHealth(e.c.Dir(), &m.st)
	go d.healthLoop(e, m)
}

// healthStop ends the checks of e's run, when the run ends or the
// container goes, and returns once the last result is written. Ended
// by the run's end, the status becomes "unhealthy", as dockerd's
// CloseMonitorChannel sets it "for compatibility reasons" (no event);
// ended by berthd's close, it stays as it was: the next berthd starts the
// checks again.
// A run's end stops only the checks of that run (run, its StartedAt):
// a restart policy may have started the next one already. The zero run
// means whichever runs.
func (d *Daemon) healthStop(e *entry, run time.Time, unhealthy bool) {
	e.healthMu.Lock()
	m := e.health
	e.healthMu.Unlock()
	if m != nil && (run.IsZero() || m.run.Equal(run)) {
		m.end(e, unhealthy)
	}
}

// end stops m's goroutine; whoever calls it first writes the final
// state, the others wait for that.
func (m *healthMon) end(e *entry, unhealthy bool) {
	first := false
	m.once.Do(func() { first = true })
	if !first {
		<-m.finished
		return
	}
	close(m.stop)
	<-m.done
	m.mu.Lock()
	if unhealthy {
		m.st.Status = health.Unhealthy
	}
	writeHealth(e.c.Dir(), &m.st)
	m.mu.Unlock()
	close(m.finished)
}

// healthOf is e's health for inspect and ps: the monitor's, or the last
// one recorded; nil for a container without checks.
func (e *entry) healthOf() *container.Health {
	if e.healthConfig() == nil {
		return nil
	}
	e.healthMu.Lock()
	m := e.health
	e.healthMu.Unlock()
	if m == nil {
		st := readHealth(e.c.Dir())
		if st.Status == "" {
			return nil // never ran
		}
		return st.Docker()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Docker()
}

// healthLoop is the schedule: wait, check, record, until stopped.
func (d *Daemon) healthLoop(e *entry, m *healthMon) {
	defer close(m.done)
	var opts *nsenter.Options
	t := time.NewTimer(m.next())
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		r, ok := d.runCheck(e, m, &opts)
		select {
		case <-m.stop: // stopped meanwhile: the result is not recorded
			return
		default:
		}
		if ok {
			m.mu.Lock()
			before := m.st.FailingStreak
			changed := m.st.Record(m.sch, r)
			status := m.st.Status
			// Written when the status or the streak changes, and at
			// the end (end): not at every passing check, which would
			// cost the daemon a file per container per interval. A
			// crash of berthd loses the log's last results only.
			if changed || m.st.FailingStreak != before {
				writeHealth(e.c.Dir(), &m.st)
			}
			m.mu.Unlock()
			if changed {
				d.emitContainer(e, moby.Action("health_status: "+string(status)), nil)
			}
		}
		t.Reset(m.next())
	}
}

func (m *healthMon) next() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Next(m.sch, time.Now())
}

// runCheck runs the check once in e's current run. It reports false when
// there is nothing to record: the run has ended or is paused (a frozen
// process cannot answer; dockerd does not count it either).
func (d *Daemon) runCheck(e *entry, m *healthMon, opts **nsenter.Options) (health.Result, bool) {
	st, err := e.c.State()
	if err != nil || st.Status != shim.Running || !st.StartedAt.Equal(m.run) || paused(e, st) {
		return health.Result{}, false
	}
	argv, _ := m.sch.Command(e.rec.Config.Shell) // NewSchedule checked it
	start := time.Now()
	fail := func(err error) (health.Result, bool) {
		return health.Result{Start: start, End: time.Now(), ExitCode: -1, Output: err.Error()}, true
	}
	if *opts == nil {
		// The exec's options (user, groups, capabilities, seccomp
		// filter) are the same for every check of a run: read once.
		x := &execProc{e: e, cfg: container.ExecCreateRequest{Cmd: argv}}
		o, err := d.execOptions(x, st)
		if err != nil {
			return fail(err)
		}
		*opts = &o
	}
	id := namespace.NewID()
	// dockerd runs a check as an exec and reports it as one.
	d.emitExec(e, moby.ActionExecCreate, id, argv, nil)
	cmd, err := nsenter.Command(**opts)
	if err != nil {
		return fail(err)
	}
	out := &limitedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Start(); err != nil {
		if !d.runGoesOn(e, m, true) {
			return health.Result{}, false // the container was ending
		}
		return fail(fmt.Errorf("health check in container %s: %w", e.id, err))
	}
	d.emitExec(e, moby.ActionExecStart, id, argv, nil)
	type waited struct{ code int }
	ch := make(chan waited, 1)
	go func() {
		code, _ := cmd.Wait()
		ch <- waited{code}
	}()
	timer := time.NewTimer(m.sch.Timeout)
	defer timer.Stop()
	var r health.Result
	select {
	case w := <-ch:
		r = health.Result{Start: start, End: time.Now(), ExitCode: w.code, Output: out.String()}
	case <-timer.C:
		killTree(cmd.Pid())
		_ = cmd.Signal(unix.SIGKILL)
		w := <-ch
		d.emitExec(e, moby.ActionExecDie, id, nil, exitCode(w.code))
		return health.Result{Start: start, End: time.Now(), ExitCode: -1, Output: health.TimeoutOutput(m.sch.Timeout)}, true
	case <-m.stop:
		killTree(cmd.Pid())
		_ = cmd.Signal(unix.SIGKILL)
		<-ch
		return health.Result{}, false
	}
	d.emitExec(e, moby.ActionExecDie, id, nil, exitCode(r.ExitCode))
	// A check that failed because the container was ending (killed
	// with it) says nothing of its health: dropped, as dockerd's
	// monitor stops before the container's end is recorded.
	if r.ExitCode != 0 && !d.runGoesOn(e, m, r.ExitCode == 128+int(unix.SIGKILL)) {
		return health.Result{}, false
	}
	return r, true
}

// runGoesOn reports whether m's run still runs after a failed check. A
// check killed by SIGKILL may have been killed by the container's end
// (the kernel kills a PID namespace's processes when its init dies)
// before the shim has recorded the end: then the end comes within
// moments, and a second is waited for it.
func (d *Daemon) runGoesOn(e *entry, m *healthMon, killed bool) bool {
	deadline := time.Now().Add(time.Second)
	for {
		d.live.mu.Lock()
		changed := e.changed
		d.live.mu.Unlock()
		st, err := e.c.State()
		if err != nil || st.Status != shim.Running || !st.StartedAt.Equal(m.run) {
			return false
		}
		left := time.Until(deadline)
		if !killed || left <= 0 {
			return true
		}
		select {
		case <-changed:
		case <-m.stop:
			return false
		case <-time.After(min(left, 50*time.Millisecond)):
			// The state is read again: the shim's record may come
			// before its inotify event.
		}
	}
}

// limitedBuffer keeps the first health.MaxOutput bytes of a check's
// output (State.Record marks the cut); the rest is read and dropped, so
// that a chatty check never blocks on a full pipe.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := health.MaxOutput + 1 - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// readHealth reads the health recorded in dir; the zero State if none.
func readHealth(dir string) health.State {
	data, err := os.ReadFile(filepath.Join(dir, healthFile))
	if err != nil {
		return health.State{}
	}
	var h container.Health
	if json.Unmarshal(data, &h) != nil {
		return health.State{}
	}
	return health.FromDocker(&h)
}

// writeHealth records st in dir, replacing the file whole (a crash
// leaves the old one or the new one). A failure leaves the memory's
// state as the truth until the next write.
func writeHealth(dir string, st *health.State) {
	data, err := json.Marshal(st.Docker())
	if err != nil {
		return
	}
	_ = atomicfile.WriteFile(filepath.Join(dir, healthFile), data, atomicfile.Options{Perm: 0o600})
}

// healthCheck validates a create's health config as dockerd does.
func healthCheck(hc *container.HealthConfig) error {
	if hc == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", hc.Interval}, {"Timeout", hc.Timeout}, {"StartPeriod", hc.StartPeriod}, {"StartInterval", hc.StartInterval}} {
		if f.d != 0 && f.d < time.Millisecond {
			return invalid("%s in Healthcheck cannot be less than 1ms", f.name)
		}
	}
	if hc.Retries < 0 {
		return invalid("Retries in Healthcheck cannot be negative")
	}
	if health.Enabled(hc) {
		if _, err := health.NewSchedule(hc); err != nil {
			return invalid("%v", err)
		}
	}
	return nil
}

// healthStatus is e's status for ps: its filter's "none" without checks.
func healthStatus(e *entry) string {
	if e.healthConfig() == nil {
		return string(health.None)
	}
	e.healthMu.Lock()
	m := e.health
	e.healthMu.Unlock()
	if m == nil {
		return string(readHealth(e.c.Dir()).Status)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.st.Status)
}

// killTree kills the descendants of a check that ran past its timeout:
// a shell's children (sh -c 'sleep 100' forks sleep) would otherwise go
// on in the container, adopted by its init, one more at every check.
// The tree is read from /proc/PID/task/TID/children, deepest first.
func killTree(pid int) {
	if pid <= 0 {
		return
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(f); err == nil {
				killTree(child)
				_ = unix.Kill(child, unix.SIGKILL)
			}
		}
	}
}
