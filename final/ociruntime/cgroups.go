package ociruntime

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// DefaultCgroupParent holds the cgroups of containers whose config.json
// names no linux.cgroupsPath: /berth-runtime/<id> in each hierarchy.
// (runc puts those under its own cgroup; a parent of berth-runtime's own
// keeps them together and apart from berthd's "berth".)
const DefaultCgroupParent = "berth-runtime"

// cgroupName splits linux.cgroupsPath as runc reads it without systemd
// into chapter 02's parent (relative to each hierarchy's root) and the
// container's own directory: "/default/abc" is parent "default", name
// "abc". A relative path is read the same way, from the hierarchies'
// roots (runc would start from its own cgroup, which for containerd's
// shim is where it was started; callers give absolute paths).
//
// A one-element path ("/foo") puts the container's cgroup directly under
// each hierarchy's root, as runc does (runtime-tools' "/cgrouptest"):
// parent is then "".
//
// A systemd-style "slice:prefix:name" (containerd's CRI sends
// "test.slice:cri-containerd:ID" under critest) is, without
// --systemd-cgroup, one relative path element for runc as for berth: a
// directory of that name (runc's under its own cgroup, berth's at the
// hierarchies' roots).
func cgroupName(s *specs.Spec, id string) (parent, name string, err error) {
	return cgroupPathName(s.Linux.CgroupsPath, id)
}

// cgroupPathName is cgroupName of linux.cgroupsPath p.
func cgroupPathName(p, id string) (parent, name string, err error) {
	if p == "" {
		return DefaultCgroupParent, id, nil
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			// Refused, not cleaned away: the path is about to
			// become directories that are created and removed.
			return "", "", fmt.Errorf("linux.cgroupsPath %q: \"..\" is not allowed", p)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	dir, base := path.Split(clean)
	dir = strings.TrimSuffix(dir, "/")
	if base == "" {
		return "", "", fmt.Errorf("linux.cgroupsPath %q: names no cgroup", p)
	}
	if dir == "" {
		return "", base, nil
	}
	if _, err := cgroup.CleanParent(dir); err != nil {
		return "", "", fmt.Errorf("linux.cgroupsPath %q: %w", p, err)
	}
	return dir, base, nil
}

// createCgroup makes the container's cgroup with its resources and
// device policy (R2's translations, applied by chapter 02).
func createCgroup(s *specs.Spec, id string) (*cgroup.Cgroup, error) {
	parent, name, err := cgroupName(s, id)
	if err != nil {
		return nil, err
	}
	res, err := Resources(s.Linux.Resources)
	if err != nil {
		return nil, err
	}
	rules, err := DeviceRules(s.Linux)
	if err != nil {
		return nil, err
	}
	if rules != nil {
		res.Devices = rules
	}
	h, err := cgroup.System()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	cg, err := cgroupsUnder(h, parent).New(name, res)
	if err != nil {
		return nil, fmt.Errorf("container %s: linux.cgroupsPath %s/%s: %w", id, parent, name, err)
	}
	return cg, nil
}

// loadCgroup reopens the cgroup of a container created earlier; nil and
// no error when it is gone already.
func loadCgroup(s *specs.Spec, id string) (*cgroup.Cgroup, error) {
	return loadCgroupPath(s.Linux.CgroupsPath, id)
}

// loadCgroupPath is loadCgroup for linux.cgroupsPath p.
func loadCgroupPath(p, id string) (*cgroup.Cgroup, error) {
	parent, name, err := cgroupPathName(p, id)
	if err != nil {
		return nil, err
	}
	h, err := cgroup.System()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	cg, err := cgroupsUnder(h, parent).Load(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return cg, nil
}

// removeCgroup removes the container's cgroup once its init is gone.
// Most often nothing is left in it (the kernel killed the rest of the
// PID namespace with init): then removing the recorded directories is
// all, and the mount table need not be read. A busy one (processes left
// in a shared or the host's PID namespace) takes chapter 02's Destroy,
// which kills them first.
func (r *Record) removeCgroup(cgroupsPath string) error {
	idle := true
	for _, dir := range r.CgroupPaths {
		if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
			idle = false
			break
		}
	}
	if idle {
		return nil
	}
	cg, err := loadCgroupPath(cgroupsPath, r.ID)
	if err != nil || cg == nil {
		return err
	}
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("container %s: %w", r.ID, err)
	}
	return nil
}

// cgroupsUnder is h for containers under parent, or at the hierarchies' roots
// for parent "" (a one-element linux.cgroupsPath).
func cgroupsUnder(h *cgroup.Hierarchy, parent string) *cgroup.Hierarchy {
	u := h.Under(parent)
	u.AtRoot = parent == ""
	return u
}
