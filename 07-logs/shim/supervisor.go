package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Who cleans up after a container: the shim, or its supervisor.
//
// A shim cleans up after its container (Runtime.Cleanup: the cgroup, the
// network endpoint) because nobody else may be there to do it: chapter
// 07's `run -d` returns at once. But the clean-up is Go code, the
// program's own, and the shim has become the C monitor by then: it must
// execute the program again, whose start costs milliseconds (the Go
// runtime, the program's package initialisers), on the path of every
// `docker run --rm`, which waits for the removal.
//
// A daemon that watches every container of its store (berthd) is there,
// and can run the same clean-up at once, in its own process. It says so
// by holding the store's supervisor lock, <root>/supervisor.lock, for as
// long as it runs. When a container exits, its monitor writes exit.json
// and then looks at that lock: held, it exits and leaves the clean-up to
// the supervisor; free (no daemon, or a daemon that died), it cleans up
// itself, as before.
//
//	monitor: exit.json --> supervisor lock held? --yes--> exit (shim.lock is released)
//	                                  |                         |
//	                                  no                  supervisor: Finish
//	                                  v                   (Cleanup, state.json: exited)
//	                     execve Go cleanup (Cleanup, state.json: exited)
//
// If the supervisor dies between the monitor's look and its own work,
// the container is left with exit.json written and state.json saying
// running, and nobody holding shim.lock: exactly what a killed shim
// leaves, except that the exit status is known. Whoever comes next (the
// restarted daemon, a start, an rm) finishes it the same way.

// supervisorFile is the store's supervisor lock: <root>/supervisor.lock.
const supervisorFile = "supervisor.lock"

// supervisorPath is the supervisor lock of the store that holds the
// container directory dir (<root>/containers/<id>).
func supervisorPath(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(dir)), supervisorFile)
}

// Supervisor is a held supervisor lock; Close gives it up.
type Supervisor struct{ f *os.File }

// Close ends the supervision: shims clean up after their containers
// themselves again.
func (s *Supervisor) Close() error { return s.f.Close() }

// Supervise makes the caller the supervisor of the store's containers
// until Close: their shims leave the clean-up after an exit to it, and it
// must call Runtime.Finish for each container that exits. It fails if
// another process supervises the store (two daemons on one data root).
func (s *Store) Supervise() (*Supervisor, error) {
	path := filepath.Join(s.root, supervisorFile)
	f, err := lockFor(path)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("%s: another process supervises the containers under %s", path, s.root)
	}
	if err != nil {
		return nil, fmt.Errorf("supervisor lock %s: %w", path, err)
	}
	return &Supervisor{f: f}, nil
}

// supervised reports whether a supervisor holds the lock at path.
func supervised(path string) bool { return lockHeld(path) }

// Finish finishes a run whose shim left the clean-up to the supervisor
// (or died): it runs Cleanup and records the container as exited. It
// does nothing for a container whose shim still runs or already finished.
// A supervisor calls it when it sees a shim go.
func (rt Runtime) Finish(c *Container) error {
	if !c.needsRecovery() {
		return nil
	}
	return rt.recover(c)
}
