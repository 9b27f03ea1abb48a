package ociruntime

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Delete removes a container: its init (and every process left in its
// cgroup), the mounts it made in the host's table if it had no mount
// namespace of its own (mounts.go), its cgroup, its state directory,
// then runs the poststop hooks. A created container is deleted as a stopped one (its process
// never ran); a running or paused one only with force, which kills it
// first. With force, a container the runtime does not know is no
// error, and a state directory left without a record (a create that
// was killed half way) is removed.
func Delete(root, id string, force bool) error {
	r, err := Load(root, id)
	if errors.Is(err, ErrNotExist) {
		// A create killed after it wrote down the container's mounts
		// on the host, before its record: they go too.
		if uerr := unmountRecorded(Dir(root, id)); uerr != nil {
			return fmt.Errorf("container %s: %w", id, uerr)
		}
		if rerr := os.RemoveAll(Dir(root, id)); rerr != nil {
			return fmt.Errorf("container %s: %w", id, rerr)
		}
		if force {
			return nil
		}
	}
	if err != nil {
		return err
	}
	return r.delete(root, force, nil)
}

// delete is Delete for a loaded record; c is its config when the caller
// has it already (run), nil to decode it.
func (r *Record) delete(root string, force bool, c *recordedConfig) error {
	if c == nil {
		var err error
		if c, err = r.config(); err != nil {
			return err
		}
	}
	switch st := r.Status(root); st {
	case Stopped:
	case Created:
		if err := r.killAndWait(c); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("container %s: cannot delete a container that is %s (stop it first, or --force)", r.ID, st)
		}
		if err := r.killAndWait(c); err != nil {
			return err
		}
	}
	// A container without a mount namespace of its own left its
	// mounts in the host's table: they go, init being dead (mounts.go).
	if err := unmountRecorded(Dir(root, r.ID)); err != nil {
		return fmt.Errorf("container %s: %w", r.ID, err)
	}
	if err := r.removeCgroup(c.cgroupsPath()); err != nil {
		return err
	}
	if len(c.Hooks.Poststop) > 0 {
		st := hookState(r.ID, Stopped, 0, r.Bundle, r.Annotations)
		if herr := runHooksAll(hookPoststop, c.Hooks.Poststop, st); herr != nil {
			Warn(fmt.Errorf("container %s: %w", r.ID, herr))
		}
	}
	if err := os.RemoveAll(Dir(root, r.ID)); err != nil {
		return fmt.Errorf("container %s: %w", r.ID, err)
	}
	return nil
}

// killAndWait kills init with SIGKILL and waits for it to exit (to be a
// zombie at least, which its parent reaps): through a pidfd, which
// becomes readable at the exit, so no PID is ever guessed at.
func (r *Record) killAndWait(c *recordedConfig) error {
	fd, err := r.pidfd()
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("container %s: killing init %d: %w", r.ID, r.Pid, err)
	}
	if r.frozen() {
		// A frozen init on cgroup v1 dies only once thawed.
		if cg, err := loadCgroupPath(c.cgroupsPath(), r.ID); err == nil && cg != nil {
			_ = cg.Thaw()
		}
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("container %s: waiting for init %d: %w", r.ID, r.Pid, err)
		}
		return nil
	}
}
