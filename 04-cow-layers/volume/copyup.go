package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/explain"
	"github.com/berth-project/berth/03-rootfs/rootfs"
)

// CopyUpAll fills each empty volume of vols from the container's root
// filesystem at root (see CopyUp): every rootfs.TypeVolume with a
// directory and without NoCopy. Chapter 04's init calls it once the
// overlay is mounted on root, before chapter 03 mounts the volumes over
// what it copies.
func CopyUpAll(root string, vols []rootfs.Volume) error {
	for _, v := range vols {
		if v.Type != rootfs.TypeVolume || v.NoCopy || v.Source == "" {
			continue
		}
		explain.Inside().Step(explain.NamedVols, "copy_up", "("+v.Target+" of the image into "+v.Source+"): a new volume starts with what the image has there")
		if err := CopyUp(root, v.Target, v.Source); err != nil {
			return fmt.Errorf("volume %s: copy-up: %w", v, err)
		}
	}
	return nil
}

// CopyUp copies what the root filesystem root has at target (a path in
// the container) into the volume directory dst, if dst is empty: the
// files, directories and symlinks, with their modes, owners and times,
// and the directory's own mode and owner onto dst. Nothing is copied if
// target is not a directory, or dst holds anything (it was filled
// before, or by its user).
//
// Neither side follows a symlink out of place. target is resolved with
// RESOLVE_IN_ROOT, as the mount will be: a link in the image to /etc
// means the image's /etc. Below it every file is opened by name in its
// open parent with O_NOFOLLOW, and symlinks are copied as symlinks: a
// link to /etc or ../../.. in the image becomes the same link in the
// volume, which the container later resolves in its own root. In dst
// every file is made with O_EXCL: nothing that is there is written to.
//
// dst is locked (flock) during the copy, so two containers that start on
// one new volume do not both fill it. A copy that fails is removed again,
// and the next start tries anew.
func CopyUp(root, target, dst string) error {
	dfd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dst, err)
	}
	defer unix.Close(dfd)
	if err := unix.Flock(dfd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", dst, err)
	}
	if empty, err := isEmpty(dfd, dst); err != nil || !empty {
		return err
	}
	sfd, err := openInRoot(root, target)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there: the volume stays empty
	}
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	c := copier{from: root + target, to: dst}
	var st unix.Stat_t
	err = c.dir(sfd, dfd)
	if err == nil {
		err = unix.Fstat(sfd, &st)
	}
	if err == nil {
		err = c.meta(dfd, &st)
	}
	if err != nil {
		// Half a copy would pass for a filled volume at the next
		// start: empty it, so that the next start copies again.
		return errors.Join(err, emptyDir(dfd, dst))
	}
	return nil
}

// emptyDir removes the entries of the directory fd, whose path is dir.
// (os.RemoveAll follows no symlink below its argument.)
func emptyDir(fd int, dir string) error {
	names, err := readNames(fd, dir, -1)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
	}
	return errors.Join(errs...)
}

// openInRoot opens the directory target inside root for reading, with
// root as "/" for every symlink on the way, as chapter 03 will resolve
// it to mount the volume there.
func openInRoot(root, target string) (int, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", root, err)
	}
	defer unix.Close(rfd)
	pfd, err := rootfs.OpenInRoot(rfd, root, target, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s in %s: %w", target, root, err)
	}
	return fd, nil
}

// isEmpty reports whether the directory fd has no entries.
func isEmpty(fd int, name string) (bool, error) {
	names, err := readNames(fd, name, 1)
	return len(names) == 0, err
}

// readNames reads up to n (all for -1) entry names of the directory fd,
// from its start, whose path is name.
func readNames(fd int, name string, n int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	f := os.NewFile(uintptr(dup), name)
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	names, err := f.Readdirnames(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return names, nil
}

// copier copies one tree; from and to name its top for errors.
type copier struct{ from, to string }

// dir copies the entries of the directory sfd into the directory dfd.
func (c copier) dir(sfd, dfd int) error {
	names, err := readNames(sfd, c.from, -1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := c.entry(sfd, dfd, name); err != nil {
			return err
		}
	}
	return nil
}

// entry copies one entry, name, of sfd into dfd.
func (c copier) entry(sfd, dfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s/%s: %w", c.from, name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return c.subdir(sfd, dfd, name, &st)
	case unix.S_IFREG:
		return c.file(sfd, dfd, name, &st)
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(sfd, name, buf)
		if err != nil {
			return fmt.Errorf("readlink %s/%s: %w", c.from, name, err)
		}
		if err := unix.Symlinkat(string(buf[:n]), dfd, name); err != nil {
			return fmt.Errorf("symlink %s/%s: %w", c.to, name, err)
		}
	case unix.S_IFSOCK:
		return nil // a socket is a live program's, not content
	default: // FIFOs and device nodes
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s/%s: %w", c.to, name, err)
		}
	}
	return c.metaAt(dfd, name, &st)
}

// subdir copies the directory name of sfd, whole, into dfd.
func (c copier) subdir(sfd, dfd int, name string, st *unix.Stat_t) error {
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return fmt.Errorf("mkdir %s/%s: %w", c.to, name, err)
	}
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(sfd, name, flags, 0)
	if err != nil {
		return fmt.Errorf("opening %s/%s: %w", c.from, name, err)
	}
	defer unix.Close(s)
	d, err := unix.Openat(dfd, name, flags, 0)
	if err != nil {
		return fmt.Errorf("opening %s/%s: %w", c.to, name, err)
	}
	defer unix.Close(d)
	sub := copier{from: c.from + "/" + name, to: c.to + "/" + name}
	if err := sub.dir(s, d); err != nil {
		return err
	}
	// After its entries, which changed its modification time.
	return sub.meta(d, st)
}

// file copies the regular file name of sfd into dfd.
func (c copier) file(sfd, dfd int, name string, st *unix.Stat_t) error {
	s, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s/%s: %w", c.from, name, err)
	}
	src := os.NewFile(uintptr(s), c.from+"/"+name)
	defer src.Close()
	d, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s/%s: %w", c.to, name, err)
	}
	dst := os.NewFile(uintptr(d), c.to+"/"+name)
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil { // copy_file_range where it can
		return fmt.Errorf("copying %s/%s: %w", c.from, name, err)
	}
	return c.meta(d, st)
}

// meta gives the file fd the owner, mode and times of st. The owner goes
// first: chown clears the setuid and setgid bits that the mode then sets.
// fd may be an O_PATH descriptor; the mode and times go through its
// /proc/self/fd link, which leads to the file itself whatever its path.
func (c copier) meta(fd int, st *unix.Stat_t) error {
	if err := unix.Fchownat(fd, "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("chown in %s: %w", c.to, err)
	}
	self := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Chmod(self, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod in %s: %w", c.to, err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, self, []unix.Timespec{st.Atim, st.Mtim}, 0); err != nil {
		return fmt.Errorf("times in %s: %w", c.to, err)
	}
	return nil
}

// metaAt gives the new entry name of dfd, which is not a directory or a
// regular file (those have their own descriptor), the owner, mode and
// times of st, without following it if it is a symlink.
func (c copier) metaAt(dfd int, name string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s/%s: %w", c.to, name, err)
		}
		defer unix.Close(fd)
		return c.meta(fd, st)
	}
	// A symlink has no mode of its own, and a chmod would follow it.
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s/%s: %w", c.to, name, err)
	}
	if err := unix.UtimesNanoAt(dfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s/%s: %w", c.to, name, err)
	}
	return nil
}
