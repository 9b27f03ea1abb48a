package containerfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/06-images/image"
)

// Errors of Extract that the caller answers as the client's fault (400),
// tested with errors.Is.
var (
	ErrNotDir       = errors.New("extraction point is not a directory")
	ErrOverwrite    = errors.New("cannot overwrite")
	ErrUnsafeEntry  = errors.New("refused archive entry")
	ErrDeviceRefuse = errors.New("device nodes are not extracted")
	// ErrBadArchive: the archive cannot be read (cut, not a tar, an
	// entry type docker cp does not take, a file larger than the disk).
	ErrBadArchive = errors.New("bad archive")
)

// ExtractOptions are PUT /containers/ID/archive's.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the reverse (the docker client always sets it).
	NoOverwriteDirNonDir bool
	// Owner, when set, owns every file extracted (docker cp -a into a
	// container with a user); otherwise each file gets the archive's
	// uid and gid.
	Owner *Owner
	// NoChown leaves the files to whoever extracts them (the client's
	// side of docker cp, as an ordinary user): Owner is then unused, and
	// no extended attribute (which may need privilege) is set.
	NoChown bool
	// Check, when set, is called with the destination directory, fully
	// resolved in the container, before anything is written: the caller
	// refuses a read-only root file system there.
	Check func(dest string) error
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// Extract unpacks the tar src into the directory name of the container,
// which must exist (a symlink to a directory is followed). Missing parent
// directories of entries are created (0755). Each entry is written with
// *at calls relative to its parent directory's descriptor, which the
// kernel resolved inside the root: a symlink in the container or earlier
// in the archive ("a -> /etc", then "a/passwd") leads to the container's
// own files, never the host's. Entries named ".." or above the
// destination are refused; absolute names are taken relative to it, as
// Docker does. Device nodes are refused (see doc.go).
func (r *Root) Extract(name string, src io.Reader, opts ExtractOptions) error {
	if r.shift != nil {
		return r.asShifted(func() error { return r.extract(name, src, opts) })
	}
	return r.extract(name, src, opts)
}

func (r *Root) extract(name string, src io.Reader, opts ExtractOptions) error {
	dest, err := r.Resolve(name)
	if err != nil {
		return err
	}
	if err := r.checkDir(dest); err != nil {
		return err
	}
	if opts.Check != nil {
		if err := opts.Check(dest); err != nil {
			return err
		}
	}
	x := &extractor{r: r, dest: dest, opts: opts}
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: reading the archive for %s: %w", ErrBadArchive, r.what, err)
		}
		if err := x.entry(hdr, archiveReader{tr}); err != nil {
			if errors.Is(err, unix.ENOENT) {
				// The destination exists: this is a file system
				// that refuses the entry (/proc), not a missing
				// path, which the caller would answer with a 404.
				return errors.New(err.Error())
			}
			return err
		}
	}
	return x.dirTimes()
}

// checkDir checks that dest exists and is a directory.
func (r *Root) checkDir(dest string) error {
	fd, err := r.open(dest, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s in %s: %w", dest, r.what, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s: %w", dest, ErrNotDir)
	}
	return nil
}

type extractor struct {
	r    *Root
	dest string // the destination, resolved, in the container
	opts ExtractOptions
	dirs []*tar.Header // directories whose times are set at the end
}

// entryPath is an entry's name below the destination dest: "" for the
// destination itself, an error in Docker's words for one that climbs
// above it.
func entryPath(name, dest string) (string, error) {
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q is outside of %q", ErrUnsafeEntry, name, dest)
	}
	return strings.TrimPrefix(path.Clean("/"+c), "/"), nil
}

// entry writes one entry of the archive.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := entryPath(hdr.Name, x.dest)
	if err != nil {
		return err
	}
	if rel == "" {
		return nil // the destination itself, which exists (Docker skips it too)
	}
	full := path.Join(x.dest, rel)
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("%s: %w", hdr.Name, ErrDeviceRefuse)
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	default:
		return fmt.Errorf("%w: %s: unsupported entry type %q in the archive", ErrBadArchive, hdr.Name, hdr.Typeflag)
	}
	pfd, err := rootfs.MkdirAllInRoot(x.r.fd, x.r.what, path.Dir(full), 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	base := path.Base(full)
	keep, err := x.makeRoom(pfd, base, full, hdr)
	if err != nil || keep {
		if err == nil {
			err = x.metadata(pfd, base, hdr)
		}
		return err
	}
	if err := x.create(pfd, base, full, hdr, r); err != nil {
		return fmt.Errorf("extracting %s to %s in %s: %w", hdr.Name, full, x.r.what, err)
	}
	return x.metadata(pfd, base, hdr)
}

