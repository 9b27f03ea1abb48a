package ociruntime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
// into chapter 02's parent and the container's own directory:
// "/default/abc" is parent "default", name "abc". Where the parent
// starts is hierarchiesFor's business: an absolute path from each
// hierarchy's root, a relative one from berth-runtime's own cgroup.
//
// A one-element path ("/foo", or "foo" under our own cgroup) has no
// parent: it is "" then (runtime-tools' "/cgrouptest").
//
// A systemd-style "slice:prefix:name" (containerd's CRI sends
// "test.slice:cri-containerd:ID" under critest) is, without
// --systemd-cgroup, one relative path element for runc as for berth: a
// directory of that name under the runtime's own cgroup, which is the
// cgroup of containerd's shim that runs it.
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
	h, err := hierarchiesFor(s.Linux.CgroupsPath)
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

// loadCgroupPath is loadCgroup for linux.cgroupsPath p. A relative p is
// found from the caller's own cgroup, as create made it from its own:
// the same one when one caller runs every command of a container, as
// containerd's shim does. (Record.CgroupPaths, through cgroupOfDirs,
// does not depend on it.)
func loadCgroupPath(p, id string) (*cgroup.Cgroup, error) {
	parent, name, err := cgroupPathName(p, id)
	if err != nil {
		return nil, err
	}
	h, err := hierarchiesFor(p)
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

// hierarchiesFor is this machine's hierarchies as linux.cgroupsPath p
// starts from: their roots for an absolute (or empty) path, and for a
// relative one the cgroup berth-runtime itself runs in, as runc reads
// it (libcontainer's GetOwnCgroupPath).
//
// It matters most for containerd's CRI, which gives every container a
// relative path ("test.slice:cri-containerd:ID") and runs the runtime
// from the shim's cgroup. The container then lives inside whatever
// cgroup its node's operator gave containerd: its CPU weight (cpu.shares
// 2, the CRI's for a container without a CPU request) is weighed
// against its siblings there, not against every top-level cgroup of the
// host. Made at the roots, such a container's setup (init, before the
// process runs) competes with each busy process of the root cgroup at
// 2 against 1024, and takes seconds on a loaded machine.
//
//	/sys/fs/cgroup/cpu/                       /sys/fs/cgroup/cpu/
//	├── (busy host tasks, 1024 each)          ├── (busy host tasks, 1024 each)
//	├── containerd.service/ (1024)            ├── containerd.service/ (1024)
//	│   └── shim                              │   ├── shim
//	└── test.slice:cri-containerd:ID (2)      │   └── test.slice:cri-containerd:ID (2)
//	    read from the roots: starved          read as runc reads it
func hierarchiesFor(p string) (*cgroup.Hierarchy, error) {
	h, err := cgroup.System()
	if err != nil || p == "" || strings.HasPrefix(p, "/") {
		return h, err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q is relative to our own cgroup: %w", p, err)
	}
	return rebase(h, string(b))
}

// rebase returns h with each hierarchy's mount point moved down to the
// cgroup that procCgroup (a /proc/PID/cgroup) names in it: a v1
// controller's from its line, a hybrid host's cgroup2 from the "0::"
// line. On a cgroup2-only host the parent of that cgroup is taken, as
// runc does: a cgroup that holds processes cannot give controllers to
// children (the "no internal processes" rule).
func rebase(h *cgroup.Hierarchy, procCgroup string) (*cgroup.Hierarchy, error) {
	own := map[string]string{} // controller ("" for cgroup2) -> path
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: malformed line %q", line)
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			own[ctrl] = parts[2]
		}
	}
	r := *h
	if h.Unified != "" {
		p, ok := own[""]
		if !ok {
			return nil, fmt.Errorf("/proc/self/cgroup: no cgroup2 line (0::)")
		}
		if h.Version == cgroup.V2 {
			p = path.Dir(p)
		}
		r.Unified = path.Join(h.Unified, p)
	}
	if h.Mounts != nil {
		r.Mounts = map[string]string{}
		for ctrl, mnt := range h.Mounts {
			p, ok := own[ctrl]
			if !ok {
				return nil, fmt.Errorf("/proc/self/cgroup: no line for the %s controller", ctrl)
			}
			r.Mounts[ctrl] = path.Join(mnt, p)
		}
	}
	return &r, nil
}

// cgroupOfDirs opens, through chapter 02's Hierarchy.Load, the cgroup
// whose directories create recorded (Record.CgroupPaths), wherever they
// are: each hierarchy is taken to start at the recorded directory's
// parent there, which need not be the same path in every hierarchy (a
// relative linux.cgroupsPath under our own cgroup, which may differ
// from one hierarchy to the next).
func cgroupOfDirs(dirs []string) (*cgroup.Cgroup, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no cgroup recorded")
	}
	h, err := cgroup.System()
	if err != nil {
		return nil, err
	}
	name := path.Base(dirs[0])
	under := func(mnt string) (string, bool) {
		for _, d := range dirs {
			if strings.HasPrefix(path.Clean(d), path.Clean(mnt)+"/") {
				if path.Base(d) != name {
					return "", false
				}
				return path.Dir(path.Clean(d)), true
			}
		}
		return "", false
	}
	r := *h
	r.AtRoot, r.Parent = true, ""
	if h.Unified != "" {
		r.Unified, _ = under(h.Unified)
	}
	if h.Mounts != nil {
		r.Mounts = map[string]string{}
		for ctrl, mnt := range h.Mounts {
			if p, ok := under(mnt); ok {
				r.Mounts[ctrl] = p
			}
		}
	}
	if r.Unified == "" && len(r.Mounts) == 0 {
		return nil, fmt.Errorf("cgroup %s: under no cgroup mount of this host", dirs[0])
	}
	return r.Load(name)
}
