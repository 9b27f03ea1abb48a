package ociruntime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Warn reports what goes wrong but does not fail an operation (a
// poststart or poststop hook, as the spec wants). The command line
// points it at its log; the default writes to stderr.
var Warn = func(err error) { fmt.Fprintf(os.Stderr, "berth-runtime: warning: %v\n", err) }

// Start lets a created container's process run: it opens the exec FIFO
// for reading, which completes init's open for writing, reads the byte
// init writes, removes the FIFO (the container is "running" from then
// on), and runs the poststart hooks.
func Start(root, id string) error {
	r, err := Load(root, id)
	if err != nil {
		return err
	}
	return r.start(root, nil, nil)
}

// start is Start for a loaded record; c is its config when the caller
// has it already (run), nil to decode it; g is the gate's descriptors
// when the caller opened them at create (run), nil otherwise.
func (r *Record) start(root string, c *recordedConfig, g *gate) error {
	if g == nil {
		if st := r.Status(root); st != Created {
			return fmt.Errorf("container %s: cannot start a container that is %s", r.ID, st)
		}
		var err error
		if g, err = r.openGate(root); err != nil {
			return err
		}
	}
	defer g.close()
	if err := g.release(r, root); err != nil {
		return err
	}
	if c == nil {
		var err error
		if c, err = r.config(); err != nil {
			return err
		}
	}
	if len(c.Hooks.Poststart) > 0 {
		st := hookState(r.ID, Running, r.Pid, r.Bundle, r.Annotations)
		if herr := runHooksAll(hookPoststart, c.Hooks.Poststart, st); herr != nil {
			Warn(fmt.Errorf("container %s: %w", r.ID, herr))
		}
	}
	return nil
}

// gate is start's side of the exec FIFO: the FIFO open for reading,
// and a pidfd of init, to notice its end.
type gate struct {
	fifo, pidfd int
}

func (g *gate) close() {
	unix.Close(g.fifo)
	unix.Close(g.pidfd)
}

// openGate opens the gate of a created container. The FIFO is opened
// without blocking (a blocking open would hang for ever if init died
// meanwhile). The pidfd comes first: once the FIFO is open, init may
// run its process to its end at once (`true`), before a pidfd could be
// had.
func (r *Record) openGate(root string) (*gate, error) {
	pidfd, err := r.pidfd()
	if err != nil {
		return nil, err
	}
	fifo, err := unix.Open(filepath.Join(Dir(root, r.ID), ExecFifo), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("container %s: exec FIFO: %w", r.ID, err)
	}
	return &gate{fifo: fifo, pidfd: pidfd}, nil
}

// release lets init go: poll waits for init's byte on the FIFO or
// init's end, whichever comes first (a pidfd becomes readable when its
// process exits). After the byte, init keeps its end open until the
// process replaces it (close-on-exec): the FIFO's end of file is the
// moment the process runs, which the poststart hooks must come after.
func (g *gate) release(r *Record, root string) error {
	path := filepath.Join(Dir(root, r.ID), ExecFifo)
	fds := []unix.PollFd{{Fd: int32(g.fifo), Events: unix.POLLIN}, {Fd: int32(g.pidfd), Events: unix.POLLIN}}
	got := false // init's byte
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("container %s: waiting on the exec FIFO: %w", r.ID, err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			var b [1]byte
			n, err := unix.Read(g.fifo, b[:])
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if n == 1 && !got {
				got = true
				// Once released, init's end is the only thing to
				// wait for: its exit closes it as well.
				fds = fds[:1]
				if err := os.Remove(path); err != nil {
					return fmt.Errorf("container %s: %w", r.ID, err)
				}
				continue
			}
			if n == 0 && err == nil && got {
				return nil // end of file: the process runs, or init failed
			}
			return fmt.Errorf("container %s: exec FIFO: read %d bytes: %v", r.ID, n, err)
		}
		if len(fds) > 1 && fds[1].Revents != 0 {
			return fmt.Errorf("container %s: init exited before start", r.ID)
		}
	}
}

// pidfd opens a descriptor for the record's init, which stays that
// process even if the PID is reused later: signals sent through it
// (kill) and waits on it (start, delete) cannot reach another process.
// The start time is checked after the open, so the descriptor is
// certainly init's.
func (r *Record) pidfd() (int, error) {
	fd, err := unix.PidfdOpen(r.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, fmt.Errorf("container %s: %w", r.ID, errNotRunning)
		}
		return -1, fmt.Errorf("container %s: pidfd of init %d: %w", r.ID, r.Pid, err)
	}
	if !r.Alive() {
		unix.Close(fd)
		return -1, fmt.Errorf("container %s: %w", r.ID, errNotRunning)
	}
	return fd, nil
}

// errNotRunning is runc's message for a container whose init is gone,
// which containerd's shim recognises.
var errNotRunning = errors.New("container not running")
