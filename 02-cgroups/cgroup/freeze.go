package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// FreezerState is where a cgroup's freezer stands, in v1's words (v2
// reports the same three states differently; FreezerState translates).
type FreezerState string

const (
	// Thawed: the processes run as usual.
	Thawed FreezerState = "THAWED"
	// Freezing: a freeze was asked for and some processes have not
	// stopped yet. A cgroup left in this state is half stopped, so
	// Freeze never returns with it: it either gets to Frozen or thaws
	// again.
	Freezing FreezerState = "FREEZING"
	// Frozen: every process of the cgroup is stopped.
	Frozen FreezerState = "FROZEN"
)

// freezeTimeout bounds how long Freeze waits for the last process to
// stop. A process in an uninterruptible sleep (waiting for a disk, an
// NFS server, a FUSE daemon) cannot be frozen until it wakes up.
const freezeTimeout = 5 * time.Second

// The interface files of the freezer.
const (
	freezerStateV1 = "freezer.state" // v1: THAWED, FREEZING, FROZEN
	freezeV2       = "cgroup.freeze" // v2: 1 asks for a freeze, 0 for a thaw
	eventsV2       = "cgroup.events" // v2: "frozen 1" once the freeze is complete
)

// Freeze stops every process of the cgroup where it stands, without
// telling it: no signal is sent, so the processes cannot notice, catch
// or ignore it (SIGSTOP would show in their parent's waitpid and in
// ps). Children forked meanwhile are frozen too. Freeze returns once
// all of them are stopped; if that takes longer than a few seconds, it
// thaws the cgroup again and fails, rather than leave it half frozen.
//
// Freezing a frozen cgroup is no error. See the package documentation
// for why and how.
func (c *Cgroup) Freeze() error {
	if err := c.freeze(freezeTimeout); err != nil {
		return fmt.Errorf("cgroup %s: freeze: %w", c.name, err)
	}
	return nil
}

// Thaw lets the processes of a frozen cgroup run again, from where they
// were stopped. Thawing a cgroup that is not frozen is no error.
func (c *Cgroup) Thaw() error {
	if err := c.thaw(); err != nil {
		return fmt.Errorf("cgroup %s: thaw: %w", c.name, err)
	}
	return nil
}

// FreezerState reads where the cgroup's freezer stands. It fails with
// an error matching errors.ErrUnsupported if the cgroup has no freezer:
// on v1 when no hierarchy carries the freezer controller, on v2 before
// Linux 5.2.
func (c *Cgroup) FreezerState() (FreezerState, error) {
	dir, err := c.freezerDir()
	if err != nil {
		return "", fmt.Errorf("cgroup %s: read freezer state: %w", c.name, err)
	}
	st, err := c.freezerState(dir)
	if err != nil {
		return "", fmt.Errorf("cgroup %s: read freezer state: %w", c.name, err)
	}
	return st, nil
}

// freezerDir returns the directory holding the freezer's files.
func (c *Cgroup) freezerDir() (string, error) {
	dir := c.Path("freezer")
	switch {
	case dir == "" && c.version == V2:
		return "", fmt.Errorf("the cgroup has no directory: %w", fs.ErrNotExist)
	case dir == "":
		return "", fmt.Errorf("the cgroup is in no freezer hierarchy (is the v1 freezer controller mounted?): %w", errors.ErrUnsupported)
	}
	file := freezerStateV1
	if c.version == V2 {
		file = freezeV2
	}
	if !isDir(dir) {
		return "", fmt.Errorf("%s: %w", dir, fs.ErrNotExist)
	}
	if !exists(dir, file) {
		return "", fmt.Errorf("%s has no %s (a kernel older than 5.2?): %w", dir, file, errors.ErrUnsupported)
	}
	return dir, nil
}

