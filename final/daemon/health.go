package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
//	       │ timer (health.State.Next; the first one interval after the
//	       │ run's start, firstCheckIn), meanwhile prepareCheck
//	       ▼
//	  runCheck: nsenter (the exec's options, computed once per run),
//	  killed at the timeout ─▶ Record ─▶ health_status event, and
//	  health.json when the status or the streak changed
//	       │
//	  the run's end (look; stop and kill wait for it) / removal /
//	  berthd closes ─▶ healthStop: the goroutine ends, a check the end
//	  interrupted is recorded (not when berthd closes), the status is
//	  "unhealthy" (dockerd's choice)

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
	// recordLast says whether a check that stop interrupts is
	// recorded (yes when the run ends; no when berthd closes or the
	// container is paused). Written before stop is closed, read
	// after.
	recordLast bool
	// paused: the checks ended because the container was paused;
	// the unpause starts them again (healthResume). Under mu, as
	// dropping, which makes the loop record nothing more.
	paused, dropping bool
	// init is a pidfd of the run's init: whether the run is ending is
	// read from it, not from the shim's record, which comes later.
	init    int
	initPid int
	freezer *freezerFile // the container's cgroup's, until it is seen thawed
	// probe waits for the checks, and its Cancel ends one under way
	// when stop is closed (the check is not selected on: see
	// runCheck); out is the checks' output buffer, one per monitor.
	probe    *nsenter.Prober
	probeErr error // NewProber's: every check fails with it
	out      []byte
	// thawSeen: the container was not paused at a check of this
	// monitor; a pause from then on ends the monitor (healthPause).
	thawSeen bool
	// since: the first check is due one interval after it, the run's
	// start for a monitor that a start began (dockerd starts its
	// monitor's timer as it marks the container running, before its
	// start answers); zero (a resumed monitor), or more than an
	// interval ago (berthd restarted): one interval after now.
	since time.Time

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
	m := &healthMon{sch: sch, run: st.StartedAt, stop: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{}), init: -1}
	m.probe, m.probeErr = nsenter.NewProber()
	if fd, err := unix.PidfdOpen(st.Pid, 0); err == nil {
		m.init, m.initPid = fd, st.Pid
	}
	if old != nil {
		old.mu.Lock()
		m.st = old.st
		old.mu.Unlock()
	} else {
		m.st = readHealth(e.c.Dir())
	}
	m.st.Restart(st.StartedAt)
	m.since = st.StartedAt
	e.health = m
	writeHealth(e.c.Dir(), &m.st)
	go d.healthLoop(e, m)
}

// healthStop ends the checks of e's run, when the run ends or the
// container goes, and returns once the last result is written. Ended
// by the run's end, a check that was running is recorded (it died with
// the container: 137), then the status becomes "unhealthy", as dockerd's
// CloseMonitorChannel sets it "for compatibility reasons" (no event);
// ended by berthd's close, the running check is dropped and the status
// stays as it was: the next berthd starts the checks again.
//
// What dockerd 20.10 does, measured (not only read): its monitor runs
// until the container's exit is handled; a docker stop or kill does not
// end it before (a docker kill -s HUP leaves the checks running). A
// check running when the container dies is killed with it, and
// containerd reports the exec's exit before the init's, so its result
// (137, or -1 and runc's message if it was still starting) reaches
// handleProbeResult before the exit handler closes the monitor: counted
// as a failure. 10 stops of 10 with a check known to run gave
// "unhealthy, FailingStreak 1, exit 137". berthd records it the same
// way, whichever of the check's end and the run's end it sees first.
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

