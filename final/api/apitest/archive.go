package apitest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/final/api"
)

// docker cp on the fake: a container's files are regular files, and
// directories are the prefixes of their names. No symlinks, owners or
// modes: the real engine has those (final/containerfs).

// statFile finds p among files: a file, a directory, or nothing. Call
// with f.mu held.
func statFile(c *ctr, p string) (container.PathStat, bool) {
	key := cleanPath(path.Clean("/" + p))
	st := container.PathStat{Name: path.Base(path.Clean("/" + p)), Mtime: time.Unix(0, 0)}
	if content, ok := c.files[key]; ok {
		st.Size, st.Mode = int64(len(content)), 0o644
		return st, true
	}
	for name := range c.files {
		if key == "" || strings.HasPrefix(name, key+"/") {
			st.Mode = fs.ModeDir | 0o755
			return st, true
		}
	}
	return st, false
}

func fileNotFound(p, name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, name))
}

// ContainerStatPath describes a file or directory of the container.
func (f *Fake) ContainerStatPath(_ context.Context, name, p string) (container.PathStat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return container.PathStat{}, err
	}
	st, ok := statFile(c, p)
	if !ok {
		return st, fileNotFound(p, name)
	}
	return st, nil
}

// ContainerArchivePath writes a tar of a file, or of a directory's files
// under its base name.
func (f *Fake) ContainerArchivePath(_ context.Context, name, p string, stat func(container.PathStat) error, w io.Writer) error {
	f.mu.Lock()
	c, err := f.lookup(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	st, ok := statFile(c, p)
	key := cleanPath(path.Clean("/" + p))
	out := map[string]string{}
	for n, content := range c.files {
		if n == key {
			out[st.Name] = content
		} else if rest, ok := strings.CutPrefix(n, key+"/"); ok || key == "" {
			if key == "" {
				rest = n
			}
			out[path.Join(st.Name, rest)] = content
		}
	}
	f.mu.Unlock()
	if !ok {
		return fileNotFound(p, name)
	}
	if err := stat(st); err != nil {
		return err
	}
	return writeTar(w, out)
}

// ContainerExtractToDir adds the archive's regular files under the
// directory p.
func (f *Fake) ContainerExtractToDir(_ context.Context, name, p string, opts api.CopyToOptions, content io.Reader) error {
	files, err := readTar(content)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	st, ok := statFile(c, p)
	if !ok {
		return fileNotFound(p, name)
	}
	if !st.Mode.IsDir() {
		return errdefs.ErrInvalidArgument.WithMessage("extraction point is not a directory: " + p)
	}
	dir := cleanPath(path.Clean("/" + p))
	for n, data := range files {
		c.files[cleanPath(path.Join("/", dir, n))] = data
	}
	return nil
}
