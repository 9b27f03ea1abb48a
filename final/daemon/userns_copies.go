package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/04-cow-layers/volume"
	"github.com/berth-project/berth/06-images/image"
)

// Chowned copies: --userns-remap where the data root cannot idmap.
//
// berthd shares the image store between remapped containers and others
// with idmapped mounts (userns.go). Not every filesystem can have them.
// There berthd does what dockerd always does: a remapped container runs
// on copies of the image's layers whose owners are shifted by the
// mapping's bases, so that the image's uid 0 is the host's 165536, which
// the container's namespace shows as 0 again.
//
//	<DataRoot>/images/layers/<chain>/diff        the image's layer, uid 0
//	<DataRoot>/remap/165536.165536/<key>/layer   its copy, uid 165536
//	<DataRoot>/remap/165536.165536/<key>/source  the layer it copies
//
// A copy is made once per layer and mapping, at the first create that
// needs it, and shared by every container of the mapping. It is made in
// a temporary directory and renamed into place: it is complete or
// absent, whatever a crash interrupts. It goes when its layer goes: after
// rmi, after rm (an image removed with rmi -f loses its layers with its
// last container) and at the daemon's start, every copy whose source is
// gone is removed (sweepCopies).
//
// What the container then writes in its writable layer has host ids too
// (its directory is its root's, chapter 04's chown fallback). commit,
// export and docker cp out of it shift them back (image.Unmap), so that
// an image or an archive holds the container's ids, as Docker's do.
// Volumes of the store that such a container creates are its root's
// (dockerd's remapped root owns a new volume's _data too).
//
// The cost: a full copy of each layer per mapping, in time at the first
// create and in disk space (BenchmarkChownedCopy measures busybox's).

// remapDir is where the copies for the daemon's mapping are.
func (d *Daemon) remapDir() string {
	return filepath.Join(d.opts.DataRoot, "remap", fmt.Sprintf("%d.%d", d.remap.UIDs.Base, d.remap.GIDs.Base))
}

// chownedFor reports whether a container of --userns mode runs on chowned
// copies of its image's layers.
func (d *Daemon) chownedFor(mode string) bool {
	return d.remap != nil && d.chowned && mode != "host"
}

// containerUnmap is the mapping of the container name as image.Unmap if
// it runs on chowned copies of its image, nil if not: what commit and
// export need to write the container's own ids. It is read from the
// container's spec, so it holds whatever the daemon's options are now;
// only for a container whose layer rw is on copies.
func (d *Daemon) containerUnmap(name string, rw *layer.RW) (*image.Unmap, error) {
	copies := filepath.Join(d.opts.DataRoot, "remap") + string(filepath.Separator)
	if len(rw.Lower) == 0 || !strings.HasPrefix(rw.Lower[0], copies) {
		return nil, nil
	}
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, nil // not berthd's: a chapter program's container
	}
	var s runSpec
	if err := c.DecodeSpec(&s); err != nil {
		return nil, err
	}
	if cfg := s.Run.Config; s.Run.Layer.Chowned && cfg.UserNS {
		return &image.Unmap{UIDs: cfg.UIDRange(), GIDs: cfg.GIDRange()}, nil
	}
	return nil, nil
}

// chownedLayers gives the chowned copies of the layer directories dirs,
// making those that do not exist yet.
func (d *Daemon) chownedLayers(dirs []string) ([]string, error) {
	d.copiesMu.Lock()
	defer d.copiesMu.Unlock()
	out := make([]string, len(dirs))
	for i, src := range dirs {
		dst, err := d.chownedCopy(src)
		if err != nil {
			return nil, err
		}
		out[i] = dst
	}
	return out, nil
}

// chownedCopyOf is chownedLayers of one directory.
func (d *Daemon) chownedCopyOf(dir string) (string, error) {
	dirs, err := d.chownedLayers([]string{dir})
	if err != nil {
		return "", err
	}
	return dirs[0], nil
}

// chownNewVolume gives a new volume of the store to the mapping's root
// where containers run on chowned copies, as dockerd's remapped root
// owns a new volume's _data. A volume that binds a host directory
// (o=bind) is the host's, left alone.
func (d *Daemon) chownNewVolume(v volume.Volume) error {
	if d.remap == nil || !d.chowned || !strings.HasPrefix(v.Mountpoint, volume.Dir(d.opts.DataRoot)+string(filepath.Separator)) {
		return nil
	}
	if err := os.Chown(v.Mountpoint, d.remap.UIDs.Base, d.remap.GIDs.Base); err != nil {
		return fmt.Errorf("volume %s: giving it to the remapped root: %w", v.Name, err)
	}
	return nil
}