// healthPause ends the checks of a container that docker pause has just
// frozen, as dockerd's pause does (updateHealthMonitor): the status is
// "unhealthy" at once (its CloseMonitorChannel's rule, no event), the
// streak and log kept, and a check under way is not recorded. It does
// not wait for the goroutine, which a frozen check can hold until the
// container is thawed.
func (d *Daemon) healthPause(e *entry) {
	e.healthMu.Lock()
	m := e.health
	e.healthMu.Unlock()
	if m == nil {
		return
	}
	first := false
	m.once.Do(func() { first = true })
	if !first {
		return
	}
	m.mu.Lock()
	m.paused, m.dropping = true, true
	m.st.Status = health.Unhealthy
	writeHealth(e.c.Dir(), &m.st)
	m.mu.Unlock()
	close(m.stop)
	m.probe.Cancel()
	close(m.finished)
}

// healthResume starts the checks of a container that docker unpause has
// just thawed, where its pause left them: the status stays until the
// next check decides (dockerd's unpause starts the monitor again without
// resetting it).
func (d *Daemon) healthResume(e *entry) {
	st, err := e.c.State()
	if err != nil || st.Status != shim.Running {
		return
	}
	e.healthMu.Lock()
	defer e.healthMu.Unlock()
	old := e.health
	if old == nil || !old.run.Equal(st.StartedAt) {
		return
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if !old.paused {
		return
	}
	m := &healthMon{sch: old.sch, run: old.run, stop: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{}), init: -1, st: old.st}
	m.probe, m.probeErr = nsenter.NewProber()
	if fd, err := unix.PidfdOpen(st.Pid, 0); err == nil {
		m.init, m.initPid = fd, st.Pid
	}
	m.st.Log = slices.Clone(old.st.Log)
	e.health = m
	go d.healthLoop(e, m)
}

// end stops m's goroutine; whoever calls it first writes the final
// state, the others wait for that. A monitor a pause ended has no
// goroutine to wait for any more: a run's end makes its status final.
func (m *healthMon) end(e *entry, unhealthy bool) {
	first := false
	m.once.Do(func() { first = true })
	if !first {
		<-m.finished
		m.mu.Lock()
		if m.paused && unhealthy {
			m.st.Status = health.Unhealthy
			writeHealth(e.c.Dir(), &m.st)
		}
		m.mu.Unlock()
		return
	}
	if !unhealthy {
		m.mu.Lock()
		m.dropping = true
		m.mu.Unlock()
	}
	m.recordLast = unhealthy
	close(m.stop)
	m.probe.Cancel()
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
	defer func() {
		if m.init >= 0 {
			unix.Close(m.init)
		}
		m.freezer.close()
		m.probe.Close()
	}()
	var tmpl *nsenter.Cmd
	lastFailed := false
	defer func() {
		if tmpl != nil {
			tmpl.Release() // the namespaces' files: they must not outlive the run
		}
	}()
	t := time.NewTimer(firstCheckIn(m.since, time.Now(), m.next()))
	defer t.Stop()
	// The checks' setup now, during the first interval, not when the
	// first check is due (prepareCheck). Nothing to record if it fails:
	// the check does it again, and records why.
	_, _, _ = d.prepareCheck(e, m, &tmpl)
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		select {
		case <-m.stop: // both were ready: no new check after the end
			return
		default:
		}
		if m.ending(lastFailed) {
			// The container is dying: no check after the one its
			// death interrupted, if any (at most one runs at a
			// time), so that its end costs the streak one failure
			// or none, whatever the shim's speed in reporting it.
			<-m.stop
			return
		}
		// A check that ran when the run ended is recorded (see
		// healthStop), then the loop ends at the select above.
		r, ok := d.runCheck(e, m, &tmpl)
		lastFailed = ok && r.ExitCode != 0
		if ok {
			m.mu.Lock()
			if m.dropping {
				m.mu.Unlock()
				return
			}
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

// firstCheckIn is how long a monitor waits for its first check: until
// one interval (wait) after since, the start of the run, as dockerd's
// timer starts when it marks the container running; one interval from
// now when since is zero (a monitor that an unpause resumed), or when
// that moment is past (a berthd that starts again gives a running
// container a whole interval, as dockerd's restore does) or further
// than an interval away (a clock set back).
func firstCheckIn(since, now time.Time, wait time.Duration) time.Duration {
	if since.IsZero() {
		return wait
	}
	if until := since.Add(wait).Sub(now); until >= 0 && until < wait {
		return until
	}
	return wait
}

// ending reports whether the run's init has exited, or, after a failed
// check, whether it is exiting. The kernel marks it exiting (PF_EXITING)
// before it kills the rest of the PID namespace, so a check killed by
// the container's end always finds it so. (After a check that passed,
// the flag is not read: a check that then starts while the container
// dies is the one its death interrupts.)
func (m *healthMon) ending(afterFailure bool) bool {
	if m.init < 0 {
		return false
	}
	if pidfdReadable(m.init) {
		return true // exited
	}
	if !afterFailure {
		return false
	}
	// Not reaped yet (the pidfd would be readable): the PID is still
	// the init's. Field 9 of /proc/PID/stat is the task's flags.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.initPid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 7 {
		return false
	}
	flags, _ := strconv.ParseUint(fields[6], 10, 64)
	const pfExiting = 0x4 // include/linux/sched.h
	return flags&pfExiting != 0
}

func (m *healthMon) next() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Next(m.sch, time.Now())
}

