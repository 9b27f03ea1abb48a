package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/04-cow-layers/layer"
)

// Whiteout names, as Docker's and the OCI's layer tars spell them.
const (
	whiteoutPrefix = ".wh."
	// whiteoutMeta prefixes AUFS's own bookkeeping files (".wh..wh.plnk"):
	// never meant for anyone else, skipped.
	whiteoutMeta = ".wh..wh."
	// whiteoutOpaque in a directory hides what the layers below have in it.
	whiteoutOpaque = ".wh..wh..opq"
)

// xattrPrefix is how tar stores an extended attribute: a PAX record named
// SCHILY.xattr.<name>, the convention of star and GNU tar that Docker,
// containerd and Go's archive/tar follow.
const xattrPrefix = "SCHILY.xattr."

// ErrUnsafePath is wrapped by Extract's error for an entry that would be
// written outside the target directory.
var ErrUnsafePath = errors.New("path leads outside the target directory")

// ExtractLayer unpacks a layer tar into dir, an existing directory, in the
// form overlayfs stacks: a ".wh.NAME" entry becomes a whiteout (a 0/0
// character device named NAME) and ".wh..wh..opq" marks its directory
// opaque (the trusted.overlay.opaque xattr). Modes, owners, times, hard
// links, symlinks, devices and extended attributes are kept.
//
// Nothing is ever written outside dir, whatever the tar holds: every path
// is resolved inside dir with os.Root, which refuses ".." and symlinks
// that lead out, and files are created with O_EXCL|O_NOFOLLOW relative to
// their parent directory's descriptor, so a symlink planted by an earlier
// entry is replaced, never written through. Such an entry is an error
// wrapping ErrUnsafePath; dir is then half-filled, and the caller throws it
// away. Big files are written with O_DIRECT (see directFile); nothing is
// durable until the caller syncs.
func ExtractLayer(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	defer root.Close()
	x := &extractor{root: root, dir: dir}
	defer x.closeParent()
	defer func() {
		if x.buf != nil {
			putBuffer(x.buf)
		}
	}()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extracting into %s: reading tar: %w", dir, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("extracting into %s: %w", dir, err)
		}
	}
	// Directory times last: creating the entries inside a directory
	// changed its mtime. Deepest first, though the order does not matter
	// for utimensat.
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		if err := x.setTimes(d.name, d.hdr); err != nil {
			return fmt.Errorf("extracting into %s: %w", dir, err)
		}
	}
	return nil
}

type extractor struct {
	root *os.Root
	dir  string
	// The parent directory of the last entry, kept open: tar entries come
	// grouped by directory, and opening the parent again for each one
	// would resolve the whole path every time.
	parentName string
	parent     *os.File
	dirTimes   []dirEntry
	buf        *[]byte // for copying files' contents, aligned
}

type dirEntry struct {
	name string
	hdr  *tar.Header
}

