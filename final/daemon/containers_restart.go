package daemon

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
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
//
// A container that needs another one running (bootDeps: a legacy link's
// target, whose address its /etc/hosts gets; a container whose network,
// PID or IPC namespace it joins) waits until that one's start is over,
// as dockerd's restore waits for a linked container's targets: started
// in any order, the linker would get no hosts line for a target not yet
// up, or fail to join its namespaces.
func (d *Daemon) startAtBoot() {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []string
	)
	type boot struct {
		e    *entry
		done chan struct{}
	}
	var starts []boot
	byID := map[string]boot{}
	entries := d.live.newestFirst()
	slices.Reverse(entries) // oldest first: a container's targets are older than it
	for _, e := range entries {
		st, err := e.c.State()
		if err != nil || st.Status == shim.Running {
			continue
		}
		if !d.restartOf(e).AtDaemonStart(st.ExitCode, ended(st)) {
			continue
		}
		b := boot{e: e, done: make(chan struct{})}
		starts = append(starts, b)
		byID[e.id] = b
	}
	slots := make(chan struct{}, 2*runtime.NumCPU())
	for _, b := range starts {
		// Only the starts of older containers are waited for: a
		// target exists before whatever links to or joins it, so
		// no two starts can wait for each other.
		var waits []chan struct{}
		for _, id := range d.bootDeps(b.e) {
			if t, ok := byID[id]; ok && created(t.e.c).Before(created(b.e.c)) {
				waits = append(waits, t.done)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(b.done)
			for _, w := range waits {
				<-w
			}
			// The slot is taken after the waits: holding one while
			// waiting could leave no slot for the target.
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := d.ContainerStart(context.Background(), b.e.id); err != nil && !errdefs.IsNotModified(err) {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("WARNING: restart policy of %s: %v", b.e.name.get(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Shown by docker info, as dockerd logs them.
	d.warnings = append(d.warnings, failed...)
}

// bootDeps are the IDs of the containers e needs running at its start:
// the targets of its legacy links ("ID:alias" in its record), and the
// containers whose network, PID or IPC namespace it joins
// ("container:NAME-OR-ID", as the request named it for the network).
func (d *Daemon) bootDeps(e *entry) []string {
	if e.rec == nil {
		return nil
	}
	h := e.rec.HostConfig
	var ids []string
	for _, l := range e.legacyLinks() {
		if id, _, ok := strings.Cut(l, ":"); ok {
			ids = append(ids, id)
		}
	}
	for _, mode := range []string{string(h.NetworkMode), string(h.PidMode), string(h.IpcMode)} {
		if ref, ok := strings.CutPrefix(mode, "container:"); ok {
			if t, err := d.lookup(ref); err == nil {
				ids = append(ids, t.id)
			}
		}
	}
	return ids
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
