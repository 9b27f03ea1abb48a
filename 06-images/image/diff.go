package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// WriteDiff writes the directory upper, a container's overlay upper
// directory, as a layer tar: what `commit` stores. Overlay's markers
// become the archive's: a whiteout (0/0 character device) NAME becomes an
// empty file ".wh.NAME", and an opaque directory gets a ".wh..wh..opq"
// entry right after its own. Entries come in a fixed order (names
// sorted) with only what a layer needs (no atime, no owner names), so
// the same tree always gives the same bytes, and so the same diffID.
//
// The container must not be running: a file that changes while it is
// read would make the tar inconsistent (Docker pauses the container).
func WriteDiff(w io.Writer, upper string) error { return WriteDiffUnmapped(w, upper, nil) }

// WriteDiffUnmapped is WriteDiff of an upper directory whose owners are
// host ids of a user namespace (unmap), written back as the namespace's.
func WriteDiffUnmapped(w io.Writer, upper string, unmap *Unmap) error {
	tw := tar.NewWriter(w)
	tb := &tarBuilder{tw: tw, links: map[inode]string{}, whiteouts: true, unmap: unmap}
	err := walkSorted(upper, func(rel string, full string, fi fs.FileInfo) (bool, error) {
		return true, tb.add(rel, full, fi)
	})
	if err != nil {
		return fmt.Errorf("writing layer from %s: %w", upper, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing layer from %s: %w", upper, err)
	}
	return nil
}

// Flatten writes the file system that the layer directories dirs (bottom
// first, overlay's form, a container's upper directory last if it has one)
// show when stacked, as one plain tar with no whiteouts: what `export`
// writes. It merges the directories itself, by overlay's rules, instead of
// mounting them, so it needs no privilege and leaves no mount behind.
func Flatten(w io.Writer, dirs []string) error { return FlattenUnmapped(w, dirs, nil) }

// FlattenUnmapped is Flatten of directories whose owners are host ids of
// a user namespace (unmap), written back as the namespace's.
func FlattenUnmapped(w io.Writer, dirs []string, unmap *Unmap) error {
	if len(dirs) == 0 {
		return errors.New("flatten: no layers")
	}
	top := make([]string, len(dirs))
	for i, d := range dirs {
		top[len(dirs)-1-i] = d
	}
	tw := tar.NewWriter(w)
	tb := &tarBuilder{tw: tw, links: map[inode]string{}, unmap: unmap}
	if err := tb.flatten(".", top); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	return nil
}

type inode struct{ dev, ino uint64 }

// tarBuilder turns files into tar entries.
type tarBuilder struct {
	tw *tar.Writer
	// links maps an inode with several names to the first name written,
	// so that the others become hard links to it, as in the source.
	links map[inode]string
	// whiteouts: convert overlay's markers (WriteDiff); without it they
	// are never passed in (Flatten resolves them).
	whiteouts bool
	// unmap turns the files' host ids into a user namespace's, nil
	// leaves them.
	unmap *Unmap
}

// Unmap is a user namespace's mapping, for layers whose files are owned
// by its host ids: those of a container whose image layers are copies
// chowned for it (berthd --userns-remap without idmapped mounts). An
// archive of such a layer holds the namespace's ids, as Docker's does:
// the host's uid 165536 is the container's root, 0. An id the namespace
// does not map shows as nobody inside (65534), and is written so.
type Unmap struct{ UIDs, GIDs namespace.IDRange }

// IDs turns host ids into the namespace's; a nil Unmap leaves them.
func (u *Unmap) IDs(uid, gid int) (int, int) {
	if u == nil {
		return uid, gid
	}
	return unmapID(u.UIDs, uid), unmapID(u.GIDs, gid)
}

func unmapID(r namespace.IDRange, id int) int {
	if id >= r.Base && id < r.Base+r.Size {
		return id - r.Base
	}
	return overflowID
}

// overflowID is the kernel's overflowuid and overflowgid: how a user
// namespace shows an id it does not map.
const overflowID = 65534

// walkSorted calls fn for dir's root (rel ".") and everything below it,
// parents before children, names sorted. fn returns whether to descend
// into a directory. Symlinks are not followed.
func walkSorted(dir string, fn func(rel, full string, fi fs.FileInfo) (bool, error)) error {
	var walk func(rel string) error
	walk = func(rel string) error {
		full := filepath.Join(dir, rel)
		fi, err := os.Lstat(full)
		if err != nil {
			return err
		}
		descend, err := fn(rel, full, fi)
		if err != nil || !descend || !fi.IsDir() {
			return err
		}
		names, err := readDirNames(full)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := walk(path.Join(rel, n)); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(".")
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// add writes the entry for the file full, which is rel in the layer.
func (tb *tarBuilder) add(rel, full string, fi fs.FileInfo) error {
	if tb.whiteouts && layer.IsWhiteout(fi) {
		dir, base := path.Split(rel)
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     dir + whiteoutPrefix + base,
			Mode:     0o600,
			ModTime:  fi.ModTime().Truncate(time.Second),
			Format:   tar.FormatPAX,
		}
		tb.setOwner(hdr, fi)
		return tb.tw.WriteHeader(hdr)
	}
	if rel == "." {
		return nil // a layer's root has no entry of its own, as in Docker's
	}
	hdr, err := tb.header(rel, full, fi)
	if err != nil || hdr == nil {
		return err
	}
	if err := tb.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := copyFile(tb.tw, full, hdr.Size); err != nil {
			return err
		}
	}
	if tb.whiteouts && fi.IsDir() {
		opaque, err := layer.IsOpaque(full)
		if err != nil {
			return err
		}
		if opaque {
			return tb.tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeReg,
				Name:     rel + "/" + whiteoutOpaque,
				Mode:     0o600,
				ModTime:  time.Unix(0, 0),
				Format:   tar.FormatPAX,
			})
		}
	}
	return nil
}

