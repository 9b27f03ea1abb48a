package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
)

// DefaultShmSize is the size of /dev/shm without --shm-size: 64 MiB, as
// in Docker.
const DefaultShmSize = 64 << 20

// propagations are the mount propagations a bind may ask for, as
// mount(2) flags. A bind is rprivate unless told otherwise: events
// (mounts, unmounts) under it reach neither side.
//
// Enter runs in a mount namespace that namespace.Setup made private, so
// no mount in it has a peer on the host to begin with: shared and slave
// set the mount's type (the container's own mounts below it propagate
// to its other binds of the same tree), but do not join the host's
// peer group, as they do in Docker when the host's source is shared.
var propagations = map[string]uintptr{
	"private":  unix.MS_PRIVATE,
	"rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared":   unix.MS_SHARED,
	"rshared":  unix.MS_SHARED | unix.MS_REC,
	"slave":    unix.MS_SLAVE,
	"rslave":   unix.MS_SLAVE | unix.MS_REC,
}

// setPropagation sets the propagation of the mount fd (rprivate for "").
func setPropagation(fd int, p string) error {
	if p == "" {
		p = "rprivate"
	}
	flags, ok := propagations[p]
	if !ok {
		return fmt.Errorf("unknown propagation %q", p)
	}
	if err := unix.Mount("", procFD(fd), "", flags, ""); err != nil {
		return fmt.Errorf("setting propagation %s: %w", p, err)
	}
	return nil
}

// checkTarget checks that the target fd, created or found for v, can take
// v's source: the same kind of file (a bind needs a directory on a
// directory and a non-directory on a non-directory), and not the root
// itself.
func checkTarget(r dir, fd int, v Volume, srcIsDir bool) error {
	targetIsDir, err := isDir(fd)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	if targetIsDir != srcIsDir {
		kind := "a directory"
		if !srcIsDir {
			kind = "a file"
		}
		return fmt.Errorf("volume %s: the source is %s but %s in the image is not", v, kind, v.Target)
	}
	// A symlink to "/" resolves to the root itself: mounting there would
	// replace the whole image.
	same, err := sameFile(fd, r.fd)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v, err)
	}
	if same {
		return fmt.Errorf("volume %s: the target resolves to the container's root directory", v)
	}
	return nil
}

// tmpfsFlags are the mount flags of a tmpfs whose flag options are set
// (exec, suid, dev, ro: true when asked for).
func tmpfsFlags(set map[string]bool) uintptr {
	var flags uintptr
	if !set["exec"] {
		flags |= unix.MS_NOEXEC
	}
	if !set["suid"] {
		flags |= unix.MS_NOSUID
	}
	if !set["dev"] {
		flags |= unix.MS_NODEV
	}
	if set["ro"] {
		flags |= unix.MS_RDONLY
	}
	return flags
}

// mountTmpfs mounts a new tmpfs on v.Target inside the root r. The
// memory it holds is charged to the container's cgroup as it is
// written, and freed when the container's mount namespace goes.
func mountTmpfs(r dir, v Volume) error {
	flags, data, err := tmpfsOptions(v.Tmpfs)
	if err != nil {
		return fmt.Errorf("tmpfs %s: %w", v, err)
	}
	if v.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	fd, err := r.mkdirAll(v.Target, 0o755)
	if err != nil {
		return fmt.Errorf("tmpfs %s: %w", v, err)
	}
	defer unix.Close(fd)
	if err := checkTarget(r, fd, v, true); err != nil {
		return err
	}
	explain.Inside().Mount(explain.Volumes, "tmpfs", v.Target, "tmpfs", flags, data, "--tmpfs: files in memory")
	if err := unix.Mount("tmpfs", procFD(fd), "tmpfs", flags, data); err != nil {
		return fmt.Errorf("tmpfs %s: mount: %w", v, err)
	}
	return nil
}
