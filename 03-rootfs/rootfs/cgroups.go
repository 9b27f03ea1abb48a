package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// cgroupFlags are the flags of each cgroup filesystem in the container.
// MS_RDONLY: the container reads its limits and usage, it does not set
// them (nor make cgroups of its own). MS_NOSUID, MS_NODEV, MS_NOEXEC:
// nothing in a cgroupfs is a program or a device. MS_RELATIME, the
// kernel's default, said out loud because Docker's mounts show it.
const cgroupFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME

// mountCgroups mounts the container's own cgroups on target
// (/sys/fs/cgroup for Enter) in the new root, with the mount flags flags
// (cgroupFlags for Enter), as Docker does with a private cgroup namespace: on a v2
// host one cgroup2; on v1 and hybrid hosts a tmpfs holding one cgroup
// mount per hierarchy, named as on the host, with a symbolic link for
// each controller of a co-mounted one (cpu -> cpu,cpuacct).
//
// Init made its cgroup namespace once it was in its cgroup
// (namespace.Setup), on this thread: a cgroupfs mounted now has
// the container's cgroup as its root. It shows the container its limits
// and usage, and nothing of the host's cgroups.
//
// A container with a user namespace gets them too: its cgroup namespace
// belongs to that user namespace, whose root may mount cgroupfs in it.
// Should the kernel refuse all the same (EPERM), /sys/fs/cgroup is left
// as it was, rather than a tmpfs of empty directories.
//
// With the host's cgroup namespace (host), a cgroupfs mounted in the
// container would show the host's whole tree. So each hierarchy's
// directory of the container's own cgroup (NSMount.Path) is bound there
// instead, read-only, as runc does: before pivot_root the host's
// /sys/fs/cgroup is still in reach.
func mountCgroups(r dir, target string, flags uintptr, host bool) error {
	mounts, err := cgroup.NSMounts()
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	fd, err := r.mkdirAll(target, 0o755)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer unix.Close(fd)
	if len(mounts) == 1 && mounts[0].Type == "cgroup2" {
		if host {
			return bindCgroup(fd, filepath.Join(cgroup.MountRoot, mounts[0].Path), flags)
		}
		explain.Inside().Mount(explain.System, "cgroup", target, "cgroup2", flags, "", "the container's cgroup namespace")
		if err := unix.Mount("cgroup", procFD(fd), "cgroup2", flags, ""); err != nil {
			return fmt.Errorf("%s in %s: mounting cgroup2: %w", target, r.name, err)
		}
		return nil
	}
	// The tmpfs that holds the mount points: rw as Docker's (the
	// cgroup mounts in it are what is read-only), mode=755: root's.
	t, err := r.mountTmpfs(target, fd, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RELATIME, "mode=755")
	if err != nil {
		return err
	}
	defer unix.Close(t.fd)
	tfd := t.fd
	for i, m := range mounts {
		var err error
		if host {
			err = bindCgroupIn(t, m.Name, filepath.Join(cgroup.MountRoot, m.Name, m.Path), flags)
		} else {
			err = mountSourceIn(t, m.Name, m.Source, "cgroup", flags, m.Options)
		}
		if i == 0 && errors.Is(err, unix.EPERM) {
			// tfd, not fd: the tmpfs, not the directory under it.
			if uerr := unix.Unmount(procFD(tfd), unix.MNT_DETACH); uerr != nil {
				return fmt.Errorf("%w; and unmounting the tmpfs: %w", err, uerr)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		for _, link := range m.Links {
			if err := unix.Symlinkat(m.Name, tfd, link); err != nil {
				return fmt.Errorf("linking %s/%s to %s: %w", t.name, link, m.Name, err)
			}
		}
	}
	return nil
}

// bindCgroupIn binds the host's cgroup directory src onto a new
// directory name in d, with the flags of a cgroup mount (flags).
func bindCgroupIn(d dir, name, src string, flags uintptr) error {
	fd, err := d.mountPoint(name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return bindCgroup(fd, src, flags)
}

// bindCgroup binds src onto the directory target, read-only unless flags
// lack MS_RDONLY (an OCI config may ask for a writable one). The bind is
// made detached (open_tree), made read-only there (mount_setattr), then
// attached (move_mount): a plain bind would take src's flags, and would
// be writable until a second, remounting call.
func bindCgroup(target int, src string, flags uintptr) error {
	tree, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("binding the host's %s: %w", src, err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	if flags&unix.MS_RDONLY != 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("making the bind of %s read-only: %w", src, err)
	}
	explain.Inside().Mount(explain.System, src, "/sys/fs/cgroup", "", unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|flags&unix.MS_RDONLY, "", "open_tree+mount_setattr+move_mount: the host's cgroup")
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching the bind of %s: %w", src, err)
	}
	return nil
}