// runCheck runs the check once in e's current run. It reports false when
// there is nothing to record: the run has ended or is paused before the
// check starts (a frozen process cannot answer; dockerd does not count
// it either), or berthd closes while it runs. A check that fails because
// the run ends meanwhile is a failure, as with dockerd (see healthStop).
func (d *Daemon) runCheck(e *entry, m *healthMon, tmpl **nsenter.Cmd) (health.Result, bool) {
	start := time.Now()
	fail := func(err error) (health.Result, bool) {
		return health.Result{Start: start, End: time.Now(), ExitCode: -1, Output: err.Error()}, true
	}
	argv, ok, err := d.prepareCheck(e, m, tmpl)
	switch {
	case !ok:
		return health.Result{}, false
	case err != nil:
		return fail(err)
	}
	if m.probe == nil {
		return fail(fmt.Errorf("health check in container %s: %w", e.id, m.probeErr))
	}
	id := namespace.NewID()
	// dockerd runs a check as an exec and reports it as one.
	d.emitExec(e, moby.ActionExecCreate, id, argv, nil)
	cmd := (*tmpl).Again()
	if !(*tmpl).Server().Alive() {
		(*tmpl).Release()
		*tmpl = nil // started again at the next check
		return fail(fmt.Errorf("health check in container %s: the fork server has exited", e.id))
	}
	cmd.WaitDelay = 100 * time.Millisecond
	// The whole check on this goroutine: Probe waits on m.probe (the
	// output, the fork server's answer, the cancel) until it ends, killed at
	// the timeout or when the run ends (a check in the container's PID
	// namespace is dead already or dying then; one that is not, in the
	// host's, ends now, as containerd's shim kills what is left in the
	// cgroup). No goroutine, timer or pipe of Go's per check.
	if m.out == nil {
		m.out = make([]byte, health.MaxOutput+1) // State.Record marks the cut
	}
	pr, err := cmd.Probe(m.probe, m.out, start.Add(m.sch.Timeout), killTree)
	if err != nil && !pr.Exited {
		// dockerd records runc's "exec failed" too when the
		// container ends as a check starts.
		return fail(fmt.Errorf("health check in container %s: %w", e.id, err))
	}
	d.emitExec(e, moby.ActionExecStart, id, argv, nil)
	d.emitExec(e, moby.ActionExecDie, id, nil, exitCode(pr.Code))
	switch {
	case pr.Canceled:
		if !m.recordLast {
			return health.Result{}, false
		}
	case pr.TimedOut:
		return health.Result{Start: start, End: time.Now(), ExitCode: -1, Output: health.TimeoutOutput(m.sch.Timeout)}, true
	}
	return health.Result{Start: start, End: time.Now(), ExitCode: pr.Code, Output: string(m.out[:pr.N])}, true
}

