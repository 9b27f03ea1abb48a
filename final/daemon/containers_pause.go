package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	moby "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/07-logs/shim"
)

// docker pause and unpause: chapter 02's freezer on the container's
// cgroup. The freezer is the only record of a pause: the kernel keeps
// it, so it survives a restart of the daemon (and of the shim) as the
// container does, and nothing on disk can contradict it. A paused
// container is still running to its shim; the API shows it as Docker
// does, State "paused", Running and Paused both true, "Up 3 minutes
// (Paused)" in ps.
//
// A frozen process cannot act on a signal: a stop or a kill has to thaw
// the container, and Docker's rule says when (thawAfterSignal).

// hostCgroups describes this machine's cgroup filesystems, read once: ps
// and inspect ask each container's freezer, and cgroup.System reads
// /proc/self/mountinfo.
var hostCgroups = sync.OnceValues(cgroup.System)

// containerCgroup reopens the cgroup of container id's current run (the
// runner names it by the container's ID), under parent (cgroups.go). It
// fails with an error matching fs.ErrNotExist when the container does
// not run: the cgroup is made at each start and removed at each exit.
func containerCgroup(parent, id string) (*cgroup.Cgroup, error) {
	h, err := hostCgroups()
	if err != nil {
		return nil, err
	}
	return h.Under(parent).Load(id)
}

// cgroupOf is containerCgroup for e.
func cgroupOf(e *entry) (*cgroup.Cgroup, error) {
	return containerCgroup(cgroupParentOf(e.c), e.id)
}

// frozen reports whether the cgroup of container e is frozen, or being
// frozen. A container that does not run, or has no freezer, is not.
func frozen(e *entry) bool {
	cg, err := cgroupOf(e)
	if err != nil {
		return false
	}
	st, err := cg.FreezerState()
	return err == nil && st != cgroup.Thawed
}

// paused reports whether e, whose state is st, is paused.
func paused(e *entry, st shim.State) bool {
	return st.Status == shim.Running && frozen(e)
}

// ContainerPause freezes every process of a running container (docker
// pause): they stop where they stand, without a signal, until
// ContainerUnpause.
func (d *Daemon) ContainerPause(ctx context.Context, name string) error {
	if err := d.refuseRootlessFreeze("pause"); err != nil {
		return err
	}
	e, cg, err := d.runningCgroup(name)
	if err != nil {
		return err
	}
	// ps shows what the freezer says after this, whatever happens.
	defer e.forgetView()
	st, err := cg.FreezerState()
	if err != nil {
		return fmt.Errorf("Cannot pause container %s: %w", e.id, err)
	}
	if st != cgroup.Thawed {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is already paused", e.id))
	}
	if err := cg.Freeze(); err != nil {
		if !e.c.Running() {
			return notRunning(e)
		}
		return fmt.Errorf("Cannot pause container %s: %w", e.id, err)
	}
	d.healthPause(e) // as dockerd: its checks stop, "unhealthy"
	d.emitContainer(e, moby.ActionPause, nil)
	return nil
}

// ContainerUnpause lets the processes of a paused container run again,
// from where they stopped (docker unpause).
func (d *Daemon) ContainerUnpause(ctx context.Context, name string) error {
	if err := d.refuseRootlessFreeze("unpause"); err != nil {
		return err
	}
	e, cg, err := d.runningCgroup(name)
	if errdefs.IsConflict(err) {
		// Docker's word for a container that does not run either: it
		// is not paused.
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", e.id))
	}
	if err != nil {
		return err
	}
	defer e.forgetView()
	st, err := cg.FreezerState()
	if err != nil {
		return fmt.Errorf("Cannot unpause container %s: %w", e.id, err)
	}
	if st == cgroup.Thawed {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", e.id))
	}
	if err := cg.Thaw(); err != nil {
		return fmt.Errorf("Cannot unpause container %s: %w", e.id, err)
	}
	d.healthResume(e)
	d.emitContainer(e, moby.ActionUnPause, nil)
	return nil
}

