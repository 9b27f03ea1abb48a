package ociruntime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSignal reads a signal as kill takes it: a number ("9", "0" for
// none), a name with or without SIG ("KILL", "SIGKILL"), in any case.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		// 0 checks that init is there, as kill(2)'s does.
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: out of range", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("signal %q: unknown", s)
	}
	return sig, nil
}

// Kill sends sig to the container's init, or with all to every process
// in its cgroup. Init is signalled through a pidfd (Record.pidfd): a PID
// reused since init exited is never hit. A stopped container is refused
// with runc's "container not running"; with all, a container with no
// process left is no error, as runc has it (containerd's shim signals
// the whole cgroup of every container that exited, init's children).
func Kill(root, id string, sig unix.Signal, all bool) error {
	r, err := Load(root, id)
	if err != nil {
		return err
	}
	if all {
		return r.signalAll(sig)
	}
	fd, err := r.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container %s: %w", id, errNotRunning)
		}
		return fmt.Errorf("container %s: signal %d to init %d: %w", id, sig, r.Pid, err)
	}
	return nil
}

// signalAll signals every process of the container's cgroup. A frozen
// container would not act on the signal until thawed (SIGKILL
// included, on cgroup v1): its processes are signalled first, then the
// cgroup is thawed for them, as runc does.
func (r *Record) signalAll(sig unix.Signal) error {
	c, err := r.config()
	if err != nil {
		return err
	}
	cg, err := loadCgroupPath(c.cgroupsPath(), r.ID)
	if err != nil {
		return err
	}
	if cg == nil {
		if r.Alive() {
			return fmt.Errorf("container %s: its cgroup is gone", r.ID)
		}
		return nil // stopped, its cgroup gone: nobody to signal
	}
	pids, err := cg.Procs()
	if err != nil {
		return fmt.Errorf("container %s: %w", r.ID, err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container %s: signal %d to %d: %w", r.ID, sig, pid, err)
		}
	}
	if sig == unix.SIGKILL && r.frozen() {
		if err := cg.Thaw(); err != nil {
			return fmt.Errorf("container %s: %w", r.ID, err)
		}
	}
	return nil
}
