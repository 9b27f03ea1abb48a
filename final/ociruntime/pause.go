package ociruntime

import (
	"fmt"
	"path/filepath"
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
// recorded, through chapter 02's Hierarchy.Load: the directory's path
// under its hierarchy's mount point is the parent and the container's
// name, which Load finds again in every hierarchy. The result must be
// the recorded directories, so that a command never acts on a cgroup
// create did not make.
func recordCgroup(rec *Record) (*cgroup.Cgroup, error) {
	if len(rec.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s: no cgroup recorded", rec.ID)
	}
	h, err := cgroup.System()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", rec.ID, err)
	}
	mounts := []string{}
	if h.Version == cgroup.V2 {
		mounts = append(mounts, h.Unified)
	} else {
		for _, m := range h.Mounts {
			mounts = append(mounts, m)
		}
	}
	first := filepath.Clean(rec.CgroupPaths[0])
	rel := ""
	for _, m := range mounts {
		if r, ok := strings.CutPrefix(first, filepath.Clean(m)+"/"); ok {
			rel = r
			break
		}
	}
	if rel == "" {
		return nil, fmt.Errorf("container %s: cgroup %s: under no cgroup mount of this host", rec.ID, first)
	}
	parent, name := filepath.Split(rel)
	// A cgroup at a hierarchy's root has no parent (a one-element
	// linux.cgroupsPath): cgroupsUnder says so to chapter 02.
	cg, err := cgroupsUnder(h, strings.TrimSuffix(parent, "/")).Load(name)
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
