package ociruntime

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Delete removes a container: its init (and every process left in its
// cgroup), its cgroup, its state directory, then runs the poststop
// hooks. A created container is deleted as a stopped one (its process
// never ran); a running or paused one only with force, which kills it
// first. With force, a container the runtime does not know is no
// error, and a state directory left without a record (a create that
// was killed half way) is removed.
func Delete(root, id string, force bool) error {
	r, err := Load(root, id)
	if errors.Is(err, ErrNotExist) {
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
	switch st := r.Status(root); st {
	case Stopped:
	case Created:
		if err := r.killAndWait(); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("container %s: cannot delete a container that is %s (stop it first, or --force)", id, st)
		}
		if err := r.killAndWait(); err != nil {
			return err
		}
	}
	spec, err := ParseConfig(r.Config)
	if err != nil {
		return fmt.Errorf("container %s: its recorded config: %w", id, err)
	}
	cg, err := loadCgroup(spec, id)
	if err != nil {
		return err
	}
	if cg != nil {
		// Destroy kills whatever is left (an init in a joined or the
		// host's PID namespace leaves its children behind) and
		// removes the directories.
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("container %s: %w", id, err)
		}
	}
	if spec.Hooks != nil {
		st := hookState(id, Stopped, 0, r.Bundle, r.Annotations)
		if herr := runHooksAll(hookPoststop, spec.Hooks.Poststop, st); herr != nil {
			Warn(fmt.Errorf("container %s: %w", id, herr))
		}
	}
	if err := os.RemoveAll(Dir(root, id)); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	return nil
}

// killAndWait kills init with SIGKILL and waits for it to exit (to be a
// zombie at least, which its parent reaps): through a pidfd, which
// becomes readable at the exit, so no PID is ever guessed at.
func (r *Record) killAndWait() error {
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
		if spec, err := ParseConfig(r.Config); err == nil {
			if cg, err := loadCgroup(spec, r.ID); err == nil && cg != nil {
				_ = cg.Thaw()
			}
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