// cleanName turns an entry name into a path relative to the target: "."
// for the root, never starting with "/" or "..". A leading "/" is dropped,
// as GNU tar and Docker do; a name that climbs out with ".." is refused.
func cleanName(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%q: %w", name, ErrUnsafePath)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%q: NUL byte in name", name)
	}
	return p, nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX global header: metadata for the reader only
	}
	if name == "." {
		// The root itself: keep its mode, owner and times in a layer
		// (overlay shows the top layer's root as "/"); nothing to create.
		if hdr.Typeflag != tar.TypeDir {
			return nil
		}
		return x.metadata(".", hdr)
	}
	dir, base := path.Split(name)
	dir = path.Clean("." + "/" + dir)

	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base, hdr)
	}
	parent, err := x.openParent(dir)
	if err != nil {
		return err
	}
	pfd := int(parent.Fd())

	// Whatever is already there goes, unless a directory meets a
	// directory (a later entry may update a directory's metadata).
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && !(st.Mode&unix.S_IFMT == unix.S_IFDIR && hdr.Typeflag == tar.TypeDir) {
		if err := x.remove(name); err != nil {
			return err
		}
		if parent, err = x.openParent(dir); err != nil {
			return err
		}
		pfd = int(parent.Fd())
	}

	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", name, err)
		}
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if err := x.writeFile(pfd, name, base, r, hdr.Size); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored as it is, never followed here: it is
		// resolved by the container, inside its own root.
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", name, hdr.Linkname, err)
		}
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %s: %w", name, err)
		}
		// os.Root resolves the target inside the root too: a link to
		// a file reached through a symlink that leads out is refused.
		if err := x.root.Link(target, name); err != nil {
			return fmt.Errorf("hard link %s -> %s: %w", name, hdr.Linkname, unsafeIfEscape(err))
		}
		return nil // same inode as the target: its metadata is set
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, kind|mode, int(dev)); err != nil {
			return fmt.Errorf("mknod %s: %w", name, err)
		}
	default:
		return nil // other types (sockets cannot be in a tar) are skipped
	}
	if hdr.Typeflag == tar.TypeDir {
		x.dirTimes = append(x.dirTimes, dirEntry{name, hdr})
		return x.metadataAt(pfd, name, base, hdr, false)
	}
	return x.metadataAt(pfd, name, base, hdr, true)
}

// writeFile creates base in the directory pfd and copies the entry's
// content into it, keeping holes. O_EXCL|O_NOFOLLOW: the name was just cleared, and if
// something appeared there since, we fail rather than write through it.
// A big file goes to the disk directly (see directFile).
func (x *extractor) writeFile(pfd int, name, base string, r io.Reader, size int64) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	var w io.Writer = f
	if size >= directMin {
		w = newDirectFile(f)
	}
	if x.buf == nil {
		x.buf = getBuffer()
	}
	// Zero blocks become holes (see holeWriter): a sparse file in the
	// tar stays sparse on the disk.
	err = writeEntry(f, w, r, size, *x.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// whiteout turns a ".wh." entry into overlay's form.
func (x *extractor) whiteout(dir, base string, hdr *tar.Header) error {
	if base == whiteoutOpaque {
		d, err := x.mkdirAll(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		// "/proc/self/fd/N/." is the directory N itself, reached without
		// resolving its path again.
		if err := layer.MakeOpaque(fmt.Sprintf("/proc/self/fd/%d/.", d.Fd())); err != nil {
			return fmt.Errorf("%s: %w", path.Join(dir, base), err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("whiteout %q: no file name", path.Join(dir, base))
	}
	name := path.Join(dir, target)
	parent, err := x.openParent(dir)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(int(parent.Fd()), target, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		if err := x.remove(name); err != nil {
			return err
		}
		if parent, err = x.openParent(dir); err != nil {
			return err
		}
	}
	pfd := int(parent.Fd())
	if err := layer.MakeWhiteout(fmt.Sprintf("/proc/self/fd/%d/%s", pfd, target)); err != nil {
		return err
	}
	if err := unix.Fchownat(pfd, target, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown whiteout %s: %w", name, err)
	}
	return utimes(pfd, name, target, hdr)
}

// openParent returns the directory dir (relative to the root), creating
// it and its parents if needed, as tar does for entries whose directory
// was not in the archive.
func (x *extractor) openParent(dir string) (*os.File, error) {
	if x.parent != nil && x.parentName == dir {
		return x.parent, nil
	}
	x.closeParent()
	f, err := x.mkdirAll(dir)
	if err != nil {
		return nil, err
	}
	x.parent, x.parentName = f, dir
	return f, nil
}

func (x *extractor) closeParent() {
	if x.parent != nil {
		x.parent.Close()
		x.parent, x.parentName = nil, ""
	}
}

// mkdirAll creates dir inside the root and opens it. os.Root follows
// symlinks on the way only while they stay inside the root, and refuses
// absolute ones: a layer that makes "lib" a link to "/usr/lib" of the
// host and then writes "lib/x" gets an error, not a file on the host.
func (x *extractor) mkdirAll(dir string) (*os.File, error) {
	if dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating directory %s: %w", dir, unsafeIfEscape(err))
		}
	}
	f, err := openDir(x.root, dir)
	if err != nil {
		return nil, fmt.Errorf("opening directory %s: %w", dir, unsafeIfEscape(err))
	}
	return f, nil
}

// openDir opens the directory name inside root. O_DIRECTORY makes the
// open fail at once if an entry replaced the directory by something else:
// opening a FIFO for reading would block until a writer comes.
func openDir(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY, 0)
}

// remove deletes name (and everything under it) inside the root, without
// following symlinks. The cached parent may have been under it.
func (x *extractor) remove(name string) error {
	x.closeParent()
	if err := x.root.RemoveAll(name); err != nil {
		return fmt.Errorf("replacing %s: %w", name, unsafeIfEscape(err))
	}
	return nil
}

// metadata sets owner, mode, xattrs and times of name, found by path.
func (x *extractor) metadata(name string, hdr *tar.Header) error {
	f, err := openDir(x.root, name)
	if err != nil {
		return fmt.Errorf("opening %s: %w", name, err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := SetXattrs(fmt.Sprintf("/proc/self/fd/%d/.", fd), name, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		x.dirTimes = append(x.dirTimes, dirEntry{name, hdr})
	}
	return nil
}

// metadataAt sets owner, mode, xattrs and (if times) times of base, a name
// in the directory pfd, without following a symlink there.
func (x *extractor) metadataAt(pfd int, name, base string, hdr *tar.Header, times bool) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	// chown clears the setuid and setgid bits, so the mode comes after.
	// A symlink's own mode means nothing on Linux.
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	if err := SetXattrs(fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base), name, hdr); err != nil {
		return err
	}
	if !times {
		return nil
	}
	return utimes(pfd, name, base, hdr)
}

// setTimes sets a directory's times at the end of the extraction.
func (x *extractor) setTimes(name string, hdr *tar.Header) error {
	if name == "." {
		f, err := openDir(x.root, ".")
		if err != nil {
			return err
		}
		defer f.Close()
		return utimes(int(f.Fd()), name, ".", hdr)
	}
	dir, base := path.Split(name)
	parent, err := openDir(x.root, path.Clean("./"+dir))
	if err != nil {
		// A later entry replaced or removed it: nothing to do.
		return nil
	}
	defer parent.Close()
	return utimes(int(parent.Fd()), name, base, hdr)
}

func utimes(pfd int, name, base string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.ModTime.Before(time.Unix(0, 0)) || atime.Before(time.Unix(0, 0)) {
		ts = []unix.Timespec{{Sec: 0}, {Sec: 0}} // before 1970: clamp
	}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %s: %w", name, err)
	}
	return nil
}

