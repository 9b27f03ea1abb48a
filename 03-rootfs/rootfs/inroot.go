package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// dir is an open directory, inside which paths are resolved as if it were
// "/". It is the root filesystem before pivot_root, or /dev inside it.
type dir struct {
	fd   int    // O_PATH file descriptor
	name string // the host's path, for error messages
}

// procFD is the path of a file descriptor in the host's /proc. Mounting
// onto it mounts onto the very file the descriptor refers to: no path is
// resolved again between the check and the mount. (Before pivot_root,
// /proc is still the host's proc, which shows our process too.)
func procFD(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// inRoot turns a container path into one relative to the root.
func inRoot(name string) string {
	rel := strings.TrimLeft(path.Clean("/"+name), "/")
	if rel == "" {
		return "."
	}
	return rel
}

// open opens name, a path inside the container, with O_PATH (a handle to
// the file, which opens nothing: a FIFO or a device in the image cannot
// block or act). RESOLVE_IN_ROOT makes the kernel treat d as "/" for the
// whole lookup, symlinks included: "/" and "../../.." in a link lead to
// d, never above it. RESOLVE_NO_MAGICLINKS refuses /proc/self/root-style
// links, which would jump anywhere.
func (d dir) open(name string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(d.fd, inRoot(name), &how)
		// EAGAIN: a rename elsewhere raced with the lookup, and the
		// kernel could not prove it stayed inside the root. Retry.
		if (err == unix.EAGAIN || err == unix.EINTR) && tries < 32 {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("opening %s in %s: %w", name, d.name, err)
		}
		return fd, nil
	}
}

// OpenInRoot opens name inside the directory root (a file descriptor)
// as open does for the container's init: with O_PATH, RESOLVE_IN_ROOT
// and RESOLVE_NO_MAGICLINKS, so that neither "..", nor an absolute
// symlink, nor a /proc magic link leads above root. what names root in
// errors. final/containerfs resolves docker cp's paths with it.
func OpenInRoot(root int, what, name string, flags uint64) (int, error) {
	return dir{fd: root, name: what}.open(name, flags)
}

// MkdirAllInRoot is mkdir -p of name inside root, each part resolved as
// OpenInRoot does; it returns an O_PATH descriptor of the directory.
func MkdirAllInRoot(root int, what, name string, perm uint32) (int, error) {
	return dir{fd: root, name: what}.mkdirAll(name, perm)
}

// MountVolumeInRoot bind-mounts v inside root as the container's start
// does (final/containerfs mounts a stopped container's volumes with it).
func MountVolumeInRoot(root int, what string, v Volume) error {
	return mountVolume(dir{fd: root, name: what}, v)
}

// maxSymlinks bounds the dangling symlinks that mkdirAll and createFile
// follow while creating a path, as the kernel bounds a lookup (ELOOP).
const maxSymlinks = 40

// mkdirAll opens directory name inside d, creating it and its missing
// parents (mode perm, less the umask) first. It returns an O_PATH file
// descriptor.
func (d dir) mkdirAll(name string, perm uint32) (int, error) {
	return d.mkdirAllLinks(name, perm, 0)
}

func (d dir) mkdirAllLinks(name string, perm uint32, links int) (int, error) {
	fd, err := d.open(name, unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, base := path.Split(path.Clean("/" + name))
	pfd, err := d.mkdirAllLinks(parent, perm, links)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	// The parent is resolved, so base is a single name in a directory
	// we hold open: create it there, then open exactly what we created,
	// following nothing.
	err = unix.Mkdirat(pfd, base, perm)
	if errors.Is(err, unix.EEXIST) {
		// The lookup said "no such file", yet something is there: a
		// symlink to a place that does not exist. Create that place,
		// which is where the lookup will lead (Docker does the same).
		target, err := d.linkTarget(pfd, base, links)
		if err != nil {
			return -1, fmt.Errorf("creating %s in %s: %w", name, d.name, err)
		}
		return d.mkdirAllLinks(target, perm, links+1)
	}
	if err != nil {
		return -1, fmt.Errorf("creating %s in %s: %w", name, d.name, err)
	}
	fd, err = openBeneath(pfd, base, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s in %s: %w", name, d.name, err)
	}
	return fd, nil
}

// createFile opens file name inside d, creating an empty file (and its
// missing parent directories) first. If name exists it opens whatever is
// there, which may be a directory. It returns an O_PATH file descriptor.
func (d dir) createFile(name string) (int, error) {
	return d.createFileLinks(name, 0)
}

func (d dir) createFileLinks(name string, links int) (int, error) {
	fd, err := d.open(name, 0)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, base := path.Split(path.Clean("/" + name))
	pfd, err := d.mkdirAll(parent, 0o755)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	fd, err = openBeneath(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY, 0o644)
	if errors.Is(err, unix.EEXIST) { // a dangling symlink, as in mkdirAll
		target, err := d.linkTarget(pfd, base, links)
		if err != nil {
			return -1, fmt.Errorf("creating %s in %s: %w", name, d.name, err)
		}
		return d.createFileLinks(target, links+1)
	}
	if err != nil {
		return -1, fmt.Errorf("creating %s in %s: %w", name, d.name, err)
	}
	return fd, nil
}

// linkTarget returns where the symlink base in the directory pfd points,
// as a path inside d: absolute links are relative to d, relative ones to
// the directory that holds them.
func (d dir) linkTarget(pfd int, base string, links int) (string, error) {
	if links >= maxSymlinks {
		return "", fmt.Errorf("%s: %w", base, unix.ELOOP)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(pfd, base, buf)
	if err != nil {
		// EINVAL: not a symlink, so a real file is in the way.
		return "", fmt.Errorf("%s exists but cannot be opened as needed: %w", base, err)
	}
	link := string(buf[:n])
	if path.IsAbs(link) {
		return link, nil
	}
	dirPath, err := d.pathOf(pfd)
	if err != nil {
		return "", err
	}
	return path.Join(dirPath, link), nil
}

// pathOf returns the path inside d of the directory fd, which must lie
// inside d: the kernel's name for it (/proc/self/fd/N) less d's own.
func (d dir) pathOf(fd int) (string, error) {
	full, err := os.Readlink(procFD(fd))
	if err != nil {
		return "", err
	}
	top, err := os.Readlink(procFD(d.fd))
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(full, top)
	if !ok || (rel != "" && rel[0] != '/' && top != "/") {
		return "", fmt.Errorf("%s is not inside %s", full, top)
	}
	return path.Clean("/" + rel), nil
}

// mountPoint makes the directory name (one component) in d, unless it is
// there, and opens it with O_PATH, never through a symlink: the handle
// to mount onto (procFD).
func (d dir) mountPoint(name string) (int, error) {
	if err := unix.Mkdirat(d.fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("creating %s/%s: %w", d.name, name, err)
	}
	fd, err := openBeneath(d.fd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s/%s: %w", d.name, name, err)
	}
	return fd, nil
}

// openBeneath opens name, a single path component, in the directory
// dirfd without following any symlink.
func openBeneath(dirfd int, name string, flags uint64, mode uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Mode:    mode,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	return unix.Openat2(dirfd, name, &how)
}

// isDir reports whether fd is a directory.
func isDir(fd int) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// sameFile reports whether two file descriptors refer to the same file.
func sameFile(a, b int) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		return false, err
	}
	if err := unix.Fstat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}
