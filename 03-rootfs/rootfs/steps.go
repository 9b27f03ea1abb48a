package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// Enter's steps, one at a time. Enter decides itself what a container
// gets (Docker's /dev, a read-only /sys, ...). An OCI runtime
// (final/ociruntime) is told instead, by a bundle's config.json, which
// filesystem goes where with which flags, in which order; it calls
// these steps in that order, so that paths are resolved inside the root
// and devices are made exactly as Enter does it. root is an O_PATH
// descriptor of the root directory (after its bind onto itself), what
// names it in errors.

// CreateFileInRoot opens file name inside root, creating an empty file
// and its missing parent directories first (a bind mount of a file
// needs a file to land on). It returns an O_PATH descriptor.
func CreateFileInRoot(root int, what, name string) (int, error) {
	return dir{fd: root, name: what}.createFile(name)
}

// MakeDeviceInRoot makes the device node d inside root, replacing what
// is at its path; in a user namespace, a bind of d.HostPath instead.
func MakeDeviceInRoot(root int, what string, d Device) error {
	return makeDevice(dir{fd: root, name: what}, d)
}

// DefaultDevices are the nodes every container gets in /dev (null, zero,
// full, random, urandom, tty), as devices to make with MakeDeviceInRoot:
// rwm for every user, owned by root, bound from the host's own node
// where a user namespace may not make them.
func DefaultDevices() []Device {
	out := make([]Device, len(devices))
	for i, d := range devices {
		out[i] = Device{HostPath: "/dev/" + d.name, Path: "/dev/" + d.name,
			Type: cgroup.CharDevice, Major: int64(d.major), Minor: int64(d.minor),
			Mode: d.mode & 0o7777, UID: d.uid, GID: d.gid, Access: "rwm"}
	}
	return out
}

// DevSymlinksInRoot makes /dev's symbolic links inside root: fd, stdin,
// stdout, stderr, ptmx -> pts/ptmx and, where the kernel has one, core
// -> /proc/kcore. Run it before pivot_root: it looks for /proc/kcore in
// the host's /proc.
func DevSymlinksInRoot(root int, what string) error {
	r := dir{fd: root, name: what}
	fd, err := r.mkdirAll("/dev", 0o755)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(fd)
	return devSymlinks(dir{fd: fd, name: what + "/dev"})
}

// MountSysInRoot mounts sysfs on target inside root with flags, or, where
// the kernel refuses (a user namespace without its own network
// namespace), binds the host's /sys read-only.
func MountSysInRoot(root int, what, target string, flags uintptr) error {
	return mountSys(dir{fd: root, name: what}, target, flags)
}

// MountCgroupsInRoot mounts the container's cgroups on target inside root
// with flags (see mountCgroups): run it in the container's cgroup
// namespace, or with hostCgroupns when the container keeps the host's.
func MountCgroupsInRoot(root int, what, target string, flags uintptr, hostCgroupns bool) error {
	return mountCgroups(dir{fd: root, name: what}, target, flags, hostCgroupns)
}

// PivotRoot makes the directory root, which must be a mount point, the
// root of the calling process's mount namespace and detaches the old
// root, with pivot_root(".", ".") (see the package documentation).
func PivotRoot(root string) error {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", root, err)
	}
	defer unix.Close(fd)
	return pivotRoot(fd, root)
}

// MaskPath hides p, a path in the container (after pivot_root), if it
// exists: /dev/null over a file, an empty read-only tmpfs over a
// directory.
func MaskPath(p string) error { return maskPath(p) }

// ReadonlyPath makes p, a path in the container (after pivot_root),
// read-only if it exists.
func ReadonlyPath(p string) error { return readonlyPath(p) }

// RemountReadonly makes the mount at target read-only, keeping its
// nosuid, nodev and noexec.
func RemountReadonly(target string) error { return remountReadonly(target) }
