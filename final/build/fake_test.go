package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

// fake is a Backend in memory and in a temporary directory: each image is
// a config and a list of layer directories, as the store's are, so that
// the builder's look into images and its COPY layers are real files. RUN
// runs a Go function instead of a container.
type fake struct {
	t      *testing.T
	dir    string
	mu     sync.Mutex
	images map[image.Digest]fakeImage
	tags   map[string]image.Digest
	n      int

	runs    []RunRequest
	commits []CommitRequest
	// program is what RUN does: it may write files into the container's
	// writable layer (upper), print, and return an exit status.
	program func(req RunRequest, upper string) int
}

type fakeImage struct {
	Image
	parent    image.Digest
	createdBy string
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, dir: t.TempDir(), images: map[image.Digest]fakeImage{}, tags: map[string]image.Digest{}}
	f.program = func(req RunRequest, upper string) int {
		fmt.Fprintf(req.Stdout, "ran %s\n", joinCommand(req.Command))
		return 0
	}
	return f
}

// addBase makes an image of one layer with the given files (path ->
// content; a path ending in "/" is a directory, a content "-> target" a
// symlink).
func (f *fake) addBase(ref string, cfg image.ContainerConfig, files map[string]string) image.Digest {
	f.t.Helper()
	dir := filepath.Join(f.dir, fmt.Sprintf("base-%d", len(f.images)))
	require.NoError(f.t, os.Mkdir(dir, 0o755))
	writeFiles(f.t, dir, files)
	id := f.newID("base " + ref)
	f.images[id] = fakeImage{Image: Image{ID: id, Config: cfg, Layers: []string{dir}}}
	f.tags[ref] = id
	return id
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		switch {
		case strings.HasSuffix(name, "/"):
			require.NoError(t, os.MkdirAll(p, 0o755))
		case strings.HasPrefix(content, "-> "):
			require.NoError(t, os.Symlink(strings.TrimPrefix(content, "-> "), p))
		default:
			require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		}
	}
}

func (f *fake) newID(seed string) image.Digest {
	f.n++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s %d", seed, f.n)))
	return image.Digest("sha256:" + hex.EncodeToString(sum[:]))
}

func (f *fake) Image(ctx context.Context, ref string) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, err := image.ParseReference(ref); err == nil {
		if id, ok := f.tags[r.String()]; ok {
			return f.images[id].Image, nil
		}
	}
	if img, ok := f.images[image.Digest(ref)]; ok {
		return img.Image, nil
	}
	return Image{}, fmt.Errorf("no such image: %s", ref)
}

func (f *fake) Run(ctx context.Context, req RunRequest) (Image, error) {
	f.mu.Lock()
	f.runs = append(f.runs, req)
	f.mu.Unlock()
	upper := f.t.TempDir()
	if req.Started != nil {
		req.Started(strings.Repeat("c", 64))
	}
	if code := f.program(req, upper); code != 0 {
		return Image{}, &ExitError{Command: req.Command, Code: code}
	}
	return f.commit(CommitRequest{Parent: req.Parent, Dir: upper, Config: req.Parent.Config, Author: req.Parent.Author, CreatedBy: req.CreatedBy}, false)
}

func (f *fake) Commit(ctx context.Context, req CommitRequest) (Image, error) {
	return f.commit(req, true)
}

func (f *fake) commit(req CommitRequest, record bool) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if record {
		f.commits = append(f.commits, req)
	}
	id := f.newID(req.Parent.ID.String() + req.CreatedBy)
	img := Image{ID: id, Author: req.Author, Config: cloneConfig(req.Config), Layers: append([]string{}, req.Parent.Layers...)}
	if req.Dir != "" {
		// The layer is kept as the store keeps one: a copy, owners and
		// modes included.
		layerDir := filepath.Join(f.dir, "layer-"+id.Hex()[:12])
		copyTree(f.t, req.Dir, layerDir)
		img.Layers = append(img.Layers, layerDir)
	}
	f.images[id] = fakeImage{Image: img, parent: req.Parent.ID, createdBy: req.CreatedBy}
	return img, nil
}

func (f *fake) Tag(ctx context.Context, id image.Digest, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[ref] = id
	return nil
}

// history lists the createdBy of an image's steps, oldest first.
func (f *fake) history(id image.Digest) []string {
	var out []string
	for id != "" {
		img, ok := f.images[id]
		if !ok || img.createdBy == "" {
			break
		}
		out = append([]string{img.createdBy}, out...)
		id = img.parent
	}
	return out
}

// copyTree copies a directory tree with modes, owners and symlinks.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			out, err := os.Create(target)
			if err == nil {
				_, err = io.Copy(out, in)
				out.Close()
			}
			in.Close()
			if err != nil {
				return err
			}
		}
		st := fi.Sys().(*syscall.Stat_t)
		if os.Geteuid() == 0 {
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if err := os.Chmod(target, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			return os.Chtimes(target, time.Now(), fi.ModTime())
		}
		return nil
	})
	require.NoError(t, err)
}
