package containerfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/06-images/image"
)

// Root is a container's root directory, held open: every path of a
// request is resolved by the kernel relative to it, with chapter 03's
// RESOLVE_IN_ROOT (rootfs.OpenInRoot), never as a string on the host.
type Root struct {
	fd      int
	what    string       // names the root in errors: "container web"
	release func() error // what else holds the root open (MountRoot's thread)
	shift   *IDShift     // the container's root's host ids, to write as it (idshift.go)
	unmap   *image.Unmap // the files' owners are host ids of this mapping (idshift.go)
}

// OpenRoot opens dir, the root of a container as the host sees it: a
// running container's /proc/PID/root, or a test's directory. what names
// it in errors.
func OpenRoot(dir, what string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the root of %s (%s): %w", what, dir, err)
	}
	return &Root{fd: fd, what: what}, nil
}

// Close closes the root, and for MountRoot's root, unmounts it.
func (r *Root) Close() error {
	err := unix.Close(r.fd)
	if r.release != nil {
		err = errors.Join(err, r.release())
	}
	return err
}

// FD is the root's O_PATH descriptor; "/proc/self/fd/FD" names the
// root as a directory, for code that wants a path (image.LookupUser
// opens an os.Root there).
func (r *Root) FD() int { return r.fd }

// PathStat is what docker cp's HEAD and GET requests report of a path
// (the X-Docker-Container-Path-Stat header): the path itself, not what a
// symlink at its end points to, with LinkTarget its resolved target.
type PathStat struct {
	Name       string
	Size       int64
	Mode       fs.FileMode // Go's bits, as Docker sends them
	Mtime      time.Time
	LinkTarget string // for a symlink: the path it leads to in the container
}

// maxLinks bounds the symlinks followed in one resolution, as the kernel
// does (ELOOP).
const maxLinks = 40

// absPath is name as a clean absolute path in the container, keeping
// the trailing "/" or "/." that Docker keeps: they say "follow the last
// symlink" and "the contents of the directory".
func absPath(name string) string {
	abs := path.Clean("/" + name)
	switch {
	case abs == "/":
	case strings.HasSuffix(name, "/."):
		abs += "/."
	case strings.HasSuffix(name, "/"):
		abs += "/"
	}
	return abs
}

// followsLast reports whether the last component of name is followed
// when it is a symlink: as lstat(2) does, only with a trailing "/" or
// "/." (or for the root itself).
func followsLast(abs string) bool {
	return abs == "/" || strings.HasSuffix(abs, "/") || strings.HasSuffix(abs, "/.")
}

// open opens name in the root with O_PATH; see rootfs.OpenInRoot.
func (r *Root) open(name string, flags uint64) (int, error) {
	return rootfs.OpenInRoot(r.fd, r.what, name, flags)
}

// openPath opens the path a request names, as Docker's lstat sees it:
// its last component not followed unless a trailing slash says so (then
// it must be a directory).
func (r *Root) openPath(abs string) (int, error) {
	if followsLast(abs) {
		return r.open(abs, unix.O_DIRECTORY)
	}
	return r.open(abs, unix.O_NOFOLLOW)
}

// Stat describes name as docker cp asks: HEAD /containers/ID/archive.
func (r *Root) Stat(name string) (PathStat, error) {
	abs := absPath(name)
	fd, err := r.openPath(abs)
	if err != nil {
		return PathStat{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return PathStat{}, fmt.Errorf("stat %s in %s: %w", abs, r.what, err)
	}
	ps := PathStat{
		Name:  path.Base(abs),
		Size:  st.Size,
		Mode:  fileMode(st.Mode),
		Mtime: time.Unix(st.Mtim.Unix()),
	}
	if ps.Mode&fs.ModeSymlink != 0 {
		if ps.LinkTarget, err = r.Resolve(abs); err != nil {
			return PathStat{}, err
		}
	}
	return ps, nil
}

// Resolve returns where name leads in the container, every symlink
// expanded (the last one too), as far as the path exists: the rest of a
// path that does not exist is appended as it is, as Docker's
// FollowSymlinkInScope does. It is only a name, for the client to ask
// for (-L, and a destination that is a symlink): each lookup it makes is
// the kernel's, confined to the root.
func (r *Root) Resolve(name string) (string, error) {
	todo := strings.Split(strings.TrimPrefix(path.Clean("/"+name), "/"), "/")
	done := "/"
	for links := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done)
			continue
		}
		next := path.Join(done, c)
		target, isLink, err := r.readLink(next)
		if errors.Is(err, unix.ENOENT) {
			return path.Join(append([]string{next}, todo...)...), nil
		}
		if err != nil {
			return "", err
		}
		if !isLink {
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("resolving %s in %s: %w", name, r.what, unix.ELOOP)
		}
		if path.IsAbs(target) {
			done = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return done, nil
}

// readLink reads the symlink at name (whose parent has no symlinks
// left); isLink is false for anything else.
func (r *Root) readLink(name string) (target string, isLink bool, err error) {
	fd, err := r.open(name, unix.O_NOFOLLOW)
	if err != nil {
		return "", false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", false, fmt.Errorf("stat %s in %s: %w", name, r.what, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", false, nil
	}
	target, err = readLinkFD(fd)
	if err != nil {
		return "", false, fmt.Errorf("reading the symlink %s in %s: %w", name, r.what, err)
	}
	return target, true, nil
}

// readLinkFD reads the symlink that fd (O_PATH|O_NOFOLLOW) is.
func readLinkFD(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fileMode converts a stat(2) mode to Go's fs.FileMode, whose bits
// Docker's stat header carries (the client tests them with IsDir and
// ModeSymlink).
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// newFile wraps a descriptor this package opened.
func newFile(fd int, name string) *os.File { return os.NewFile(uintptr(fd), name) }
