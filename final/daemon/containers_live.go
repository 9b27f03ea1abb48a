package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/restart"
)

// What the daemon knows of its containers besides their files.
//
// Everything that must survive the daemon is on disk, in chapter 07's
// store: the shims write each container's state there, and keep running
// (and writing) while no daemon does. The daemon's memory holds only
// what belongs to its own clients: who waits for which container
// (docker run waits for the exit, docker run --rm for the removal), the
// terminals of exec processes, and, to answer quickly, each container's
// record and what docker ps shows of it (containers_view.go, dropped at
// every change). A new daemon rebuilds it from the disk (startLive).
//
// How the daemon learns of an exit without polling: one inotify watch on
// each container's directory. The shim's steps all show there as
// events, in this order:
//
//	state.json renamed into place    the run started (or failed to)
//	exit.json renamed into place     the command exited: its status is known
//	state.json renamed into place    the shim cleaned up (cgroup, network)
//	shim.lock closed for writing     the shim is gone
//
// On each event the daemon reads the container's state again (a few
// small files) and compares it with what it knew: a run that has ended
// wakes the waiters; a run of an --rm container that has ended and whose
// shim is gone is removed. The log's growth (IN_MODIFY) is not watched:
// a container writing a lot costs the daemon nothing.

// live is the daemon's memory of its containers.
type live struct {
	d       *Daemon
	inotify *os.File // the watch on the containers' directories
	ifd     int      // its descriptor, for inotify_add_watch

	mu      sync.Mutex
	byID    map[string]*entry
	byName  map[string]*entry
	byWatch map[int]*entry
	execs   map[string]*execProc
	done    chan struct{} // closed by Close
	closed  bool
	removes sync.WaitGroup // removals of --rm containers in progress
}

// entry is one container.
type entry struct {
	id string
	// name changes at a rename (under live.mu) while ps, inspect and
	// the filters read it without the lock: an atomic value.
	name syncName
	c    *shim.Container
	rec  *record // what the API created it with; nil for a container not made through the API
	// hostRes are the resources of the last docker update, nil before
	// one (containers_update.go): rec does not change after it is read.
	hostRes atomic.Pointer[container.Resources]
	// links are its legacy links ("ID:alias") after a docker rm
	// --link, nil before one: rec does not change (legacyLinks).
	links atomic.Pointer[[]string]
	wd    int // its inotify watch
	// view is what docker ps shows of it from the disk, kept until it
	// changes (containers_view.go).
	view viewCache

	// Guarded by live.mu:
	changed  chan struct{} // closed and replaced at every change
	exits    int           // ends of runs (and failed starts) seen by this daemon
	lastRun  time.Time     // StartedAt of the last run counted in exits
	lastCode int           // the status of the last end, for the waiters of a removed container
	lastErr  string
	oomRun   time.Time // StartedAt of the last run whose oom event was sent (events.go)
	removing bool      // a removal is under way
	removed  bool
	// restarting: a `restart` stops the container to start it again,
	// and an --rm container is not removed in between (as dockerd).
	restarting bool
	// reportingStart: a start of e is under way and its events
	// (connect, mount, start) are not all out yet. Until then look
	// leaves the end of a run alone: a command that exits at once
	// must not have its die reported before its start (endStart
	// looks again).
	reportingStart bool
	shimWait       bool         // a goroutine waits for the shim's exit (look)
	attached       int          // clients attached to its output (ContainerAttach)
	stdin          *stdinKeeper // the container's stdin FIFO, kept open between attachments

	// policy is the container's restart.Manager once opened
	// (containers_restart.go); policyMu, its opening.
	policy   atomic.Pointer[restart.Manager]
	policyMu sync.Mutex

	// health checks the current run (health.go); healthMu guards it.
	health   *healthMon
	healthMu sync.Mutex

	removeMu sync.Mutex // one removal at a time
	cpMu     sync.Mutex // one docker cp at a time mounts a stopped container's root (archive.go)
}

// notify wakes whoever watches e. Call with live.mu held.
func (e *entry) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// watchMask: the events of the shim's steps (see above). Not IN_MODIFY
// (log writes), and not the events of reading (IN_OPEN, IN_ACCESS,
// IN_CLOSE_NOWRITE): the daemon reads these files on each event, and
// would wake itself for ever.
const watchMask = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_ONLYDIR

