package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Status is where a container is in its life.
type Status string

// The statuses, as docker ps and inspect name them.
const (
	Created Status = "created" // recorded, never started (or it failed to start)
	Running Status = "running" // its init runs, under a shim
	Exited  Status = "exited"  // its command ended; ExitCode says how
	Dead    Status = "dead"    // its shim was killed: nobody saw how it ended
)

// State is a container's state.json, written by the shim: running when
// the container has started, exited (with the exit status) when the shim
// has cleaned up after it.
type State struct {
	Status Status `json:"status"`
	// Pid is the host's PID of the container's init, while it runs.
	Pid int `json:"pid,omitempty"`
	// ShimPid is the PID of the shim that supervises this run.
	ShimPid int `json:"shimPid,omitempty"`
	// PidNS identifies the container's PID namespace ("pid:[4026532245]"),
	// in which init is PID 1: with it a PID read back later can be
	// checked to still be this container's init.
	PidNS string `json:"pidNS,omitempty"`
	// Tty is the host's name of the slave of the container's terminal
	// (/dev/pts/N), for Resize, while a run with Config.Tty goes on.
	Tty string `json:"tty,omitempty"`
	// ExitCode is the command's status: its exit code, or 128+N when
	// signal N killed it (137 for SIGKILL), as a shell reports it.
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// OOMKilled is set when the kernel's OOM killer killed a process of
	// the container (chapter 02's cgroup counts it).
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Error says why the container could not start, or what went wrong
	// when the shim cleaned up after it.
	Error string `json:"error,omitempty"`
}

// exitRecord is exit.json: what the monitor knows when the container's
// init has exited, written before anything else can go wrong.
type exitRecord struct {
	ExitCode   int       `json:"exitCode"`
	FinishedAt time.Time `json:"finishedAt"`
}

// State returns the container's state. state.json says "running" from
// the start of a run until the shim has cleaned up after it; two more
// facts refine that:
//
//   - exit.json exists: the command has ended, the shim is cleaning up;
//     the container has Exited, with that status.
//   - nobody holds shim.lock: the shim is gone without writing its last
//     state (it was killed): the container is Dead.
func (c *Container) State() (State, error) {
	for {
		st, err := c.rawState()
		if err != nil || st.Status != Running {
			return st, err
		}
		if ex, ok, err := c.readExit(); err != nil {
			return st, err
		} else if ok {
			st.Status, st.ExitCode, st.FinishedAt = Exited, ex.ExitCode, ex.FinishedAt
			return st, nil
		}
		if c.shimAlive() {
			return st, nil
		}
		// The shim may have finished between the reads above: only a
		// state.json that still says running after it is gone is dead.
		again, err := c.rawState()
		if err != nil {
			return again, err
		}
		if again != st {
			continue
		}
		if _, ok, _ := c.readExit(); ok {
			continue
		}
		st.Status = Dead
		st.Error = "the container's shim died: its exit status is unknown"
		return st, nil
	}
}

// rawState reads state.json as the shim last wrote it.
func (c *Container) rawState() (State, error) {
	var st State
	data, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return State{Status: Created}, nil
	}
	if err != nil {
		return st, fmt.Errorf("container %s: reading state: %w", c.Name(), err)
	}
	if json.Unmarshal(data, &st) != nil {
		// Torn by a crash of the machine (writeFile swaps it in
		// without waiting for the disk): the run it described, if
		// any, died with the machine. As a run whose shim is gone,
		// it is found Dead, or Exited if exit.json kept its status,
		// and recovered like one.
		return State{Status: Running, Error: "the container's state was lost in a crash of the machine"}, nil
	}
	return st, nil
}

func (c *Container) readExit() (exitRecord, bool, error) {
	var ex exitRecord
	data, err := os.ReadFile(filepath.Join(c.dir, exitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ex, false, nil
	}
	if err != nil {
		return ex, false, fmt.Errorf("container %s: reading exit status: %w", c.Name(), err)
	}
	if err := json.Unmarshal(data, &ex); err != nil {
		return ex, false, fmt.Errorf("container %s: reading %s: %w", c.Name(), filepath.Join(c.dir, exitFile), err)
	}
	return ex, true, nil
}

// Running reports whether the container's command is running: started,
// and its exit not yet recorded.
func (c *Container) Running() bool {
	st, err := c.State()
	return err == nil && st.Status == Running
}

// shimAlive reports whether a shim holds the container's lock.
//
// The shim takes an exclusive flock(2) on shim.lock when it starts and
// never lets go: the kernel releases it when the shim's last file
// descriptor for it closes, that is, when the shim exits, however it
// exits. Unlike a PID in a file, a lock cannot outlive its process or be
// inherited by an unrelated process that got the same PID.
func (c *Container) shimAlive() bool { return lockHeld(filepath.Join(c.dir, lockFile)) }

// takeLock is the shim's side: it takes shim.lock for good, or fails if
// another shim has it.
func takeLock(dir string) (*os.File, error) {
	f, err := lockFor(filepath.Join(dir, lockFile))
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w: another shim supervises it", ErrRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("shim lock: %w", err)
	}
	return f, nil
}

// The locks of this package (shim.lock, and the store's supervisor.lock)
// are held exclusively for a process's life, and looked at by others
// with a shared lock that they let go at once: a lock held is a process
// alive, which a PID in a file cannot tell, as PIDs are reused.

// lockFor opens path and takes its exclusive lock, for as long as the
// returned file is open. A process looking at the lock holds it shared
// for a moment, so a few retries tell that apart from a lock taken; one
// that stays taken fails with an error matching unix.EWOULDBLOCK.
func lockFor(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || try == 50 {
			f.Close()
			return nil, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lockHeld reports whether some process holds the lock at path: a
// shared lock cannot be had while it holds its exclusive one.
func lockHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}

// lockReleased returns a channel closed once the lock at path is free:
// a goroutine waits for a shared lock on it (the kernel wakes it the
// moment the holder lets go), lets go at once, as lockHeld does, and
// closes the channel. It is how Wait waits for a holder that is not the
// shim (the daemon cleaning up after it: supervisor.go), where a pidfd
// cannot tell: woken at once, not at the end of a sleep. A waiter whose
// caller gave up stays until the lock is let go, which every holder
// does at the latest when it exits.
func lockReleased(path string) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_SH)
			if err != unix.EINTR {
				break
			}
		}
		if err == nil {
			_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
	}()
	return done
}