// freezerState reads the state from dir.
//
// On v1 reading freezer.state is what moves a freeze along: the kernel
// checks whether every process has stopped only when the file is read,
// and only then turns FREEZING into FROZEN.
//
// On v2 the wish and the fact are two files: cgroup.freeze says whether
// a freeze was asked for, "frozen" in cgroup.events whether it is
// complete. The kernel updates the latter by itself.
func (c *Cgroup) freezerState(dir string) (FreezerState, error) {
	if c.version != V2 {
		s, err := readString(dir, freezerStateV1)
		if err != nil {
			return "", err
		}
		switch st := FreezerState(s); st {
		case Thawed, Freezing, Frozen:
			return st, nil
		}
		return "", fmt.Errorf("%s: unexpected state %q", filepath.Join(dir, freezerStateV1), s)
	}
	want, err := readString(dir, freezeV2)
	if err != nil {
		return "", err
	}
	if want == "0" {
		return Thawed, nil
	}
	ev, err := readKeyed(dir, eventsV2)
	if err != nil {
		return "", err
	}
	if ev["frozen"] == 1 {
		return Frozen, nil
	}
	return Freezing, nil
}

// freeze asks for the freeze and waits up to timeout for it to be
// complete, reading the state again with a growing pause.
//
// Neither interface makes the writer wait. On v1 the write marks every
// process as to be frozen and returns; each process stops the next time
// it runs in the kernel (at once if it sleeps, at its next interrupt if
// it computes), and the state reads FREEZING until the last one has.
// Nothing announces the end: it is found by reading freezer.state
// again. The write is repeated each time, which the kernel takes as one
// more pass over the cgroup's processes, in case one slipped past the
// first (a process that was being moved in as the freeze began).
//
// On v2 the kernel keeps the count itself and sets "frozen 1" in
// cgroup.events when the last process stops. A change of cgroup.events
// wakes poll(2) and inotify watchers, so a program could sleep until
// then; re-reading it with a growing pause, as for v1, is simpler and
// costs a few reads of a small file.
func (c *Cgroup) freeze(timeout time.Duration) error {
	dir, err := c.freezerDir()
	if err != nil {
		return err
	}
	file, value := freezerStateV1, string(Frozen)
	if c.version == V2 {
		file, value = freezeV2, "1"
	}
	if err := c.ops.setFreezer(dir, file, value); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	pause := 50 * time.Microsecond
	for {
		st, err := c.freezerState(dir)
		if err != nil {
			return c.undoFreeze(err)
		}
		if st == Frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return c.undoFreeze(fmt.Errorf("%s: some processes did not stop within %v (in an uninterruptible sleep?)", dir, timeout))
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
		if c.version != V2 {
			if err := c.ops.setFreezer(dir, file, value); err != nil {
				return c.undoFreeze(err)
			}
		}
	}
}

// undoFreeze thaws a freeze that failed, and returns err with whatever
// went wrong thawing.
func (c *Cgroup) undoFreeze(err error) error {
	if terr := c.thaw(); terr != nil {
		return errors.Join(err, fmt.Errorf("thaw again: %w", terr))
	}
	return err
}

// thaw writes the thaw. On both interfaces it takes effect during the
// write: every process is made runnable again before write(2) returns.
func (c *Cgroup) thaw() error {
	dir, err := c.freezerDir()
	if err != nil {
		return err
	}
	if c.version == V2 {
		return c.ops.setFreezer(dir, freezeV2, "0")
	}
	return c.ops.setFreezer(dir, freezerStateV1, string(Thawed))
}

// thawForKill prepares a frozen cgroup for Destroy. On v1 a frozen
// process does not die of SIGKILL: the signal stays pending until the
// process runs again, so rmdir would find the cgroup busy for ever. So
// the processes are sent SIGKILL first and the cgroup thawed after: they
// wake up straight into their death, and run none of their own code.
// (On v2 a fatal signal ends a frozen process; thawing does no harm.)
func (c *Cgroup) thawForKill() error {
	dir, err := c.freezerDir()
	if err != nil {
		return nil // no freezer, or no cgroup: nothing is frozen
	}
	st, err := c.freezerState(dir)
	if err != nil || st == Thawed {
		return nil
	}
	if err := c.killAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.thaw()
}
