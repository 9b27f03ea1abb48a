package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"golang.org/x/sys/unix"
)

// DefaultMaskedPaths are the paths that Docker hides from a container:
// each leaks information about the host or its hardware, or offers a way
// to poke the kernel. Enter covers files with /dev/null and directories
// with an empty read-only tmpfs; paths this kernel does not have are
// skipped.
var DefaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",    // per-CPU interrupt counts: a side channel on the host's activity
	"/proc/kcore",         // the host's physical memory, as an ELF core file
	"/proc/keys",          // keys of the whole system's keyrings
	"/proc/latency_stats", // kernel internals, for side channels
	"/proc/timer_list",    // the host's timers, with task names and pids
	"/proc/timer_stats",
	"/proc/sched_debug",             // every task on the host
	"/proc/scsi",                    // writing here can rescan or remove disks
	"/sys/firmware",                 // ACPI tables, EFI variables
	"/sys/devices/virtual/powercap", // energy counters (the PLATYPUS side channel)
}

// DefaultReadonlyPaths are the kernel interfaces that Docker leaves
// readable but not writable: kernel parameters (/proc/sys), the magic
// SysRq key, IRQ affinity and bus settings.
var DefaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// Enter makes s.Root the root filesystem of the calling process's mount
// namespace, with /proc, /sys, /dev and the volumes mounted, the host's
// files gone, and Docker's masked and read-only paths applied. See the
// package documentation for the sequence and why.
//
// Call it in the container's init after namespace.Setup (which made the
// mounts private, in the new PID namespace) and before namespace.Run. The
// host's /proc must still be mounted at /proc. Enter changes the working
// directory to the new "/".
//
// On error the mount namespace is left half-built; the caller's init is
// expected to exit, which discards the namespace and every mount in it.
func Enter(s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	root := filepath.Clean(s.Root)

	// pivot_root refuses shared mounts (EINVAL), and a shared old root
	// would carry our umount2 below to the host's mount namespace. Setup
	// has done this already; doing it again costs nothing and keeps
	// Enter safe for callers who forgot.
	if err := namespace.MakeMountsPrivate(); err != nil {
		return err
	}

	// 1. pivot_root needs the new root to be a mount point. Binding the
	// directory onto itself makes it one. MS_REC carries along anything
	// already mounted inside it (an overlay's submounts in later
	// chapters), which a plain MS_BIND would leave behind.
	explain.Inside().Mount(explain.Rootfs, root, root, "", unix.MS_BIND|unix.MS_REC, "", "pivot_root needs the new root to be a mount point")
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting rootfs %s onto itself: %w", root, err)
	}
	// Opened after the bind, so the descriptor is the bind mount's root.
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", root, err)
	}
	defer unix.Close(rootfd)
	r := dir{fd: rootfd, name: root}

	// 2. The kernel's filesystems, mounted inside the new root while the
	// host's /proc and /sys are still visible (see "The sequence").
	if err := mountProc(r); err != nil {
		return err
	}
	sys := uintptr(sysFlags)
	if s.Privileged {
		sys &^= unix.MS_RDONLY
	}
	if err := mountSys(r, "/sys", sys); err != nil {
		return err
	}
	if err := mountCgroups(r, "/sys/fs/cgroup", cgroupFlags, s.HostCgroupns); err != nil {
		return err
	}
	if err := mountDev(r, s.ShmSize, s.Privileged); err != nil {
		return err
	}

	// 3. Volumes, after the system mounts so that a volume on
	// /dev/shm, say, covers the tmpfs rather than being covered by it.
	for _, v := range s.Volumes {
		if err := mountVolume(r, v); err != nil {
			return err
		}
	}
	// --device nodes, after the volumes (as runc does), so that one
	// meant for a path under a volume lands in the volume.
	for _, d := range s.Devices {
		if err := makeDevice(r, d); err != nil {
			return err
		}
	}

	// 4 and 5.
	if err := pivotRoot(rootfd, root); err != nil {
		return err
	}

	// 6. From here on "/" is the container's root, and paths resolve
	// inside it whatever symlinks it holds. A privileged container
	// keeps them all visible and writable.
	if !s.Privileged {
		if err := protectPaths(); err != nil {
			return err
		}
	}
	if s.Workdir != "" {
		// Docker creates a missing working directory rather than
		// failing: images often name one that only a volume or the
		// application itself fills.
		if err := os.MkdirAll(s.Workdir, 0o755); err != nil {
			return fmt.Errorf("creating working directory: %w", err)
		}
	}
	if s.ReadonlyRootfs {
		// Last, after everything that creates mount points or the
		// working directory in the image. Only the root mount becomes
		// read-only: /dev, /proc and the volumes are mounts of their own.
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("read-only rootfs: %w", err)
		}
	}
	return nil
}

// protectPaths applies Docker's masked and read-only paths. The CPUs'
// thermal_throttle directories are masked too, as Docker 28 does: their
// counters reveal how hard the host's CPUs work (moby advisory
// GHSA-6fw5-f8r9-fgfm, with /proc/interrupts).
func protectPaths() error {
	masked := DefaultMaskedPaths
	throttle, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	for _, p := range append(masked[:len(masked):len(masked)], throttle...) {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	for _, p := range DefaultReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	return nil
}

// pivotRoot makes the directory rootfd the root of the mount namespace and
// detaches the old root.
func pivotRoot(rootfd int, name string) error {
	if err := unix.Fchdir(rootfd); err != nil {
		return fmt.Errorf("chdir to rootfs %s: %w", name, err)
	}
	// new_root and put_old are both ".": the old root ends up mounted on
	// top of the new one, at "/", and "." now means that old root.
	explain.Inside().Step(explain.Rootfs, "pivot_root", "(\".\", \".\") in "+name+": the old root is stacked on the new one")
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", name, err)
	}
	// MNT_DETACH (lazy unmount): the old root is busy (our own
	// executable lives there, /proc/self/exe), so a plain umount would
	// fail with EBUSY. Detached, it vanishes from the namespace at once
	// and is freed when its last user goes. It was made private before,
	// so the detach stays in this namespace.
	explain.Inside().Step(explain.Rootfs, "umount2", "(old root, MNT_DETACH): the host's files leave the container's view")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	// Our working directory may still be the old root's: move to the new.
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the new root: %w", err)
	}
	return nil
}