// startLive builds the daemon's memory from the disk, when it starts:
// every container of the store is watched; a container that ran while
// no daemon did is found in whatever state its shim left it (running,
// or exited with its status); an --rm container that exited meanwhile is
// removed now, as the daemon would have done.
func (d *Daemon) startLive() error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watching containers: inotify: %w", err)
	}
	l := &live{
		d:       d,
		inotify: os.NewFile(uintptr(fd), "inotify"), // non-blocking: Go's poller waits for it
		ifd:     fd,
		byID:    map[string]*entry{},
		byName:  map[string]*entry{},
		byWatch: map[int]*entry{},
		execs:   map[string]*execProc{},
		done:    make(chan struct{}),
	}
	d.live = l
	list, err := d.containers.List()
	if err != nil {
		l.inotify.Close()
		return err
	}
	var stale []*entry
	for _, c := range list {
		e, err := l.add(c)
		if err != nil {
			continue // removed meanwhile
		}
		// Its lease on its image, which a crash may have torn (an
		// --rm container's is not flushed): taken again if so.
		if rec, err := image.ReadContainerRecord(c.Dir()); err == nil {
			_ = d.images.Use(c.ID(), rec.Image, c.Dir())
		}
		st, err := c.State()
		if err != nil {
			continue
		}
		l.mu.Lock()
		if ended(st) {
			// Ended before this daemon: no die and no oom (events.go).
			e.lastRun, e.lastCode, e.lastErr = st.StartedAt, st.ExitCode, st.Error
			e.oomRun = st.StartedAt
		}
		l.mu.Unlock()
		if st.Status == shim.Running {
			d.endpointsChanged(e) // for the watcher of a new daemon
			d.healthStart(e)      // "starting" again, as dockerd's restore
		}
		if ended(st) && !c.Supervised() {
			if e.autoRemove() {
				stale = append(stale, e)
			} else {
				// Left to a supervisor that died (supervisor.go
				// in chapter 07): clean up now.
				_ = Runtime.Finish(c)
			}
		}
	}
	go l.watchLoop()
	for _, e := range stale {
		_ = d.remove(e, false) // what fails stays, and shows in ps -a
	}
	return nil
}

// ended reports whether st is the end of a run: it ran, and exited or
// died.
func ended(st shim.State) bool {
	return (st.Status == shim.Exited || st.Status == shim.Dead) && !st.StartedAt.IsZero()
}

func (e *entry) autoRemove() bool { return e.rec != nil && e.rec.HostConfig.AutoRemove }

// add starts watching container c and remembers it.
func (l *live) add(c *shim.Container) (*entry, error) {
	rec, err := readRecord(c)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	e := &entry{id: c.ID(), c: c, rec: rec, changed: make(chan struct{}), wd: -1}
	e.name.set(c.Name())
	wd, err := unix.InotifyAddWatch(l.ifd, c.Dir(), watchMask)
	if err != nil {
		return nil, fmt.Errorf("watching container %s: %w", c.Name(), err)
	}
	e.wd = wd
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.byID[e.id]; old != nil {
		return old, nil
	}
	l.byID[e.id] = e
	l.byName[e.name.get()] = e
	l.byWatch[wd] = e
	return e, nil
}

// watchLoop reads the watch's events and looks at each container that
// had one, once per batch of events.
func (l *live) watchLoop() {
	buf := make([]byte, 64<<10)
	for {
		n, err := l.inotify.Read(buf)
		if err != nil {
			return // closed
		}
		seen := map[*entry]bool{}
		lockClosed := map[*entry]bool{}
		all := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int(int32(binary.NativeEndian.Uint32(buf[off:])))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:min(off+unix.SizeofInotifyEvent+size, n)], "\x00"))
			off += unix.SizeofInotifyEvent + size
			if mask&unix.IN_Q_OVERFLOW != 0 {
				all = true
				continue
			}
			l.mu.Lock()
			e := l.byWatch[wd]
			if mask&unix.IN_IGNORED != 0 {
				delete(l.byWatch, wd) // the directory is gone
			}
			l.mu.Unlock()
			if e != nil {
				seen[e] = true
				lockClosed[e] = lockClosed[e] || (mask&unix.IN_CLOSE_WRITE != 0 && name == shimLock)
			}
		}
		if all {
			l.mu.Lock()
			for _, e := range l.byID {
				seen[e] = true
			}
			l.mu.Unlock()
		}
		for e := range seen {
			l.look(e)
			if lockClosed[e] {
				l.shimClosed(e)
			}
		}
	}
}

