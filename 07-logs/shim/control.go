package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// pidfd opens a pidfd for the container's init: a handle on exactly that
// process, which a signal through it cannot miss or send to another
// process that reuses the PID.
//
// The PID comes from state.json, and could belong to someone else if
// init has exited and been reaped since. The shim reaps init only after
// writing exit.json. So: open the pidfd first, then check that exit.json
// is still missing; if it is, the pidfd is init's (alive or a zombie).
func (c *Container) pidfd() (int, error) {
	st, err := c.State()
	if err != nil {
		return -1, err
	}
	if st.Status != Running {
		return -1, fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name(), st.Status)
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, fmt.Errorf("%w: %s", ErrNotRunning, c.Name())
		}
		return -1, fmt.Errorf("container %s: pidfd of %d: %w", c.Name(), st.Pid, err)
	}
	if _, exited, err := c.readExit(); err != nil || exited {
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		return -1, fmt.Errorf("%w: %s has just exited", ErrNotRunning, c.Name())
	}
	return fd, nil
}

// Signal sends sig to the container's init (docker kill -s). Like the
// kernel, init decides what to do with it; as PID 1 of its namespace it
// does not even see a signal it has no handler for, except SIGKILL and
// SIGSTOP, which the kernel applies itself.
func (c *Container) Signal(sig unix.Signal) error {
	fd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("container %s: sending %s: %w", c.Name(), unix.SignalName(sig), err)
	}
	return nil
}

// Stop stops the container the way docker stop does: SIGTERM, a grace
// period for the command to exit, then SIGKILL, which nothing can ignore.
// The escalation is what makes stop work on a shell run as PID 1, which
// ignores SIGTERM (pitfall 7). Stop returns when the shim has recorded the
// exit and cleaned up. Stopping a container that is not running does
// nothing.
func (c *Container) Stop(grace time.Duration) (State, error) {
	return c.StopWith(unix.SIGTERM, grace)
}

// StopWith is Stop with another first signal than SIGTERM: the image's
// STOPSIGNAL, or docker stop --signal. A negative grace waits for ever.
func (c *Container) StopWith(sig unix.Signal, grace time.Duration) (State, error) {
	fd, err := c.pidfd()
	if errors.Is(err, ErrNotRunning) {
		return c.Wait(10 * time.Second)
	}
	if err != nil {
		return State{}, err
	}
	defer unix.Close(fd)
	for _, step := range []struct {
		sig  unix.Signal
		wait time.Duration
	}{{sig, grace}, {unix.SIGKILL, 10 * time.Second}} {
		if err := unix.PidfdSendSignal(fd, step.sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return State{}, fmt.Errorf("container %s: sending %s: %w", c.Name(), unix.SignalName(step.sig), err)
		}
		if exited(fd, step.wait) {
			break
		}
	}
	return c.Wait(10 * time.Second)
}