// chownedCopy gives the copy of src, made if missing. copiesMu is held.
func (d *Daemon) chownedCopy(src string) (string, error) {
	sum := sha256.Sum256([]byte(src))
	dir := filepath.Join(d.remapDir(), hex.EncodeToString(sum[:16]))
	layer := filepath.Join(dir, "layer")
	if _, err := os.Stat(layer); err == nil {
		return layer, nil
	}
	// 0711: the container's root, who mounts the overlay in its own
	// namespace, passes through to the copy.
	if err := os.MkdirAll(d.remapDir(), 0o711); err != nil {
		return "", fmt.Errorf("chowned copy of %s: %w", src, err)
	}
	if err := os.Chmod(filepath.Dir(d.remapDir()), 0o711); err != nil {
		return "", fmt.Errorf("chowned copy of %s: %w", src, err)
	}
	tmp, err := os.MkdirTemp(d.remapDir(), "tmp-")
	if err != nil {
		return "", fmt.Errorf("chowned copy of %s: %w", src, err)
	}
	err = os.Chmod(tmp, 0o711)
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "source"), []byte(src), 0o644)
	}
	if err == nil {
		err = copyShifted(src, filepath.Join(tmp, "layer"), d.remap.UIDs, d.remap.GIDs)
	}
	if err == nil {
		// On the disk before it has its name, as the store's layers
		// are (chapter 06's syncfs): a copy renamed but still in the
		// page cache would come back empty after a power cut, and be
		// taken for complete.
		err = atomicfile.SyncFS(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		return "", errors.Join(fmt.Errorf("chowned copy of %s: %w", src, err), os.RemoveAll(tmp))
	}
	return layer, nil
}

// sweepCopies removes the copies whose layer is gone, and what an
// interrupted copy left.
func (d *Daemon) sweepCopies() error {
	if d.remap == nil {
		return nil
	}
	d.copiesMu.Lock()
	defer d.copiesMu.Unlock()
	entries, err := os.ReadDir(d.remapDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(d.remapDir(), e.Name())
		if !strings.HasPrefix(e.Name(), "tmp-") {
			src, err := os.ReadFile(filepath.Join(dir, "source"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			if err == nil {
				if _, err := os.Stat(string(src)); err == nil {
					continue
				}
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyShifted copies the tree src to dst (which must not exist), each
// owner shifted into the ranges (uid 0 -> uids.Base; an id past the
// ranges' size stays as it is, nobody inside). Hard links stay links,
// extended attributes (overlay's opaque marker, file capabilities) and
// times are kept; whiteouts (0/0 devices) are devices again.
func copyShifted(src, dst string, uids, gids namespace.IDRange) error {
	links := map[[2]uint64]string{}
	var dirs []string // whose times are set last: their entries change them
	err := filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok {
				return os.Link(first, to)
			}
			links[key] = to
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			err = os.Mkdir(to, 0o700)
			dirs = append(dirs, p)
		case m.IsRegular():
			err = copyFileContent(p, to)
		case m&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(p); err == nil {
				err = os.Symlink(target, to)
			}
		default: // devices (whiteouts among them), fifos, sockets
			err = unix.Mknod(to, st.Mode, int(st.Rdev))
		}
		if err != nil {
			return err
		}
		if err := os.Lchown(to, shiftID(uids, st.Uid), shiftID(gids, st.Gid)); err != nil {
			return err
		}
		// After the chown, which clears set-user-ID and set-group-ID,
		// and file capabilities (security.capability).
		if fi.Mode()&fs.ModeSymlink == 0 {
			if err := unix.Chmod(to, st.Mode&0o7777); err != nil {
				return fmt.Errorf("chmod %s: %w", to, err)
			}
		}
		if err := copyXattrs(p, to); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		return setTimes(to, st)
	})
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		p := dirs[i]
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if err := setTimes(filepath.Join(dst, rel), fi.Sys().(*syscall.Stat_t)); err != nil {
			return err
		}
	}
	return nil
}

// shiftID is id as the host names it in the range r.
func shiftID(r namespace.IDRange, id uint32) int {
	if int(id) < r.Size {
		return r.Base + int(id)
	}
	return int(id)
}

// copyFileContent copies a regular file's bytes (copy_file_range, which
// io.Copy uses between files: a reflink where the filesystem has them).
func copyFileContent(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// copyXattrs copies a file's extended attributes, overlay's trusted.*
// markers among them, without following a symlink.
func copyXattrs(from, to string) error {
	size, err := unix.Llistxattr(from, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(from, buf); err != nil {
		return fmt.Errorf("listing xattrs of %s: %w", from, err)
	}
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		val := make([]byte, 256)
		for {
			n, err := unix.Lgetxattr(from, name, val)
			if errors.Is(err, unix.ERANGE) {
				val = make([]byte, 2*len(val))
				continue
			}
			if err != nil {
				return fmt.Errorf("xattr %s of %s: %w", name, from, err)
			}
			val = val[:n]
			break
		}
		if err := unix.Lsetxattr(to, name, val, 0); err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, to, err)
		}
	}
	return nil
}

// setTimes gives to the access and modification times of st.
func setTimes(to string, st *syscall.Stat_t) error {
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, to, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s: %w", to, err)
	}
	return nil
}