// shimLock is the file a shim holds locked for its whole life (chapter
// 07's store): its close for writing is the shim's end.
const shimLock = "shim.lock"

// shimClosed follows the close of e's shim lock. A shim that recorded
// the end of its run has said so before (its files come first), but one
// killed (kill -9) ends without a word, and its container is then dead:
// its state only says so once the lock is free, and the kernel reports
// the close a moment before it frees the lock. A container that still
// looks running is looked at again once its shim has exited, so that
// docker ps, which reads the state from memory, learns of it.
func (l *live) shimClosed(e *entry) {
	if !e.c.Running() {
		return
	}
	l.mu.Lock()
	waiting := e.shimWait
	e.shimWait = true
	l.mu.Unlock()
	if waiting {
		return
	}
	go func() {
		_, _ = e.c.Wait(time.Minute)
		l.mu.Lock()
		e.shimWait = false
		l.mu.Unlock()
		l.look(e)
	}()
}

// reportEnd reports the end of e's last run if nobody has yet: the
// watch may lag behind the shim's files (inotify, under load), and a
// wait or a removal that reads those files must not act on an end the
// daemon has not reported: dockerd's die event always comes before the
// wait's answer and the destroy.
func (l *live) reportEnd(e *entry) {
	st, err := e.c.State()
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !e.reportingStart {
		l.reportEndLocked(e, st)
	}
}

// reportEndLocked reports the end of the run st describes, once: the
// restart policy, the waiters, the die event. With l.mu held; it says
// whether it reported.
func (l *live) reportEndLocked(e *entry, st shim.State) bool {
	if !ended(st) || st.StartedAt.Equal(e.lastRun) {
		return false
	}
	e.exits++
	e.lastRun, e.lastCode, e.lastErr = st.StartedAt, st.ExitCode, st.Error
	l.exited(e, st) // its restart policy, before the waiters wake
	e.notify()
	// Under the lock: whoever looks first reports the end, once, and
	// before a stop or a kill that waited for it reports its own event.
	l.d.emitEnd(e, st)
	go l.d.healthStop(e, st.StartedAt, true) // not under the lock: it waits for a check to end
	return true
}

// look reads container e's state and acts on what changed: the end of a
// run wakes its waiters, and an --rm container whose run has ended and
// whose shim is done is removed.
func (l *live) look(e *entry) {
	e.forgetView() // whatever changed, the next list reads it
	st, err := e.c.State()
	if err != nil {
		return
	}
	l.mu.Lock()
	if e.reportingStart {
		l.mu.Unlock()
		return
	}
	if !l.reportEndLocked(e, st) && ended(st) && st.OOMKilled && !st.StartedAt.Equal(e.oomRun) {
		l.d.emitLateOOM(e, st)
	}
	// A run that ended is cleaned up by the daemon, which holds the
	// store's supervisor lock: the shim leaves that to it (chapter 07's
	// supervisor.go). An --rm container is removed, which cleans up
	// on the way.
	removeAtEnd := e.autoRemove() && !e.restarting
	remove := removeAtEnd && ended(st) && !e.removing && !e.removed && !l.closed
	finish := ended(st) && !removeAtEnd && !e.removed && !l.closed
	l.mu.Unlock()
	if !remove && !finish {
		return
	}
	if !e.c.Supervised() {
		l.removes.Add(1)
		go func() {
			defer l.removes.Done()
			if remove {
				_ = l.d.remove(e, false)
			} else {
				l.finish(e)
			}
		}()
		return
	}
	// The shim is still at work (its monitor writing the last of the
	// log, or its own clean-up when no daemon was there at the exit).
	// The event of its end (its lock's close) may come before the
	// kernel has released the lock, and no event follows: wait for the
	// shim's exit itself, then look again.
	l.mu.Lock()
	waiting := e.shimWait
	e.shimWait = true
	l.mu.Unlock()
	if !waiting {
		go func() {
			_, _ = e.c.Wait(time.Minute)
			l.mu.Lock()
			e.shimWait = false
			l.mu.Unlock()
			l.look(e)
		}()
	}
}

