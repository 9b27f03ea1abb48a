package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/06-images/image"
)

// ExtractContext unpacks a build context, the tar that `docker build`
// sends (plain, or gzip- or bzip2-compressed), into the directory dir,
// which must exist. Regular files, directories and links are kept, with
// their modes and times; their owners are not (what COPY writes belongs
// to root, or to --chown). Devices, fifos and sockets are skipped: a
// context is source files.
//
// The tar comes from a client, so every name is resolved inside dir with
// os.Root: "../x", "/etc/x", or a file written through a link that an
// earlier entry made, all stay inside.
func ExtractContext(r io.Reader, dir string) error {
	plain, _, err := image.Decompress(r)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer plain.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("build context: reading the tar: %w", err)
		}
		if err := extractEntry(root, hdr, tr); err != nil {
			return fmt.Errorf("build context: %s: %w", hdr.Name, err)
		}
	}
}

func extractEntry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	rel := cleanRel(hdr.Name)
	if rel == "." {
		return nil
	}
	mode := tarMode(hdr.Mode)
	if parent := path.Dir(rel); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeDir {
		// Whatever an earlier entry put here goes: never write through it.
		if err := root.RemoveAll(rel); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := root.Lstat(rel); err == nil && !fi.IsDir() {
			if err := root.Remove(rel); err != nil {
				return err
			}
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		return root.Chmod(rel, mode)
	case tar.TypeReg:
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		// Holes kept, and a size the disk cannot hold refused
		// before anything is read (see image.WriteEntry).
		err = image.WriteEntry(f, r, hdr.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = root.Chmod(rel, mode)
		}
		if err == nil && !hdr.ModTime.IsZero() {
			err = root.Chtimes(rel, time.Now(), hdr.ModTime)
		}
		return err
	case tar.TypeSymlink:
		return root.Symlink(hdr.Linkname, rel)
	case tar.TypeLink:
		return root.Link(cleanRel(hdr.Linkname), rel)
	}
	return nil // devices, fifos...: not part of a build context
}

// tarMode converts a tar header's mode to Go's.
func tarMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// ReadIgnore reads the .dockerignore file at the root of the context
// directory dir; no file means no patterns.
func ReadIgnore(dir string) (*Ignore, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(".dockerignore")
	if errors.Is(err, fs.ErrNotExist) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	return ParseIgnore(f)
}

// ApplyIgnore deletes from the context directory dir what ig excludes, so
// that COPY and ADD cannot see it. A directory that ig excludes but that
// holds a file an exception takes back stays, with that file only.
func ApplyIgnore(dir string, ig *Ignore) error {
	if ig == nil || len(ig.patterns) == 0 {
		return nil
	}
	exceptions := ig.HasExceptions()
	var later []string // excluded, removed deepest first
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." || !ig.Excluded(rel) {
			return nil
		}
		if !exceptions {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		later = append(later, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("applying .dockerignore: %w", err)
	}
	for i := len(later) - 1; i >= 0; i-- {
		p := later[i]
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("applying .dockerignore: %w", err)
		}
		if fi.IsDir() {
			if entries, err := os.ReadDir(p); err == nil && len(entries) > 0 {
				continue // holds something an exception kept
			}
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("applying .dockerignore: %w", err)
		}
	}
	return nil
}

// ReadDockerfile parses the Dockerfile name (a path in the context) of
// the context directory dir.
func ReadDockerfile(dir, name string) (*Dockerfile, error) {
	if name == "" {
		name = "Dockerfile"
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rel := cleanRel(name)
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("Cannot locate specified Dockerfile: %s", name)
	}
	defer f.Close()
	return Parse(f, name)
}