// SetXattrs applies the entry's SCHILY.xattr.* records to p (a path
// through /proc/self/fd that names exactly the created file). Overlay's
// own attributes are dropped: a layer must not be able to forge the
// kernel's bookkeeping (redirects, metacopy, opaque markers are made only
// from whiteout entries). A filesystem or file type that takes no xattrs
// (user.* on a symlink) is skipped, as tar does. (final/containerfs
// applies docker cp's archives with it too.)
func SetXattrs(p, name string, hdr *tar.Header) error {
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, xattrPrefix)
		if !ok || isOverlayXattr(attr) {
			continue
		}
		err := unix.Lsetxattr(p, attr, []byte(value), 0)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) && hdr.Typeflag == tar.TypeSymlink {
			continue
		}
		if err != nil {
			return fmt.Errorf("setting xattr %s on %s: %w", attr, name, err)
		}
	}
	return nil
}

func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// unsafeIfEscape marks os.Root's "path escapes from parent" errors (and
// its refusal of absolute symlinks, which is the same thing) with
// ErrUnsafePath.
func unsafeIfEscape(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	msg := err.Error()
	if (errors.As(err, &pe) || errors.As(err, &le)) && strings.Contains(msg, "escapes") {
		return fmt.Errorf("%w: %w", ErrUnsafePath, err)
	}
	return err
}