// finish cleans up after e's run, unless e is being removed (which
// cleans up too): its files must not come back under a removal.
func (l *live) finish(e *entry) {
	e.removeMu.Lock()
	defer e.removeMu.Unlock()
	l.mu.Lock()
	removed := e.removed
	l.mu.Unlock()
	if !removed {
		_ = Runtime.Finish(e.c)
	}
	e.forgetView()
	l.d.endpointsChanged(e)
}

// setRestarting marks e as being restarted, or no longer. An --rm
// container whose run ended meanwhile (the restart failed half-way) is
// removed once it is no longer restarting.
func (l *live) setRestarting(e *entry, on bool) {
	l.mu.Lock()
	e.restarting = on
	l.mu.Unlock()
	if !on {
		l.look(e)
	}
}

// attach and detach count the clients attached to e's output.
func (l *live) attach(e *entry) {
	l.mu.Lock()
	e.attached++
	l.mu.Unlock()
}

func (l *live) detach(e *entry) {
	l.mu.Lock()
	e.attached--
	e.notify()
	l.mu.Unlock()
}

// attachedTimeout bounds how long a removal waits for the clients
// attached to the container to read the last of its output.
const attachedTimeout = 10 * time.Second

// waitAttached waits until no client is attached to e, or d has passed.
func (l *live) waitAttached(e *entry, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		n, changed := e.attached, e.changed
		l.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			return
		}
	}
}

// started records a successful start of e.
// beginStart holds back the end of e's next run until endStart: see
// entry.reportingStart.
func (l *live) beginStart(e *entry) {
	l.mu.Lock()
	e.reportingStart = true
	l.mu.Unlock()
}

// starting lists the containers whose start is under way.
func (l *live) starting() []*entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*entry
	for _, e := range l.byID {
		if e.reportingStart {
			out = append(out, e)
		}
	}
	return out
}

// endStart says that the start's events are out, and acts on an end
// of the run that look left alone meanwhile.
func (l *live) endStart(e *entry) {
	l.mu.Lock()
	e.reportingStart = false
	l.mu.Unlock()
	l.look(e)
}

func (l *live) started(e *entry) {
	e.forgetView()
	l.mu.Lock()
	e.notify()
	l.mu.Unlock()
}

// startFailed records a start of e that failed: it counts as the end of
// a run for the waiters (with the status the shim recorded).
func (l *live) startFailed(e *entry) {
	e.forgetView()
	st, _ := e.c.State()
	l.mu.Lock()
	e.exits++
	e.lastCode, e.lastErr = st.ExitCode, st.Error
	e.notify()
	l.mu.Unlock()
}

// forget drops e after its removal.
func (l *live) forget(e *entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.removed = true
	e.notify()
	if e.stdin != nil {
		e.stdin.close()
		e.stdin = nil
	}
	delete(l.byID, e.id)
	if l.byName[e.name.get()] == e {
		delete(l.byName, e.name.get())
	}
	if l.byWatch[e.wd] == e {
		delete(l.byWatch, e.wd)
		_, _ = unix.InotifyRmWatch(l.ifd, uint32(e.wd))
	}
	for id, x := range l.execs {
		if x.e == e {
			delete(l.execs, id)
		}
	}
}

// lookup finds the container that ref names as Docker does: its full ID,
// its name (with or without the leading "/"), or a prefix of its ID that
// no other container shares.
func (d *Daemon) lookup(ref string) (*entry, error) {
	l := d.live
	name := strings.TrimPrefix(ref, "/")
	l.mu.Lock()
	if e := l.byID[ref]; e != nil {
		l.mu.Unlock()
		return e, nil
	}
	if e := l.byName[name]; e != nil {
		l.mu.Unlock()
		return e, nil
	}
	var found *entry
	ambiguous := false
	if ref != "" {
		for id, e := range l.byID {
			if strings.HasPrefix(id, ref) {
				ambiguous = ambiguous || found != nil
				found = e
			}
		}
	}
	l.mu.Unlock()
	if ambiguous {
		return nil, errdefs.ErrInvalidArgument.WithMessage("multiple IDs found with provided prefix: " + ref)
	}
	if found != nil {
		return found, nil
	}
	// Not known here: a container another program made under the same
	// root (chapter 07's run), or none.
	c, err := d.containers.Get(name)
	switch {
	case errors.Is(err, shim.ErrNotFound):
		return nil, errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	case errors.Is(err, shim.ErrAmbiguous):
		return nil, errdefs.ErrInvalidArgument.WithMessage("multiple IDs found with provided prefix: " + ref)
	case err != nil:
		return nil, err
	}
	return l.add(c)
}

