package daemon

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/restart"
)

// Restart policies (docker run --restart): the decisions and their
// record are package final/restart's; here the daemon tells each
// container's restart.Manager what happens to it, and starts it again
// when the Manager says so.
//
//	shim: exit.json ─▶ inotify ─▶ look: a new end ─▶ Manager.Exited
//	                                                   │ restart: count+1,
//	                                                   │ timer (back-off)
//	                                                   ▼
//	                          restartRun: clean up, start under a new shim
//
//	docker stop / kill ─▶ Manager.Stop (a pending restart is dropped)
//	docker start       ─▶ Manager.ManualStart (count 0, stop forgotten)
//	docker rm -f       ─▶ Manager.Cancel, then the removal
//	berthd starts      ─▶ startAtBoot: Manager.AtDaemonStart for each
//	                      container that does not run
//
// Between the exit and the end of the restart's start the container is
// "restarting" (restart.Status): running for wait, start and rm, with
// docker ps's "Restarting (N) X seconds ago", as dockerd shows it.

// restartOf is e's restart.Manager, opened at first use (one small file
// read: a container never asked about costs nothing).
func (d *Daemon) restartOf(e *entry) *restart.Manager {
	if m := e.policy.Load(); m != nil {
		return m
	}
	e.policyMu.Lock()
	defer e.policyMu.Unlock()
	if m := e.policy.Load(); m != nil {
		return m
	}
	var created restart.Policy
	if e.rec != nil {
		created = e.rec.HostConfig.RestartPolicy
	}
	// A record that cannot be read leaves the created policy, and a
	// count of 0: the Manager goes on, and the next change rewrites it.
	m, _ := restart.Open(e.c.Dir(), created, restart.System)
	e.policy.Store(m)
	return m
}

// restartStatus is where e stands in its restart cycle, without opening
// its Manager: one that was never opened has nothing pending.
func (e *entry) restartStatus() restart.Status {
	if m := e.policy.Load(); m != nil {
		return m.Status()
	}
	return restart.Watching
}

// restartPending reports whether the API shows e as restarting (its
// policy's, not the docker restart of the field "restarting").
func (e *entry) restartPending() bool { return e.restartStatus().Restarting() }

// exited applies e's policy to the end of a run the daemon has just seen
// (look). Called with live.mu held: the Manager only decides and arms a
// timer, it never waits here.
func (l *live) exited(e *entry, st shim.State) {
	// An --rm container has no policy (create and update refuse one):
	// its exits, the most frequent, cost no look at the disk.
	if l.closed || e.removing || e.removed || e.autoRemove() {
		return
	}
	m := l.d.restartOf(e)
	ran := max(st.FinishedAt.Sub(st.StartedAt), 0)
	_, _ = m.Exited(st.ExitCode, ran, func() { l.d.restartRun(e, m) })
}

// restartRun is the start at the end of a back-off, from the Manager's
// timer. It holds e's removal lock throughout: a docker rm -f that comes
// meanwhile waits, then finds the new run and kills it.
func (d *Daemon) restartRun(e *entry, m *restart.Manager) {
	defer m.Started()
	e.cpMu.Lock() // a docker cp into the stopped container ends first
	defer e.cpMu.Unlock()
	e.removeMu.Lock()
	defer e.removeMu.Unlock()
	l := d.live
	l.mu.Lock()
	gone := e.removing || e.removed || l.closed
	l.mu.Unlock()
	if gone {
		return
	}
	// The last run's clean-up, if look's has not come yet (the start
	// would wait for it anyway).
	_ = Runtime.Finish(e.c)
	l.beginStart(e)
	defer d.logExplained(e.c) // explain.go
	if _, err := d.spares.StartContainer(e.c); err != nil {
		// As dockerd: a failed start is not tried again; the
		// container stops with the failure's status.
		l.startFailed(e)
		d.endpointsChanged(e) // what a query during the start registered
		d.emitFailedStart(e)
		l.endStart(e)
		return
	}
	// dockerd's restart manager starts the container as docker start
	// does, and reports it the same way: connect, mount, start.
	l.started(e)
	d.endpointsChanged(e)
	d.emitStart(e)
	l.endStart(e)
	d.healthStart(e)
}

// stopRestarts is the policy's part of docker stop and kill (with a
// signal meant to end the container, see meantToEnd): no restart until
// the next docker start. It reports whether a restart was pending: the
// container was restarting and is now stopped, nothing to signal.
func (d *Daemon) stopRestarts(e *entry) bool {
	pending, _ := d.restartOf(e).Stop()
	if pending {
		d.live.endedRestarts(e)
	}
	return pending
}

// endedRestarts wakes the waiters of a container whose pending restart
// was dropped: for them it ended, as dockerd's SetStopped tells its
// waiters.
func (l *live) endedRestarts(e *entry) {
	l.mu.Lock()
	e.exits++
	e.notify()
	l.mu.Unlock()
}

// restartingStatus is the status and ps's STATUS column of a restarting
// container: the status of its last exit, and the time since.
func restartingStatus(st shim.State) (container.ContainerState, string) {
	return container.StateRestarting, fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
}

// alreadyStarted is docker start's answer for a running (or restarting)
// container.
func alreadyStarted() error { return errdefs.ErrNotModified.WithMessage("Container already started") }

// startAtBoot starts, when the daemon starts, the containers that do
// not run and that their policy starts again: always, unless-stopped
// unless a user stopped it, on-failure after a failure (restart.
// AtDaemonStart). They exited while no daemon ran (its crash, a reboot
// of the host, a container that ended while berthd was stopped), or were
// stopped. Each is a docker start (its count back to 0), as dockerd's
// restore starts them; a few at a time.
func (d *Daemon) startAtBoot() {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []string
	)
	slots := make(chan struct{}, 2*runtime.NumCPU())
	for _, e := range d.live.newestFirst() {
		st, err := e.c.State()
		if err != nil || st.Status == shim.Running {
			continue
		}
		if !d.restartOf(e).AtDaemonStart(st.ExitCode, ended(st)) {
			continue
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := d.ContainerStart(context.Background(), e.id); err != nil && !errdefs.IsNotModified(err) {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("WARNING: restart policy of %s: %v", e.name.get(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Shown by docker info, as dockerd logs them.
	d.warnings = append(d.warnings, failed...)
}

// cancelRestarts stops every pending restart, when the daemon closes:
// the next daemon decides again (startAtBoot).
func (l *live) cancelRestarts() {
	l.mu.Lock()
	entries := make([]*entry, 0, len(l.byID))
	for _, e := range l.byID {
		entries = append(entries, e)
	}
	l.mu.Unlock()
	for _, e := range entries {
		if m := e.policy.Load(); m != nil {
			m.Cancel()
		}
	}
}