// runningCgroup finds the container name names and its cgroup; a
// container that does not run is a conflict (409), as in Docker. The
// entry is returned with a conflict, for its ID.
func (d *Daemon) runningCgroup(name string) (*entry, *cgroup.Cgroup, error) {
	e, err := d.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if !e.c.Running() {
		return e, nil, notRunning(e)
	}
	cg, err := cgroupOf(e)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil, notRunning(e) // it has just exited
	}
	if err != nil {
		return e, nil, err
	}
	return e, cg, nil
}

// execPaused is the refusal of an exec into a paused container, in
// Docker's words: the exec's process would join the frozen cgroup and
// freeze before running a single instruction.
func execPaused(e *entry) error {
	if !frozen(e) {
		return nil
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", e.id))
}

// startPaused is the refusal of a start of a paused container, which
// runs already: Docker answers 409, not the 304 of a running one.
func startPaused(e *entry) error {
	if !frozen(e) {
		return nil
	}
	return errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
}

// thawAfterSignal is what Docker does after sending sig to a container
// that may be paused. A frozen process cannot act on a signal (on
// cgroup v1 not even on SIGKILL), so Docker unpauses the container after
// sending one that is meant to end it: SIGKILL, or the container's stop
// signal, or any signal at all when the container has no stop signal
// configured. Any other signal (kill -s USR1 to a container whose stop
// signal is SIGTERM) waits, pending, until the container is unpaused.
// The signal goes first, so that it is the first thing the processes
// see when they run again.
func (d *Daemon) thawAfterSignal(e *entry, sig unix.Signal) {
	if !meantToEnd(e, sig) {
		return
	}
	cg, err := cgroupOf(e)
	if err != nil {
		return
	}
	if st, err := cg.FreezerState(); err == nil && st != cgroup.Thawed {
		_ = cg.Thaw() // as Docker, a failed unpause does not fail the signal
		e.forgetView()
	}
}

// meantToEnd reports whether Docker takes sig as meant to end container
// e: SIGKILL, its stop signal, or any signal when it has none. Such a
// signal thaws a paused container (thawAfterSignal) and cancels its
// restart policy (containers_restart.go).
func meantToEnd(e *entry, sig unix.Signal) bool {
	if sig == unix.SIGKILL || e.rec == nil || e.rec.Config.StopSignal == "" {
		return true
	}
	stop, err := parseSignal(e.rec.Config.StopSignal)
	return err == nil && stop == sig
}

// signalContainer sends sig to e's init, and thaws e afterwards if
// Docker would (thawAfterSignal). It is docker kill's and rm -f's
// signal.
func (d *Daemon) signalContainer(e *entry, sig unix.Signal) error {
	if err := e.c.Signal(sig); err != nil {
		return err
	}
	d.emitContainer(e, moby.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	d.thawAfterSignal(e, sig)
	return nil
}

// stopContainer is docker stop's sequence: sig, up to grace for the
// container to exit (for ever if negative), then SIGKILL. Each signal
// goes through signalContainer, which reports it (the kill events,
// which docker events shows before the die: chapter 07's StopWith sends
// both signals itself, unseen). A paused container gets Docker's order:
// the signal, then the thaw (thawAfterSignal), then the wait and
// SIGKILL, with a thaw after it too.
func (d *Daemon) stopContainer(e *entry, sig unix.Signal, grace time.Duration) (shim.State, error) {
	if err := d.signalContainer(e, sig); err != nil {
		if errors.Is(err, shim.ErrNotRunning) {
			return e.c.Wait(10 * time.Second)
		}
		return shim.State{}, err
	}
	if grace < 0 {
		grace = 100 * 365 * 24 * time.Hour // for ever
	}
	if st, err := e.c.Wait(grace); err == nil {
		return st, nil
	}
	if err := d.signalContainer(e, unix.SIGKILL); err != nil && !errors.Is(err, shim.ErrNotRunning) {
		return shim.State{}, err
	}
	return e.c.Wait(10 * time.Second)
}
