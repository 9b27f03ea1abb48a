package containerfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Archive writes a tar of name to w, as Docker's GET
// /containers/ID/archive: the entries are named after the last element
// of name ("/etc/hosts" gives "hosts"; "/dir" gives "dir", "dir/a", ...;
// "/dir/." gives "." and the directory's contents), and a symlink at the
// end of name is archived as a symlink unless a trailing "/" follows it.
// The docker client renames the entries itself from there.
//
// The walk holds a descriptor of each directory it reads, and opens each
// entry by its single name in it without following symlinks: a rename or
// a symlink swapped in by the container while it runs cannot lead the
// walk outside the tree it started in.
func (r *Root) Archive(name string, w io.Writer) error {
	abs := absPath(name)
	fd, err := r.openPath(abs)
	if err != nil {
		return err
	}
	a := &archiver{r: r, tw: tar.NewWriter(w), links: map[fileID]string{}}
	if err := a.add(fd, path.Base(abs)); err != nil {
		return err
	}
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", abs, r.what, err)
	}
	return nil
}

// fileID identifies a file with more than one name, for hard links.
type fileID struct{ dev, ino uint64 }

type archiver struct {
	r     *Root
	tw    *tar.Writer
	links map[fileID]string // the first entry of each hard-linked file
}

// pseudoFS are the file systems whose contents are the kernel's, not
// files: a running container's /proc, /sys and the like are archived as
// empty directories (dockerd does not mount them for a copy at all).
var pseudoFS = map[int64]bool{
	unix.PROC_SUPER_MAGIC: true, unix.SYSFS_MAGIC: true, unix.CGROUP2_SUPER_MAGIC: true,
	unix.CGROUP_SUPER_MAGIC: true, unix.DEVPTS_SUPER_MAGIC: true,
	unix.DEBUGFS_MAGIC: true, unix.TRACEFS_MAGIC: true, unix.SECURITYFS_MAGIC: true,
}

// add archives the file fd (O_PATH, closed here) as name.
func (a *archiver) add(fd int, name string) error {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", name, a.r.what, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		ModTime: time.Unix(st.Mtim.Unix()),
		Format:  tar.FormatPAX,
	}
	hdr.Uid, hdr.Gid = a.r.unmap.IDs(int(st.Uid), int(st.Gid))
	kind := st.Mode & unix.S_IFMT
	if id := (fileID{st.Dev, st.Ino}); kind != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := a.links[id]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return a.header(hdr)
		}
		a.links[id] = name
	}
	switch kind {
	case unix.S_IFREG:
		return a.file(fd, hdr, st.Size)
	case unix.S_IFDIR:
		return a.dir(fd, hdr)
	case unix.S_IFLNK:
		target, err := readLinkFD(fd)
		if err != nil {
			return fmt.Errorf("archiving %s of %s: %w", name, a.r.what, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if kind == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	default:
		return nil // a socket: tar has no such entry, Docker skips them too
	}
	return a.header(hdr)
}

func (a *archiver) header(hdr *tar.Header) error {
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	return nil
}

// file archives a regular file, reopened for reading through its O_PATH
// descriptor (the very file, no lookup again). A file that shrinks while
// it is read fails the archive rather than pad it with zeros.
func (a *archiver) file(fd int, hdr *tar.Header, size int64) error {
	hdr.Typeflag, hdr.Size = tar.TypeReg, size
	f, err := reopen(fd, unix.O_RDONLY)
	if err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	defer f.Close()
	if err := fileCaps(f, hdr); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	if err := a.header(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(a.tw, f, size); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	return nil
}

// dir archives a directory and, in name order, what it holds.
func (a *archiver) dir(fd int, hdr *tar.Header) error {
	hdr.Typeflag = tar.TypeDir
	if hdr.Name != "/" {
		hdr.Name += "/"
	}
	if err := a.header(hdr); err != nil {
		return err
	}
	var fsst unix.Statfs_t
	if err := unix.Fstatfs(fd, &fsst); err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	if pseudoFS[int64(fsst.Type)] {
		return nil
	}
	d, err := reopen(fd, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("archiving %s of %s: %w", hdr.Name, a.r.what, err)
	}
	slices.Sort(names)
	for _, n := range names {
		cfd, err := unix.Openat(int(d.Fd()), n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("archiving %s of %s: %w", hdr.Name+n, a.r.what, err)
		}
		if err := a.add(cfd, hdr.Name+n); err != nil { // "d/a", "./a", "/etc" as Docker names them
			return err
		}
	}
	return nil
}

// reopen opens the file that the O_PATH descriptor fd is, with flags.
// /proc/self/fd/N is a magic link to that very file: nothing is looked
// up by name again.
func reopen(fd int, flags int) (*os.File, error) {
	p := fmt.Sprintf("/proc/self/fd/%d", fd)
	nfd, err := unix.Open(p, flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), p), nil
}

// capsXattr holds a file's capabilities (setcap): the one extended
// attribute Docker's archives carry, so that a copied ping still pings.
const capsXattr = "security.capability"

// fileCaps records f's capabilities in hdr, as a PAX xattr record.
func fileCaps(f *os.File, hdr *tar.Header) error {
	buf := make([]byte, 256)
	n, err := unix.Fgetxattr(int(f.Fd()), capsXattr, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return nil
	case err != nil:
		return err
	}
	hdr.PAXRecords = map[string]string{"SCHILY.xattr." + capsXattr: string(buf[:n])}
	return nil
}