// exited waits up to timeout (for ever if negative) for the process of
// pidfd fd to exit.
func exited(fd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		ms := int(left.Milliseconds())
		if timeout < 0 {
			ms = -1
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == nil {
			return n > 0
		}
		if !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}

// Wait waits until the container's shim is done, that is until the
// container has exited and been cleaned up, and returns its state. It
// fails if that takes longer than timeout.
func (c *Container) Wait(timeout time.Duration) (State, error) {
	deadline := time.Now().Add(timeout)
	gone := 0                  // a shim PID already seen to exit
	var released chan struct{} // closed when the lock is let go (lockReleased)
	for {
		st, err := c.rawState()
		if err != nil {
			return st, err
		}
		// A pidfd on the shim wakes us the moment it exits. It is the
		// shim if the lock is still held after opening it (a dead
		// shim's PID could have been reused, but then nobody would hold
		// the lock: a new shim of this container would have written a
		// new ShimPid first). Once that shim has exited, a lock still
		// held is someone else's (a supervisor finishing the run, say):
		// its pidfd, readable for good, would make this loop spin, so
		// it waits for the lock itself instead (lockReleased).
		fd := -1
		if st.ShimPid > 0 && st.ShimPid != gone {
			fd, _ = unix.PidfdOpen(st.ShimPid, 0)
		}
		if !c.shimAlive() {
			if fd >= 0 {
				unix.Close(fd)
			}
			return c.State()
		}
		left := time.Until(deadline)
		if left <= 0 {
			if fd >= 0 {
				unix.Close(fd)
			}
			return st, fmt.Errorf("container %s: still running after %v", c.Name(), timeout)
		}
		if fd >= 0 {
			if exited(fd, min(left, time.Second)) {
				gone = st.ShimPid
			}
			unix.Close(fd)
		} else {
			if released == nil {
				released = lockReleased(filepath.Join(c.dir, lockFile))
			}
			t := time.NewTimer(min(left, time.Second))
			select {
			case <-released:
				released = nil // look again; a new holder gets a new wait
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// Resize sets the size of the container's terminal (docker resize): the
// kernel tells the terminal's foreground process group with SIGWINCH.
//
// The terminal is found by the name of its slave (State.Tty), in the
// container's own devpts, through /proc/PID/root of its init. That name
// is this container's terminal only while the shim holds the master: the
// shim closes it after recording the exit. So the name is opened first,
// and the container checked to be still running after: then the master
// was open all along, and the slave opened is the container's. The
// container's files are the container's to change, so the slave is
// opened with os.Root (no symlink leads out of its root) and must be a
// pseudo-terminal's slave.
func (c *Container) Resize(rows, cols uint16) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status != Running {
		return fmt.Errorf("%w: %s is %s", ErrNotRunning, c.Name(), st.Status)
	}
	if st.Tty == "" {
		return fmt.Errorf("container %s has no terminal (it was not created with a tty)", c.Name())
	}
	root, err := os.OpenRoot(fmt.Sprintf("/proc/%d/root", st.Pid))
	if err != nil {
		return fmt.Errorf("container %s: its terminal: %w", c.Name(), err)
	}
	defer root.Close()
	f, err := root.OpenFile(strings.TrimPrefix(st.Tty, "/"), os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("container %s: its terminal: %w", c.Name(), err)
	}
	defer f.Close()
	var fst unix.Stat_t
	// The slaves of Unix 98 pseudo-terminals have majors 136 to 143.
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil || fst.Mode&unix.S_IFMT != unix.S_IFCHR ||
		unix.Major(fst.Rdev) < 136 || unix.Major(fst.Rdev) > 143 {
		return fmt.Errorf("container %s: %s is not its terminal", c.Name(), st.Tty)
	}
	if !c.Running() {
		return fmt.Errorf("%w: %s has just exited", ErrNotRunning, c.Name())
	}
	return SetWinsize(f, rows, cols)
}

// Supervised reports whether a shim supervises the container at this
// moment: it runs, or its shim is still cleaning up after it. Once it
// reports false after a run, Cleanup is done (or the shim died: see
// State's Dead).
func (c *Container) Supervised() bool { return c.shimAlive() }

// needsRecovery reports a container whose shim died before it could
// write the final state: state.json still says running, but nobody holds
// the lock.
func (c *Container) needsRecovery() bool {
	st, err := c.rawState()
	return err == nil && st.Status == Running && !c.shimAlive()
}

// RemoveContainer deletes the container: its record, its log, its name, and what
// the program keeps for it (Runtime.Remove). A running container is
// refused (S29), unless force, which kills it first, as docker rm -f.
func (rt Runtime) RemoveContainer(c *Container, force bool) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	if st.Status == Running {
		if !force {
			return fmt.Errorf("%w: cannot remove %s; stop it first, or use rm -f", ErrRunning, c.Name())
		}
		if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	if _, err := c.Wait(10 * time.Second); err != nil {
		return err
	}
	if c.needsRecovery() {
		if err := rt.recover(c); err != nil {
			return err
		}
	}
	if rt.Remove != nil {
		if err := rt.Remove(c); err != nil {
			return err
		}
	}
	if c.store != nil {
		link := filepath.Join(namesDir(c.store.root), c.Name())
		if id, err := os.Readlink(link); err == nil && id == c.ID() {
			if err := os.Remove(link); err != nil {
				return fmt.Errorf("removing container %s: %w", c.Name(), err)
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("removing container %s: %w", c.Name(), err)
	}
	return nil
}
