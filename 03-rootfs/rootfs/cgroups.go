package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// cgroupFlags are the flags of each cgroup filesystem in the container.
// MS_RDONLY: the container reads its limits and usage, it does not set
// them (nor make cgroups of its own). MS_NOSUID, MS_NODEV, MS_NOEXEC:
// nothing in a cgroupfs is a program or a device. MS_RELATIME, the
// kernel's default, said out loud because Docker's mounts show it.
const cgroupFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME

// mountCgroups mounts the container's own cgroups on /sys/fs/cgroup in
// the new root, as Docker does with a private cgroup namespace: on a v2
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
func mountCgroups(r dir) error {
	mounts, err := cgroup.NSMounts()
	if err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	fd, err := r.mkdirAll("/sys/fs/cgroup", 0o755)
	if err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	defer unix.Close(fd)
	if len(mounts) == 1 && mounts[0].Type == "cgroup2" {
		if err := unix.Mount("cgroup", procFD(fd), "cgroup2", cgroupFlags, ""); err != nil {
			return fmt.Errorf("/sys/fs/cgroup in %s: mounting cgroup2: %w", r.name, err)
		}
		return nil
	}
	// The tmpfs that holds the mount points: rw as Docker's (the
	// cgroup mounts in it are what is read-only), mode=755: root's.
	if err := unix.Mount("tmpfs", procFD(fd), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RELATIME, "mode=755"); err != nil {
		return fmt.Errorf("/sys/fs/cgroup in %s: mounting tmpfs: %w", r.name, err)
	}
	tfd, err := r.open("/sys/fs/cgroup", unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	defer unix.Close(tfd)
	t := dir{fd: tfd, name: r.name + "/sys/fs/cgroup"}
	for i, m := range mounts {
		err := mountSourceIn(t, m.Name, m.Source, "cgroup", cgroupFlags, m.Options)
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
