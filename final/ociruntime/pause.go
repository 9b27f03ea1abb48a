package ociruntime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Pause freezes every process of container id (`berth-runtime pause`):
// chapter 02's freezer, which stops them where they stand without a
// signal they could see or catch (v1's freezer.state, v2's
// cgroup.freeze). The state then reads "paused". As runc, it pauses a
// created container too: its init, waiting on the exec FIFO, is frozen
// with the rest.
func Pause(root, id string) error {
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return err
	}
	if err := cg.Freeze(); err != nil {
		return fmt.Errorf("container %s: pause: %w", rec.ID, err)
	}
	return nil
}

// Resume thaws a paused container (`berth-runtime resume`). A container
// that is not paused is refused, as runc does: a caller that resumes
// what it did not pause has lost track of the container.
func Resume(root, id string) error {
	rec, cg, err := liveCgroup(root, id)
	if err != nil {
		return err
	}
	st, err := cg.FreezerState()
	if err != nil {
		return fmt.Errorf("container %s: resume: %w", rec.ID, err)
	}
	if st == cgroup.Thawed {
		return fmt.Errorf("container %s is not paused", rec.ID)
	}
	if err := cg.Thaw(); err != nil {
		return fmt.Errorf("container %s: resume: %w", rec.ID, err)
	}
	return nil
}

// liveCgroup loads container id, checks that its init still runs, and
// opens its cgroup.
func liveCgroup(root, id string) (*Record, *cgroup.Cgroup, error) {
	rec, err := Load(root, id)
	if err != nil {
		return nil, nil, err
	}
	if !rec.Alive() {
		return nil, nil, fmt.Errorf("container %s is not running (its init, pid %d, has exited)", rec.ID, rec.Pid)
	}
	cg, err := recordCgroup(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, cg, nil
}

// recordCgroup opens the container's cgroup from the directories create
// recorded (cgroupOfDirs). The result must be the recorded directories,
// so that a command never acts on a cgroup create did not make.
func recordCgroup(rec *Record) (*cgroup.Cgroup, error) {
	if len(rec.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s: no cgroup recorded", rec.ID)
	}
	cg, err := cgroupOfDirs(rec.CgroupPaths) // cgroups.go
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	want := slices.Sorted(slices.Values(rec.CgroupPaths))
	want = slices.Compact(want)
	if got := cg.Dirs(); !slices.Equal(got, want) {
		return nil, fmt.Errorf("container %s: its cgroup is %s, not %s as recorded", rec.ID,
			strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return cg, nil
}
