package build

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/06-images/image"
)

// COPY and ADD make a layer without running anything: the files are
// copied into an empty directory laid out as a container's writable layer
// would hold them after the same copy (the image's paths, the parent
// directories that hold the files), and the daemon commits that
// directory on the image, as it commits a RUN's container.
//
//	COPY app/ /srv/app/           context            new layer (upper)
//	                              app/main.go   -->  srv/            (as in the image, or new)
//	                              app/lib/x.go       srv/app/        (new: root, 0755)
//	                                                 srv/app/main.go (root unless --chown)
//	                                                 srv/app/lib/x.go
//
// A parent directory that the image has already is written with the
// image's owner and mode, as overlay's copy-up would write it, so that the
// new layer changes nothing but what was copied. A symbolic link in the
// destination path (/bin -> usr/bin in many images) is followed inside
// the image, so the files land where the link leads instead of replacing
// it with a directory.

// copyStep is one COPY or ADD, planned.
type copyStep struct {
	name    string // "COPY" or "ADD"
	src     tree   // the context, or an image (COPY --from)
	dst     tree   // the image being built
	sources []copySource
	dest    string // clean, relative to the root
	destDir bool   // the destination is a directory (ends in "/", or several sources)
	uid     int
	gid     int
	chmod   *fs.FileMode
}

// copySource is one source path, after wildcards and links.
type copySource struct {
	n       node
	name    string // its base name, for a file copied into a directory
	archive bool   // ADD: a local tar, unpacked instead of copied
}

// hasMeta reports whether a source is a wildcard pattern.
func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// planCopy finds the sources of a COPY or ADD. srcs are the arguments as
// written (variables replaced); workdir makes a relative dest absolute.
func planCopy(name string, src, dst tree, srcs []string, dest, workdir string, fromContext bool) (*copyStep, error) {
	c := &copyStep{name: name, src: src, dst: dst}
	c.destDir = strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join(workdir, dest)
	}
	c.dest = cleanRel(dest)
	for _, s := range srcs {
		if isURL(s) {
			return nil, fmt.Errorf("%s from a URL is not supported: no network (%s)", name, s)
		}
		clean := path.Clean(s)
		if fromContext && (clean == ".." || strings.HasPrefix(clean, "../")) {
			return nil, fmt.Errorf("forbidden path outside the build context: %s", s)
		}
		rel := cleanRel(s)
		var matches []string
		if hasMeta(rel) {
			m, err := src.glob(rel)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, s, err)
			}
			matches = m
		} else {
			matches = []string{rel}
		}
		for _, m := range matches {
			n, err := src.stat(m)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
					if fromContext {
						return nil, fmt.Errorf("%s failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", name, s)
					}
					return nil, fmt.Errorf("%s failed: stat %s: file does not exist", name, s)
				}
				return nil, fmt.Errorf("%s %s: %w", name, s, err)
			}
			cs := copySource{n: n, name: path.Base(m)}
			if name == "ADD" && n.fi.Mode().IsRegular() {
				if cs.archive, err = isArchive(src, n); err != nil {
					return nil, err
				}
			}
			c.sources = append(c.sources, cs)
		}
	}
	if len(c.sources) == 0 {
		return nil, fmt.Errorf("%s failed: no source files were specified", name)
	}
	if len(c.sources) > 1 {
		if !c.destDir {
			return nil, fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", name)
		}
	}
	return c, nil
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "ftp://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isArchive reports whether a source file of ADD is a tar (plain or
// compressed), by its content, as Docker decides.
func isArchive(t tree, n node) (bool, error) {
	f, err := t.open(n)
	if err != nil {
		return false, err
	}
	defer f.Close()
	plain, _, err := image.Decompress(f)
	if err != nil {
		return false, nil // xz, zstd: berth cannot read it, so it is a file
	}
	defer plain.Close()
	_, err = tar.NewReader(plain).Next()
	return err == nil, nil
}