// makeRoom removes what is at base in pfd, unless both it and the entry
// are directories (then they merge: keep is true), and applies
// NoOverwriteDirNonDir. Nothing is followed: a symlink in the way is
// removed, not what it points to.
func (x *extractor) makeRoom(pfd int, base, full string, hdr *tar.Header) (keep bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s in %s: %w", full, x.r.what, err)
	}
	isDir, wantDir := st.Mode&unix.S_IFMT == unix.S_IFDIR, hdr.Typeflag == tar.TypeDir
	switch {
	case isDir && wantDir:
		return true, nil
	case x.opts.NoOverwriteDirNonDir && isDir:
		return false, fmt.Errorf("%w directory %q with non-directory %q", ErrOverwrite, full, x.dest)
	case x.opts.NoOverwriteDirNonDir && wantDir:
		return false, fmt.Errorf("%w non-directory %q with directory %q", ErrOverwrite, full, x.dest)
	}
	if err := removeAllAt(pfd, base); err != nil {
		return false, fmt.Errorf("replacing %s in %s: %w", full, x.r.what, err)
	}
	return false, nil
}

// removeAllAt removes base in the directory pfd and, for a directory,
// all it holds, without following any symlink.
func removeAllAt(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || !errors.Is(err, unix.EISDIR) {
		return err
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d, err := reopen(dfd, unix.O_RDONLY|unix.O_DIRECTORY)
	unix.Close(dfd)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	for _, n := range names {
		if err == nil {
			err = removeAllAt(int(d.Fd()), n)
		}
	}
	d.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
}

// create makes the entry at base in pfd.
func (x *extractor) create(pfd int, base, full string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		return unix.Mkdirat(pfd, base, 0o700)
	case tar.TypeSymlink:
		return unix.Symlinkat(hdr.Linkname, pfd, base)
	case tar.TypeFifo:
		return unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0)
	case tar.TypeLink:
		return x.link(pfd, base, hdr.Linkname)
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := newFile(fd, full)
	err = image.WriteEntry(f, r, hdr.Size)
	if errors.Is(err, image.ErrNoRoom) {
		err = fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	return errors.Join(err, f.Close())
}

// archiveReader marks the errors of reading an entry's content (a cut
// archive) as the archive's, apart from those of writing it.
type archiveReader struct{ r io.Reader }

func (a archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	return n, err
}

// link makes base in pfd a hard link to the archive's entry target,
// which names a path below the destination. linkat(2) without
// AT_SYMLINK_FOLLOW links a symlink itself, never what it points to.
func (x *extractor) link(pfd int, base, target string) error {
	rel, err := entryPath(target, x.dest)
	if err != nil {
		return err
	}
	full := path.Join(x.dest, rel)
	tfd, err := x.r.open(path.Dir(full), unix.O_DIRECTORY)
	if err == nil {
		defer unix.Close(tfd)
		err = unix.Linkat(tfd, path.Base(full), pfd, base, 0)
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		// A link to a file that neither the archive nor the
		// container has: the archive's mistake (a 400), not a
		// missing destination (a 404): the errno is not kept.
		return fmt.Errorf("%w: hard link %s to %s: %v", ErrBadArchive, base, target, err)
	}
	return err
}

// metadata gives base in pfd the entry's owner, mode and times: owner
// first, as chown clears the set-user-ID bit. The file is opened
// O_PATH|O_NOFOLLOW by its single name, and changed through that
// descriptor (chmod through its /proc/self/fd link).
func (x *extractor) metadata(pfd int, base string, hdr *tar.Header) error {
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("extracting %s in %s: %w", hdr.Name, x.r.what, err)
	}
	defer unix.Close(fd)
	if err := x.chown(fd, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return x.times(pfd, base, hdr)
	}
	if hdr.Typeflag == tar.TypeLink {
		return nil // the file it links to has its own entry
	}
	if err := unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod %s in %s: %w", hdr.Name, x.r.what, err)
	}
	if !x.opts.NoChown {
		// Chapter 06's rules: the archive's xattrs but overlay's own,
		// set on base in the resolved directory, not following it.
		if err := image.SetXattrs(fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base), hdr.Name, hdr); err != nil {
			return fmt.Errorf("%s: %w", x.r.what, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		x.dirs = append(x.dirs, hdr) // its entries would change its times
		return nil
	}
	return x.times(pfd, base, hdr)
}

// chown gives the file fd (O_PATH) the archive's owner, or Owner.
func (x *extractor) chown(fd int, hdr *tar.Header) error {
	if x.opts.NoChown {
		return nil
	}
	uid, gid := hdr.Uid, hdr.Gid
	if x.opts.Owner != nil {
		uid, gid = x.opts.Owner.UID, x.opts.Owner.GID
	}
	if s := x.r.shift; s != nil {
		// The container's ids as the host names them (idshift.go).
		uid, gid = uid+s.UID, gid+s.GID
	}
	if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s in %s: %w", hdr.Name, x.r.what, err)
	}
	return nil
}

// times sets base's access and modification times, not following it.
func (x *extractor) times(pfd int, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting the times of %s in %s: %w", hdr.Name, x.r.what, err)
	}
	return nil
}

// dirTimes sets the directories' times once everything is in them, in
// reverse order (children first).
func (x *extractor) dirTimes() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		rel, _ := entryPath(hdr.Name, x.dest)
		full := path.Join(x.dest, rel)
		pfd, err := x.r.open(path.Dir(full), unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		err = x.times(pfd, path.Base(full), hdr)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}
