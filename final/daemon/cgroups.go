package daemon

import (
	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/07-logs/shim"
)

// Where a container's cgroup is. Chapter 02 makes it under a parent
// cgroup: the daemon's (Options.CgroupParent, "berth" or one derived from
// the data root), or the container's own (docker run --cgroup-parent).
// The parent is decided at create and kept in the container's spec
// (runSpec.Run.CgroupParent), since the cgroup must be found again by
// whoever comes later: the shim that cleans up after the exit, maybe
// after the daemon restarted with another --cgroup-parent; exec, pause
// and stats. A spec from before the parent was recorded has none, which
// is chapter 02's default, where those containers' cgroups are.

// cgroupParent is the parent of a new container's cgroup: the one it asks
// for, checked, or the daemon's.
func (d *Daemon) cgroupParent(asked string) (string, error) {
	if asked == "" {
		return d.opts.CgroupParent, nil
	}
	p, err := cgroup.CleanParent(asked)
	if err != nil {
		return "", invalid("--cgroup-parent: %v", err)
	}
	return p, nil
}

// cgroupParentOf reads the parent recorded in c's spec. Only that field
// is decoded: ps asks it of every running container (paused).
func cgroupParentOf(c *shim.Container) string {
	var s struct {
		Run struct{ CgroupParent string } `json:"run"`
	}
	_ = c.DecodeSpec(&s) // unreadable: the default, as for an old spec
	return s.Run.CgroupParent
}

// cgroupParentOfID is cgroupParentOf for the container with ID id, or
// the daemon's parent for a container the store does not know.
func (d *Daemon) cgroupParentOfID(id string) string {
	if c, err := d.containers.Get(id); err == nil && c.ID() == id {
		return cgroupParentOf(c)
	}
	return d.opts.CgroupParent
}
