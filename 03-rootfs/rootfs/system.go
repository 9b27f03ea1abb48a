package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"golang.org/x/sys/unix"
)

// mountProc mounts a proc filesystem for the container's PID namespace on
// /proc inside the root.
func mountProc(r dir) error {
	fd, err := r.mkdirAll("/proc", 0o555)
	if err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	defer unix.Close(fd)
	if err := namespace.MountProc(procFD(fd)); err != nil {
		return fmt.Errorf("/proc in %s: %w", r.name, err)
	}
	return nil
}

// sysFlags are the flags of the container's /sys. MS_RDONLY: sysfs is the
// kernel's view of the machine's devices and drivers, and writing to it
// reconfigures them for the whole host, so the container only reads it.
// MS_NOSUID, MS_NODEV, MS_NOEXEC: nothing in sysfs is a program or a
// device node, so nothing there may act as one.
const sysFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// mountSys mounts sysfs on target (/sys for Enter) inside the root with
// the mount flags flags: sysFlags, read-only, or for a privileged
// container the same without MS_RDONLY, writable, as Docker allows: it
// may then reconfigure the host's devices.
//
// A sysfs instance shows the network devices of the network namespace of
// whoever mounts it, and the kernel allows the mount only to someone
// privileged over that network namespace. A container in a user namespace
// that shares the host's network (namespace.Config.HostNetwork) is not, and
// gets EPERM. Then the host's /sys is bound in instead, read-only: it shows
// the host's network devices, which that container shares anyway.
func mountSys(r dir, target string, flags uintptr) error {
	fd, err := r.mkdirAll(target, 0o555)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer unix.Close(fd)
	explain.Inside().Mount(explain.System, "sysfs", target, "sysfs", flags, "", "")
	sysErr := unix.Mount("sysfs", procFD(fd), "sysfs", flags, "")
	if sysErr == nil {
		return nil
	}
	// MS_REC: the host's /sys has mounts of its own (/sys/fs/cgroup), and
	// in a user namespace the kernel refuses to bind a tree without them,
	// as that would reveal what they cover.
	explain.Inside().Mount(explain.System, "/sys", target, "", unix.MS_BIND|unix.MS_REC, "", "sysfs refused (EPERM): the host's, read-only")
	if err := unix.Mount("/sys", procFD(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("%s in %s: mounting sysfs: %w; binding the host's /sys instead: %w", target, r.name, sysErr, err)
	}
	mfd, err := r.open(target, unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer unix.Close(mfd)
	// Read-only all the way down: a remount would only change the top
	// mount and leave the host's /sys/fs/cgroup writable.
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}
	err = unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) { // before Linux 5.12: the top mount at least
		err = unix.Mount("", procFD(mfd), "", unix.MS_BIND|unix.MS_REMOUNT|sysFlags, "")
	}
	if err != nil {
		return fmt.Errorf("%s in %s: making the host's /sys read-only: %w", target, r.name, err)
	}
	return nil
}

// device is a device node that a container gets in /dev.
type device struct {
	name         string // below /dev: "null", "net/tun"
	major, minor uint32
	mode         uint32 // S_IFCHR or S_IFBLK, and the permissions
	uid, gid     uint32
}

// charDev is a character device for every user, as Docker makes them.
func charDev(name string, major, minor uint32) device {
	return device{name: name, major: major, minor: minor, mode: unix.S_IFCHR | 0o666}
}

// devices are Docker's default device nodes (see devices(7) for the
// numbers). Anything else, a disk above all, needs --device.
var devices = []device{
	charDev("null", 1, 3),
	charDev("zero", 1, 5),
	charDev("full", 1, 7),
	charDev("random", 1, 8),
	charDev("urandom", 1, 9),
	charDev("tty", 5, 0), // the process's controlling terminal, whichever it is
}

// devLinks are the symlinks in /dev: name -> target.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
	// The devpts instance below brings its own ptmx. Programs open
	// /dev/ptmx to get a pseudo-terminal, so point it there: the host's
	// ptmx would hand out terminals of the host's /dev/pts.
	{"ptmx", "pts/ptmx"},
}

// kcoreLink is /dev/core -> /proc/kcore, which Docker (runc) makes only
// where the kernel has a /proc/kcore; the link is masked with it.
var kcoreLink = [2]string{"core", "/proc/kcore"}