// mountVolume mounts v onto v.Target inside the root r: a bind of
// v.Source (a host path or a volume's directory), or a new tmpfs.
func mountVolume(r dir, v Volume) error {
	switch {
	case v.Type == TypeTmpfs:
		return mountTmpfs(r, v)
	case v.Type == TypeVolume && v.Source == "":
		return fmt.Errorf("volume %s: not resolved to a directory (chapter 04's volume store does that)", v)
	}
	fi, err := os.Stat(v.Source)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	// The target is created, inside the root, as the same kind of object
	// as the source: a bind mount needs a directory on a directory and a
	// non-directory on a non-directory.
	var fd int
	if fi.IsDir() {
		fd, err = r.mkdirAll(v.Target, 0o755)
	} else {
		fd, err = r.createFile(v.Target)
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	defer unix.Close(fd)
	if err := checkTarget(r, fd, v, fi.IsDir()); err != nil {
		return err
	}

	// MS_BIND makes the same files visible in a second place. MS_REC
	// takes the mounts under the source along (like docker's rbind);
	// without it a host directory holding mounts would show their empty
	// mount points instead.
	explain.Inside().Mount(volumeSection(v), v.Source, v.Target, "", unix.MS_BIND|unix.MS_REC, "", "the same files in a second place")
	if err := unix.Mount(v.Source, procFD(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("volume %s: bind mount: %w", v, err)
	}
	// fd still points below the new mount. Open the target again to
	// get the mount itself, which is what a remount acts on.
	mfd, err := r.open(v.Target, 0)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	defer unix.Close(mfd)
	if err := setPropagation(mfd, v.Propagation); err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	if !v.ReadOnly {
		return nil
	}
	if err := remountReadonly(procFD(mfd)); err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	// The remount only changed the top mount; make the submounts that
	// MS_REC brought along read-only too, where the kernel can (5.12+).
	if err := readonlyTree(mfd); err != nil && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("volume %s: submounts read-only: %w", v, err)
	}
	return nil
}

// remountReadonly makes the mount at target read-only.
//
// A bind mount gets its own flags only through a second call: the
// MS_RDONLY given with MS_BIND is ignored. MS_REMOUNT|MS_BIND changes the
// flags of this one mount point, not of the filesystem behind it (which
// the host may be using read-write elsewhere). The call replaces all of
// the mount's per-mount flags, so the nosuid, nodev and noexec it has are
// passed again: dropping them would at best weaken the mount and, in a
// user namespace, fail with EPERM, because flags set by a more
// privileged namespace are locked. (Without an atime flag the kernel
// keeps the one the mount has.)
func remountReadonly(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", target, err)
	}
	keep := uintptr(st.Flags) & (unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC)
	flags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | keep
	explain.Inside().Mount(remountSection(target), "", target, "", uintptr(flags), "", "read-only: a bind's flags change only by a remount")
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("remounting %s read-only: %w", target, err)
	}
	return nil
}

// readonlyTree makes the mount fd and every mount below it read-only with
// mount_setattr(2) (Linux 5.12+), which changes only the attribute asked
// for and leaves the other flags alone. Older kernels give ENOSYS.
func readonlyTree(fd int) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	return unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
}

// maskPath hides p, a path in the container, if it exists. A symlink is
// followed, as mount(2) follows it: what gets covered is what it leads
// to (a directory, with the tmpfs; the /dev/null bind would fail there
// with ENOTDIR), and a dangling one hides nothing.
func maskPath(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("masking %s: %w", p, err)
	}
	if fi.IsDir() {
		// An empty tmpfs, read-only so nothing can be put there either.
		// nosuid, nodev, noexec: it holds nothing, let it grant nothing.
		flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		explain.Inside().Mount(explain.Masked, "tmpfs", p, "tmpfs", flags, "", "masked: an empty read-only directory")
		if err := unix.Mount("tmpfs", p, "tmpfs", flags, ""); err != nil {
			return fmt.Errorf("masking directory %s with a read-only tmpfs: %w", p, err)
		}
		return nil
	}
	// A file becomes /dev/null: reads are empty, writes go nowhere.
	explain.Inside().Mount(explain.Masked, "/dev/null", p, "", unix.MS_BIND, "", "masked: reads are empty")
	if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("masking %s with /dev/null: %w", p, err)
	}
	return nil
}

// readonlyPath makes p, a path in the container, read-only if it exists
// (through a symlink, as mount(2) follows it).
func readonlyPath(p string) error {
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	// A path inside a mount gets flags of its own only by becoming a
	// mount point: bind it onto itself, then remount that read-only.
	explain.Inside().Mount(explain.Masked, p, p, "", unix.MS_BIND|unix.MS_REC, "", "read-only path: a mount point of its own")
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s onto itself: %w", p, err)
	}
	return remountReadonly(p)
}