// ContainerWait waits for a container as docker wait and docker run do:
// not-running (the default) returns at once for a container that is not
// running; next-exit waits for the end of the next run, which may not
// have started yet; removed waits for the container's removal.
func (d *Daemon) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	e, err := d.lookup(name)
	if err != nil {
		return nil, err
	}
	l := d.live
	// A restarting container runs, to its waiters (as dockerd's):
	// they wait for the end of its next run.
	running := e.c.Running() || e.restartPending()
	if !running {
		l.reportEnd(e) // an end the watch has not seen yet is reported first
	}
	l.mu.Lock()
	target := e.exits + 1
	l.mu.Unlock()
	met := func() bool { // with l.mu held
		switch cond {
		case container.WaitConditionRemoved:
			return e.removed
		case container.WaitConditionNextExit:
			return e.exits >= target || e.removed
		}
		return !running || e.exits >= target || e.removed
	}
	ch := make(chan container.WaitResponse, 1)
	go func() {
		defer close(ch)
		for {
			l.mu.Lock()
			if met() {
				res := container.WaitResponse{StatusCode: int64(e.lastCode)}
				if e.lastErr != "" {
					res.Error = &container.WaitExitError{Message: e.lastErr}
				}
				if !running && e.exits < target && !e.removed {
					// Not running now: the status of its last end.
					if st, err := e.c.State(); err == nil {
						res.StatusCode = int64(st.ExitCode)
						res.Error = nil
						if st.Error != "" {
							res.Error = &container.WaitExitError{Message: st.Error}
						}
					}
				}
				l.mu.Unlock()
				ch <- res
				return
			}
			changed := e.changed
			l.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				return
			case <-l.done:
				return
			}
		}
	}()
	return ch, nil
}

// Close stops the daemon's work on its containers: the watch, and the
// waits in progress. The containers themselves run on under their shims;
// a new Daemon over the same data root takes them up again.
func (d *Daemon) Close() error {
	l := d.live
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	// Pending restarts go with the daemon; the next one decides again.
	l.cancelRestarts()
	// So do the health checks; the next daemon starts them again.
	for _, e := range l.newestFirst() {
		d.healthStop(e, time.Time{}, false)
	}
	err := errors.Join(l.inotify.Close(), d.spares.Close(), d.closeNames())
	l.removes.Wait()
	deletions.Wait()
	// The event streams end (their clients see the end of the stream),
	// after the removals under way have reported theirs.
	d.events.Close()
	// From now on the shims clean up after their containers themselves.
	return errors.Join(err, d.supervisor.Close())
}

// syncName is a container's name, read and written atomically.
type syncName struct{ p atomic.Pointer[string] }

func (n *syncName) get() string {
	if p := n.p.Load(); p != nil {
		return *p
	}
	return ""
}

func (n *syncName) set(s string) { n.p.Store(&s) }

// newestFirst is a snapshot of the containers, the newest first, as
// docker ps lists them: taken under the lock, used without it.
func (l *live) newestFirst() []*entry {
	l.mu.Lock()
	entries := make([]*entry, 0, len(l.byID))
	for _, e := range l.byID {
		entries = append(entries, e)
	}
	l.mu.Unlock()
	slices.SortFunc(entries, func(a, b *entry) int { return created(b.c).Compare(created(a.c)) })
	return entries
}

// labels are the container's labels, as created; none for a container
// not made through the API.
func (e *entry) labels() map[string]string {
	if e.rec == nil {
		return nil
	}
	return e.rec.Config.Labels
}