// mountDev gives the container a /dev of its own: a small tmpfs with only
// the harmless devices, instead of the host's /dev with its disks, and a
// /dev/shm of shmSize bytes (DefaultShmSize for 0). A privileged
// container gets every device node of the host instead (hostDevices).
func mountDev(r dir, shmSize int64, privileged bool) error {
	fd, err := r.mkdirAll("/dev", 0o755)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(fd)
	// MS_NOSUID: no setuid programs belong in /dev. No MS_NODEV: device
	// nodes are what /dev is for. MS_STRICTATIME: update access times on
	// every access, as Docker does for /dev; tools that tell a terminal's
	// idle time from its atime (w, who) need them, and on a tmpfs they
	// cost nothing. size: 64 MiB of the host's memory at most, should
	// something fill /dev.
	dev, err := r.mountTmpfs("/dev", fd, unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	if err != nil {
		return err
	}
	defer unix.Close(dev.fd)
	devfd := dev.fd

	nodes := devices
	if privileged {
		if nodes, err = hostDevices("/dev"); err != nil {
			return err
		}
	}
	if err := makeDevices(dev, nodes); err != nil {
		return err
	}
	// A private devpts: newinstance gives the container its own set of
	// pseudo-terminals, numbered from 0, instead of the host's (which a
	// container could otherwise open and read). ptmxmode=0666 lets every
	// user open pts/ptmx to get one. mode=0620,gid=5: a new terminal
	// belongs to its user and to the group tty, which may write to it
	// (wall, write). MS_NOSUID, MS_NOEXEC: terminals are not programs.
	if err := mountIn(dev, "pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return err
	}
	// POSIX shared memory (shm_open) lives in /dev/shm. mode=1777 like
	// /tmp: anyone may create, only the owner may delete. MS_NOSUID,
	// MS_NODEV, MS_NOEXEC: scratch space for data, not programs. size:
	// what it holds is memory, charged to the container's cgroup.
	if shmSize == 0 {
		shmSize = DefaultShmSize
	}
	if err := mountIn(dev, "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		fmt.Sprintf("mode=1777,size=%d", shmSize)); err != nil {
		return err
	}
	// POSIX message queues (mq_open) of the container's IPC namespace.
	// Optional: a kernel without CONFIG_POSIX_MQUEUE cannot mount it,
	// and the container works without it.
	if err := mountIn(dev, "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		_ = unix.Unlinkat(devfd, "mqueue", unix.AT_REMOVEDIR)
	}
	return devSymlinks(dev)
}

// devSymlinks makes /dev's symbolic links (devLinks, and kcoreLink where
// the kernel has a /proc/kcore) in dev. A link's name that the image's
// own /dev already holds is left alone, as runc does, except ptmx: the
// host's kind of ptmx node would hand out the host's terminals, so it is
// replaced by the link to the container's devpts.
func devSymlinks(dev dir) error {
	links := devLinks
	// The host's /proc is still mounted at /proc: the kernel's.
	if _, err := os.Lstat("/proc/kcore"); err == nil {
		links = append(links[:len(links):len(links)], kcoreLink)
	}
	for _, l := range links {
		if l[0] == "ptmx" {
			if err := unix.Unlinkat(dev.fd, l[0], 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("replacing %s/%s: %w", dev.name, l[0], err)
			}
		}
		err := unix.Symlinkat(l[1], dev.fd, l[0])
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return fmt.Errorf("symlink %s/%s -> %s: %w", dev.name, l[0], l[1], err)
		}
	}
	return nil
}