// glob matches a pattern against the tree, one path element at a time,
// as filepath.Match does ("*" never matches "/").
func (t tree) glob(pattern string) ([]string, error) {
	parts := strings.Split(pattern, "/")
	paths := []string{"."}
	for _, part := range parts {
		var next []string
		for _, dir := range paths {
			if !hasMeta(part) {
				p := path.Join(dir, part)
				if _, err := t.lookup(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			if _, err := path.Match(part, ""); err != nil {
				return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
			}
			n, err := t.stat(dir)
			if err != nil || !n.fi.IsDir() {
				continue
			}
			names, err := t.readDir(n)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				if ok, _ := path.Match(part, name); ok {
					next = append(next, path.Join(dir, name))
				}
			}
		}
		paths = next
	}
	return paths, nil
}

// digest hashes what the step would copy: each file's path below its
// source, type, mode, link target and content, so that the cache knows
// when it changed. Times and owners in the context do not count: the
// copy does not keep owners, and a checkout's times change for nothing.
func (c *copyStep) digest() (string, error) {
	h := sha256.New()
	for _, s := range c.sources {
		fmt.Fprintf(h, "source %s archive=%v\n", s.name, s.archive)
		err := c.src.walk(s.n, ".", func(n node, rel string) error {
			fi := n.fi
			fmt.Fprintf(h, "%s %o %d", rel, fi.Mode(), fi.Size())
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(n.full)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, " -> %s", target)
			case fi.Mode().IsRegular():
				if err := hashFile(h, c.src, n); err != nil {
					return err
				}
			}
			_, err := h.Write([]byte{'\n'})
			return err
		})
		if err != nil {
			return "", err
		}
	}
	kind := "file"
	if len(c.sources) > 1 {
		kind = "multi"
	} else if c.sources[0].n.fi.IsDir() {
		kind = "dir"
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h hash.Hash, t tree, n node) error {
	f, err := t.open(n)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

// walk calls fn for n (as rel) and, for a directory, everything below it,
// names sorted, parents first. Links inside are not followed.
func (t tree) walk(n node, rel string, fn func(n node, rel string) error) error {
	if err := fn(n, rel); err != nil {
		return err
	}
	if !n.fi.IsDir() {
		return nil
	}
	names, err := t.readDir(n)
	if err != nil {
		return err
	}
	for _, name := range names {
		child, err := t.child(n, name)
		if err != nil {
			return fmt.Errorf("/%s: %w", path.Join(n.rel, name), err)
		}
		if err := t.walk(child, path.Join(rel, name), fn); err != nil {
			return err
		}
	}
	return nil
}

// apply copies the sources into upper, the new layer's directory.
func (c *copyStep) apply(upper string) error {
	w := &layerWriter{upper: upper, dst: c.dst, uid: c.uid, gid: c.gid, chmod: c.chmod, links: map[[2]uint64]string{}}
	for _, s := range c.sources {
		switch {
		case s.n.fi.IsDir():
			target, err := c.dst.resolve(c.dest, true)
			if err != nil {
				return err
			}
			if err := w.ensureDir(target, s.n.fi); err != nil {
				return err
			}
			names, err := c.src.readDir(s.n)
			if err != nil {
				return err
			}
			for _, name := range names {
				child, err := c.src.child(s.n, name)
				if err != nil {
					return err
				}
				err = c.src.walk(child, name, func(n node, rel string) error {
					return w.write(c.src, n, path.Join(target, rel))
				})
				if err != nil {
					return err
				}
			}
		case s.archive:
			target, err := c.dst.resolve(c.dest, true)
			if err != nil {
				return err
			}
			if err := w.ensureDir(target, nil); err != nil {
				return err
			}
			if err := w.unpack(c.src, s.n, target); err != nil {
				return err
			}
		default:
			target := c.dest
			if c.destDir {
				target = path.Join(c.dest, s.name)
			} else if n, err := c.dst.stat(c.dest); err == nil && n.fi.IsDir() {
				target = path.Join(c.dest, s.name)
			}
			parent, err := c.dst.resolve(path.Dir(target), true)
			if err != nil {
				return err
			}
			if err := w.ensureDir(parent, nil); err != nil {
				return err
			}
			if err := w.write(c.src, s.n, path.Join(parent, path.Base(target))); err != nil {
				return err
			}
		}
	}
	return nil
}

// layerWriter writes files into a new layer's directory. Every parent it
// writes through is a real directory that it made or checked: it never
// follows a link, so a link copied from the context cannot redirect a
// later write out of the layer.
type layerWriter struct {
	upper    string
	dst      tree
	uid, gid int
	chmod    *fs.FileMode
	links    map[[2]uint64]string // source inode -> first copy, for hard links
}

func (w *layerWriter) host(rel string) string {
	return filepath.Join(w.upper, filepath.FromSlash(rel))
}

// ensureDir makes rel and its parents directories of the layer. Those the
// image has get the image's owner, mode and time (a copy-up); new ones
// are root's, 0755, or like top (the copied directory) for rel itself.
func (w *layerWriter) ensureDir(rel string, top fs.FileInfo) error {
	if rel == "." {
		return nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		full := w.host(p)
		fi, err := os.Lstat(full)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			// Something else of this step is in the way: a directory
			// replaces it, as unpacking a tar would.
			if err := os.RemoveAll(full); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		mode, uid, gid, mtime := fs.FileMode(0o755), 0, 0, time.Now()
		if n, err := w.dst.lookup(p); err == nil && n.fi.IsDir() {
			mode, mtime = n.fi.Mode(), n.fi.ModTime()
			if st, ok := n.fi.Sys().(*syscall.Stat_t); ok {
				uid, gid = int(st.Uid), int(st.Gid)
			}
		} else if i == len(parts)-1 && top != nil {
			mode, uid, gid = top.Mode(), w.uid, w.gid
			if w.chmod != nil {
				mode = *w.chmod
			}
		}
		if err := os.Mkdir(full, 0o700); err != nil {
			return fmt.Errorf("creating /%s in the new layer: %w", p, err)
		}
		if err := setMeta(full, mode, uid, gid, mtime, false); err != nil {
			return err
		}
	}
	return nil
}

// write copies the file n of tree t to rel in the layer (whose parent
// exists).
func (w *layerWriter) write(t tree, n node, rel string) error {
	full := w.host(rel)
	fi := n.fi
	existing, err := os.Lstat(full)
	switch {
	case err == nil && existing.IsDir() && fi.IsDir():
		// Merge into the directory that is there.
	case err == nil:
		if err := os.RemoveAll(full); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	mode := fi.Mode()
	if w.chmod != nil {
		mode = mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | *w.chmod
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.IsDir():
		if existing == nil || !existing.IsDir() {
			if err := os.Mkdir(full, 0o700); err != nil {
				return err
			}
		}
		return setMeta(full, mode, w.uid, w.gid, fi.ModTime(), false)
	case fi.Mode().IsRegular():
		if st != nil && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := w.links[key]; ok {
				return os.Link(w.host(first), full)
			}
			w.links[key] = rel
		}
		in, err := t.open(n)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("copying /%s: %w", n.rel, err)
		}
		return setMeta(full, mode, w.uid, w.gid, fi.ModTime(), false)
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(n.full)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, full); err != nil {
			return err
		}
		return setMeta(full, 0, w.uid, w.gid, fi.ModTime(), true)
	case fi.Mode()&(fs.ModeNamedPipe|fs.ModeDevice) != 0 && st != nil:
		// Only an image (COPY --from) has these.
		if err := unix.Mknod(full, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("creating /%s: %w", rel, err)
		}
		return setMeta(full, mode, w.uid, w.gid, fi.ModTime(), false)
	}
	return nil // a socket: nothing to copy
}