// prepareCheck makes ready what every check of e's run needs, once: it
// reports false when there is nothing to check now (the run has ended,
// or is paused), and an error when the check cannot be made (a failed
// check, for runCheck to record). healthLoop calls it first as soon as
// the monitor begins, so that the first check, due one interval after the
// start, costs what the others cost (a clone of the zygote and the
// check's execve, about 1.5 ms here) rather than 6 to 8 ms more for
// this setup: Compose polls a dependency's health every 500 ms from its
// start, and a result that comes a few milliseconds after its poll at
// one interval waits half a second for the next (final/compose's
// benchmark, docs/performance.md).
func (d *Daemon) prepareCheck(e *entry, m *healthMon, tmpl **nsenter.Cmd) (argv []string, ok bool, err error) {
	// Whether the run goes on is read from its init (ending, in the
	// loop), whether it is paused from its cgroup's freezer file
	// (tuning_health.go) until it is seen thawed: not from
	// the shim's record, a file to decode at every check. The record
	// is read once, for the check's options.
	var st shim.State
	if *tmpl == nil || m.init < 0 {
		var err error
		st, err = e.c.State()
		if err != nil || st.Status != shim.Running || !st.StartedAt.Equal(m.run) {
			return nil, false, nil
		}
	}
	if !m.thawSeen {
		// Paused before this monitor began (berthd started while
		// the container was paused): no check until it is thawed.
		// From then on a docker pause ends the monitor itself
		// (healthPause), as dockerd's does, and the freezer is not
		// read at every check.
		if m.freezer == nil {
			if cg, err := cgroupOf(e); err == nil {
				m.freezer = openFreezer(cg)
			}
		}
		if !m.freezer.thawed() {
			return nil, false, nil
		}
		m.thawSeen = true
		m.freezer.close()
		m.freezer = nil
	}
	argv, _ = m.sch.Command(e.rec.Config.Shell) // NewSchedule checked it
	if *tmpl == nil {
		// The exec's options (user, groups, capabilities, seccomp
		// filter) are the same for every check of a run: read,
		// checked and compiled once.
		x := &execProc{e: e, cfg: container.ExecCreateRequest{Cmd: argv}}
		o, err := d.execOptions(x, st)
		if err != nil {
			return argv, true, err
		}
		srv, err := forkServerOf()
		if err != nil {
			return argv, true, err
		}
		t, err := srv.Command(o)
		if err != nil {
			return argv, true, err
		}
		if err := t.Hold(); err != nil {
			return argv, true, err
		}
		// A zygote forks the checks already confined; where there
		// can be none (a filter that refuses what it must do), each
		// check is a fork of the server, confined the same way.
		_, _ = t.StartZygote()
		*tmpl = t
	}
	return argv, true, nil
}

// forkServer is the fork server (nsenter.Server) that runs the health
// checks of every daemon in this process: one process, started at the
// first check and again if it has died. (docker exec keeps its helper,
// the way in that docs/final.md describes; TestServer_SameAsCommand in
// final/nsenter runs the exec tests through the server too.) A check
// through it costs a clone of the container's zygote (a small C process
// the server forked once per run, already confined) and the check's own
// execve, where a helper
// (nsenter.Command, docker exec's way in) starts the daemon's program
// again; see final/health's doc.go, "What a check costs".
var forkServer struct {
	sync.Mutex
	s *nsenter.Server
}

// forkServerOf is the fork server, started if it does not run.
func forkServerOf() (*nsenter.Server, error) {
	forkServer.Lock()
	defer forkServer.Unlock()
	if forkServer.s != nil && forkServer.s.Alive() {
		return forkServer.s, nil
	}
	if forkServer.s != nil {
		_ = forkServer.s.Close()
	}
	s, err := nsenter.StartServer()
	if err != nil {
		return nil, fmt.Errorf("health checks: %w", err)
	}
	forkServer.s = s
	return s, nil
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