// header makes the tar header of a file; nil for what a tar cannot hold
// (sockets).
func (tb *tarBuilder) header(rel, full string, fi fs.FileInfo) (*tar.Header, error) {
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(fi.Mode().Perm()),
		ModTime: fi.ModTime().Truncate(time.Second),
		// PAX, not GNU: what Docker writes, and the only format with
		// room for extended attributes. Go uses plain USTAR headers when
		// nothing needs PAX records.
		Format: tar.FormatPAX,
	}
	m := fi.Mode()
	if m&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	tb.setOwner(hdr, fi)
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case m.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		if st != nil && st.Nlink > 1 {
			key := inode{st.Dev, st.Ino}
			if first, ok := tb.links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
			} else {
				tb.links[key] = rel
			}
		}
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name = rel + "/"
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(full)
		if err != nil {
			return nil, err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case m&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case m&fs.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		if st != nil {
			hdr.Devmajor = int64(unix.Major(st.Rdev))
			hdr.Devminor = int64(unix.Minor(st.Rdev))
		}
	default:
		return nil, nil // a socket: recreated by whoever listens on it
	}
	xattrs, err := readXattrs(full)
	if err != nil {
		return nil, err
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[xattrPrefix+k] = v
	}
	return hdr, nil
}

func (tb *tarBuilder) setOwner(hdr *tar.Header, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = tb.unmap.IDs(int(st.Uid), int(st.Gid))
	}
}

// copyFile copies exactly size bytes of the file into w: a file that grew
// or shrank since it was stat'ed would corrupt the tar otherwise.
func copyFile(w io.Writer, name string, size int64) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("reading %s: it shrank from %d to %d bytes while being archived", name, size, n)
	}
	return nil
}

// readXattrs lists a file's extended attributes, without overlay's own.
func readXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("listing xattrs of %s: %w", p, err)
	}
	attrs := map[string]string{}
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" || isOverlayXattr(name) {
			continue
		}
		vsize, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(p, name, val)
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, p, err)
		}
		attrs[name] = string(val[:vsize])
	}
	return attrs, nil
}

// flatten writes the directory rel as the layer directories layers (top
// first) show it merged, then what it holds.
func (tb *tarBuilder) flatten(rel string, layers []string) error {
	// Who provides each name: the topmost layer that has it.
	type source struct {
		layer int
		fi    fs.FileInfo
	}
	seen := map[string]source{}
	var names []string
	for i, l := range layers {
		dir := filepath.Join(l, rel)
		entries, err := readDirNames(dir)
		if err != nil {
			return err
		}
		for _, n := range entries {
			if _, ok := seen[n]; ok {
				continue
			}
			fi, err := os.Lstat(filepath.Join(dir, n))
			if err != nil {
				return err
			}
			seen[n] = source{i, fi}
			names = append(names, n)
		}
		opaque, err := layer.IsOpaque(dir)
		if err != nil {
			return err
		}
		if opaque {
			break // the layers below do not show here
		}
	}
	sort.Strings(names)
	for _, n := range names {
		src := seen[n]
		if layer.IsWhiteout(src.fi) {
			continue
		}
		childRel := path.Join(rel, n)
		full := filepath.Join(layers[src.layer], childRel)
		hdr, err := tb.header(childRel, full, src.fi)
		if err != nil {
			return err
		}
		if hdr == nil {
			continue
		}
		if err := tb.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", childRel, err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if err := copyFile(tb.tw, full, hdr.Size); err != nil {
				return err
			}
		}
		if !src.fi.IsDir() {
			continue
		}
		// The directory continues downwards in the layers that have a
		// directory of that name, until one that has something else
		// (a file or a whiteout hides all below it).
		var below []string
		for _, l := range layers[src.layer:] {
			fi, err := os.Lstat(filepath.Join(l, childRel))
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
				continue
			}
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				break
			}
			below = append(below, l)
		}
		if err := tb.flatten(childRel, below); err != nil {
			return err
		}
	}
	return nil
}
