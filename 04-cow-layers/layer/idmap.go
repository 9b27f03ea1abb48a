package layer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/01-namespaces/namespace"
)

// Idmapped mounts.
//
// In a user namespace the container's root is an unprivileged uid on the
// host, say 100000. The image's files belong to the host's root, uid 0,
// which the namespace does not map: inside they show as nobody (65534),
// and root cannot change them. Chowning the layers to 100000 would fix
// that for this mapping only: a container without a user namespace, or
// with another mapping, would need its own chowned copy of the image.
//
// An idmapped mount (Linux 5.12, mount_setattr with MOUNT_ATTR_IDMAP)
// shifts the owners at the mount instead of on the disk. A mount idmapped
// with a user namespace whose map is "0 100000 65536" shows a file that
// the disk says is uid 0 as uid 100000, and writes 100000 to the disk as
// 0. The container's namespace maps 100000 back to 0:
//
//	on disk      through the idmapped mount      in the container
//	uid 0    ->  host uid 100000             ->  uid 0 (root)
//	uid 33   ->  host uid 100033             ->  uid 33 (www-data)
//
// So one copy of the image serves every container, mapped or not. berth
// idmaps each image layer and the container's own directory (upper and
// work: what the container writes is stored with the image's ids, and
// diff, commit and cp read it as for any container), and each volume of
// the store. A bind-mounted host directory is not idmapped, nor a volume
// that binds one (o=bind): there the container's root writes as host uid
// 100000, which is the point of the namespace.
//
// The layers are mapped one by one because an overlay mount cannot be
// idmapped itself (EINVAL); overlay accepts idmapped layers, lower and
// upper, since Linux 5.19.
//
// Who makes the mounts. Only the host's root may idmap a mount of the
// host's filesystem, and the container's init, root in its namespace
// only, may not. But a mount made on the host does not appear in the
// container's mount namespace, which is a copy taken at the fork, and
// the host cannot attach a mount into another namespace either. So the
// host makes them detached, as file descriptors (open_tree with
// OPEN_TREE_CLONE, then mount_setattr), and init inherits the
// descriptors at the fork (namespace.Config.Files). In its own mount
// namespace, init puts each one over the directory it was made from
// (move_mount), before it mounts the overlay on them. The host's mount
// table never sees them; they go with the container's namespace.
//
//	host                                     container's init
//	----                                     ----------------
//	namespace with the same map (UserNamespace)
//	open_tree(layer, CLONE) + MOUNT_ATTR_IDMAP
//	  for each layer, the container's dir,
//	  each volume: descriptors 4, 5, ...
//	fork init with them  ------------------>  move_mount(4, layer 1) ...
//	                                          overlay on the idmapped dirs
//
// The idmap needs a namespace with the same map, not the container's
// own: the container does not exist yet when the mounts are made.
//
// Not every filesystem supports idmapped mounts (ext4, xfs, btrfs and
// tmpfs do, on current kernels). Without them, Idmap reports
// ErrIdmapUnsupported and the container falls back to what it did before:
// its writable layer and new volumes chowned to its root's host uid, the
// image's files owned by nobody inside.

// ErrIdmapUnsupported is returned by Idmap when the kernel or a
// filesystem cannot idmap a mount.
var ErrIdmapUnsupported = errors.New("idmapped mounts are not supported")

// Idmap returns idmapped mounts of dirs, made with the user namespace
// userns, as detached mounts held by files, in the order of dirs. A
// directory named twice is mapped once: the result has no duplicates, and
// neither does the returned list of directories.
func Idmap(userns *os.File, dirs []string) (mapped []string, files []*os.File, err error) {
	for _, dir := range dirs {
		if slices.Contains(mapped, dir) {
			continue
		}
		f, err := idmapOne(userns, dir)
		if err != nil {
			CloseFiles(files)
			return nil, nil, err
		}
		mapped, files = append(mapped, dir), append(files, f)
	}
	return mapped, files, nil
}

// idmapOne makes an idmapped copy of the mount at dir, not attached
// anywhere.
func idmapOne(userns *os.File, dir string) (*os.File, error) {
	// OPEN_TREE_CLONE: a new mount of dir (a bind mount, detached), not
	// the mount dir is on, so that the attribute changes only the copy.
	// Not AT_RECURSIVE: a layer has no mounts under it, and a mount
	// under a volume is nobody's business in the container.
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("open_tree %s: %w: %w", dir, ErrIdmapUnsupported, err)
		}
		return nil, fmt.Errorf("open_tree %s: %w", dir, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		// EINVAL: the filesystem has no FS_ALLOW_IDMAP; ENOSYS: a kernel
		// older than 5.12.
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("idmapping %s: %w: %w", dir, ErrIdmapUnsupported, err)
		}
		return nil, fmt.Errorf("idmapping %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), "idmapped:"+dir), nil
}

// CloseFiles closes files, ignoring errors: for descriptors that a
// child has inherited, or that nobody will use.
func CloseFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// attachIdmapped runs in the container's init, in its own mount
// namespace: it puts each idmapped mount it inherited (descriptors
// namespace.FilesFD, ...) over the directory it was made from.
func (m MountSpec) attachIdmapped() error {
	for i, dir := range m.Idmapped {
		fd := namespace.FilesFD + i
		explain.Inside().Step(explain.Layers, "move_mount", "(idmapped mount, fd "+strconv.Itoa(fd)+", on "+dir+"): the layer's files owned by the container's root")
		err := unix.MoveMount(fd, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("attaching the idmapped mount of %s (fd %d): %w", dir, fd, err)
		}
	}
	return nil
}