// setMeta sets owner, mode and time; chown first, since it clears the
// setuid bits. The owner is set only when running as root: the package's
// tests run without, and then the files are simply theirs.
func setMeta(full string, mode fs.FileMode, uid, gid int, mtime time.Time, link bool) error {
	if os.Geteuid() == 0 {
		if err := os.Lchown(full, uid, gid); err != nil {
			return err
		}
	}
	if !link {
		if err := os.Chmod(full, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting the time of %s: %w", full, err)
	}
	return nil
}

// unpack unpacks the archive n (ADD) into the layer's directory rel with
// chapter 06's extractor, which keeps every entry inside it.
func (w *layerWriter) unpack(t tree, n node, rel string) error {
	f, err := t.open(n)
	if err != nil {
		return err
	}
	defer f.Close()
	plain, _, err := image.Decompress(f)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", n.rel, err)
	}
	defer plain.Close()
	if err := image.ExtractLayer(plain, w.host(rel)); err != nil {
		return fmt.Errorf("ADD %s: %w", n.rel, err)
	}
	return nil
}

// lookupOwner turns COPY --chown's "user[:group]" into numeric IDs, with
// the image's /etc/passwd and /etc/group for names. A user without a
// group gets the group of the same number, as Docker documents.
func lookupOwner(t tree, spec string) (uid, gid int, err error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if user == "" {
		return 0, 0, fmt.Errorf("--chown=%s: no user", spec)
	}
	uid, err = lookupID(t, "etc/passwd", user)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: %w", spec, err)
	}
	gid = uid
	if hasGroup {
		if gid, err = lookupID(t, "etc/group", group); err != nil {
			return 0, 0, fmt.Errorf("--chown=%s: %w", spec, err)
		}
	}
	return uid, gid, nil
}

func lookupID(t tree, file, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	n, err := t.stat(file)
	if err != nil {
		return 0, fmt.Errorf("no /%s in the image to look up %q", file, name)
	}
	f, err := t.open(n)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			id, err := strconv.Atoi(fields[2])
			if err != nil {
				return 0, fmt.Errorf("/%s: bad entry for %s", file, name)
			}
			return id, nil
		}
	}
	return 0, fmt.Errorf("no %s in the image's /%s", name, file)
}

// parseChmod reads --chmod's octal mode.
func parseChmod(s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("--chmod=%s: want an octal mode such as 755", s)
	}
	return tarMode(int64(v)), nil
}