// makeDevices creates the device nodes in dev. Outside a user namespace
// it makes real nodes with mknod. In a user namespace mknod of a device
// fails with EPERM (a namespace's root may not conjure up access to any
// device it likes), and a node on a filesystem that a user namespace
// mounted would not open anyway; so each node becomes a bind mount of the
// host's own node over an empty file.
func makeDevices(dev dir, nodes []device) error {
	bind := false
	for _, d := range nodes {
		if i := strings.LastIndexByte(d.name, '/'); i > 0 {
			fd, err := dev.mkdirAll(d.name[:i], 0o755)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", dev.name, d.name, err)
			}
			unix.Close(fd)
		}
		if !bind {
			err := unix.Mknodat(dev.fd, d.name, d.mode, int(unix.Mkdev(d.major, d.minor)))
			if err == nil {
				// mknod applies the umask; the modes must be
				// exactly these (0666 for every user).
				if err := unix.Fchmodat(dev.fd, d.name, d.mode&0o7777, 0); err != nil {
					return fmt.Errorf("chmod %s/%s: %w", dev.name, d.name, err)
				}
				if err := unix.Fchownat(dev.fd, d.name, int(d.uid), int(d.gid), 0); err != nil {
					return fmt.Errorf("chown %s/%s: %w", dev.name, d.name, err)
				}
				continue
			}
			if !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("mknod %s/%s: %w", dev.name, d.name, err)
			}
			bind = true
		}
		if err := bindDevice(dev, d.name); err != nil {
			return err
		}
	}
	return nil
}

// bindDevice bind-mounts the host's /dev/name onto a new empty file in
// dev. It runs before pivot_root, while /dev is still the host's.
func bindDevice(dev dir, name string) error {
	return bindDeviceFrom(dev, name, "/dev/"+name)
}

// bindDeviceFrom bind-mounts the host's node hostPath onto a new empty
// file name in d.
func bindDeviceFrom(d dir, name, hostPath string) error {
	fd, err := openBeneath(d.fd, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY, 0o666)
	if err != nil {
		return fmt.Errorf("creating %s/%s: %w", d.name, name, err)
	}
	defer unix.Close(fd)
	explain.Inside().Mount(explain.System, hostPath, d.name+"/"+name, "", unix.MS_BIND, "", "the host's device node")
	if err := unix.Mount(hostPath, procFD(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding the host's %s onto %s/%s: %w", hostPath, d.name, name, err)
	}
	return nil
}

// mountIn creates directory name in d and mounts a filesystem of type
// fstype there.
func mountIn(d dir, name, fstype string, flags uintptr, data string) error {
	return mountSourceIn(d, name, fstype, fstype, flags, data)
}

// mountTmpfs mounts a tmpfs on path in r, whose directory fd is already
// open, and returns the new tmpfs opened: fd still refers to the
// directory under it. The caller closes the returned dir's fd.
func (r dir) mountTmpfs(path string, fd int, flags uintptr, data string) (dir, error) {
	explain.Inside().Mount(explain.System, "tmpfs", path, "tmpfs", flags, data, "")
	if err := unix.Mount("tmpfs", procFD(fd), "tmpfs", flags, data); err != nil {
		return dir{}, fmt.Errorf("%s in %s: mounting tmpfs: %w", path, r.name, err)
	}
	tfd, err := r.open(path, unix.O_DIRECTORY)
	if err != nil {
		return dir{}, fmt.Errorf("%s: %w", path, err)
	}
	return dir{fd: tfd, name: r.name + path}, nil
}

// mountSourceIn is mountIn with a source of its own, which mount(8)
// shows in its first column.
func mountSourceIn(d dir, name, source, fstype string, flags uintptr, data string) error {
	fd, err := d.mountPoint(name)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	explain.Inside().Mount(explain.System, source, d.name+"/"+name, fstype, flags, data, "")
	if err := unix.Mount(source, procFD(fd), fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s on %s/%s: %w", fstype, d.name, name, err)
	}
	return nil
}

// hostDevices lists the device nodes under the host's /dev (root), for a
// privileged container, as Docker gives it: every character and block
// device, subdirectories included (/dev/net/tun). Left out are what the
// container makes its own (pts, shm, mqueue, ptmx, the fd links), the
// host's console, and anything that is not a device node.
func hostDevices(root string) ([]device, error) {
	var out []device
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // a node that vanished while we looked
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case e.IsDir() && (rel == "pts" || rel == "shm" || rel == "mqueue"):
			return filepath.SkipDir
		case e.IsDir(), rel == "console", rel == "ptmx", rel == "core":
			return nil
		}
		if e.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		out = append(out, device{
			name:  rel,
			major: unix.Major(st.Rdev), minor: unix.Minor(st.Rdev),
			mode: st.Mode & (unix.S_IFMT | 0o7777),
			uid:  st.Uid, gid: st.Gid,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the host's devices in %s: %w", root, err)
	}
	return out, nil
}
