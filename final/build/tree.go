package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/04-cow-layers/layer"
)

// tree is a read-only file tree that a build reads: the build context
// (one directory), or an image (its layer directories, which it shows as
// overlay would stack them). COPY reads its sources from a tree, and
// looks into the image's tree to place what it copies: which directories
// exist already, with which owner and mode, and where a symbolic link on
// the way leads.
//
// Every path is relative to the tree's root and resolved inside it: a
// ".." never climbs out, and a symbolic link is followed, when it is, by
// reading its target and walking that within the tree too. The host's own
// files are never reached through a link, whatever the layers hold.
type tree struct {
	layers []string // top first
}

func dirTree(dir string) tree { return tree{layers: []string{dir}} }

// imageTree is the tree of layer directories given bottom first (as the
// store lists them).
func imageTree(bottomFirst []string) tree {
	t := tree{layers: make([]string, len(bottomFirst))}
	for i, d := range bottomFirst {
		t.layers[len(bottomFirst)-1-i] = d
	}
	return t
}

// node is a path found in a tree.
type node struct {
	rel  string      // clean, relative to the root ("." is the root)
	fi   fs.FileInfo // of the file that shows at rel
	full string      // that file's path on the host
	// below are, for a directory, the layers (top first) whose
	// directories of that name merge into what the tree shows.
	below []string
}

var errNotExist = fs.ErrNotExist

// cleanRel makes p a clean path relative to the root: "/a/../b/" is "b",
// and nothing climbs above the root.
func cleanRel(p string) string {
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// lookup finds rel in the tree without following a symbolic link at its
// end. Its parent directories must be directories in the tree (links on
// the way are not followed either: resolve first).
func (t tree) lookup(rel string) (node, error) {
	rel = cleanRel(rel)
	cur := node{rel: ".", below: t.layers}
	if len(t.layers) == 0 {
		return node{}, fmt.Errorf("%s: %w", rel, errNotExist)
	}
	fi, err := os.Lstat(t.layers[0])
	if err != nil {
		return node{}, err
	}
	cur.fi, cur.full = fi, t.layers[0]
	if rel == "." {
		return cur, nil
	}
	parts := strings.Split(rel, "/")
	for i, name := range parts {
		if !cur.fi.IsDir() {
			return node{}, fmt.Errorf("/%s: %w", rel, unix.ENOTDIR)
		}
		next, err := t.child(cur, name)
		if err != nil {
			return node{}, fmt.Errorf("/%s: %w", strings.Join(parts[:i+1], "/"), err)
		}
		cur = next
	}
	return cur, nil
}

// child finds name in the directory dir, by overlay's rules: the topmost
// layer that has the name provides it; a whiteout there deletes it; the
// layers below show through a directory only while each has a directory
// of that name too, and not past an opaque one.
func (t tree) child(dir node, name string) (node, error) {
	rel := path.Join(dir.rel, name)
	for i, l := range dir.below {
		full := filepath.Join(l, filepath.FromSlash(rel))
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			if opaque(l, dir.rel) {
				break // this layer hides the ones below it here
			}
			continue
		}
		if err != nil {
			return node{}, err
		}
		if layer.IsWhiteout(fi) {
			break
		}
		n := node{rel: rel, fi: fi, full: full}
		if fi.IsDir() {
			n.below = t.continuation(dir.below[i:], rel)
		}
		return n, nil
	}
	return node{}, errNotExist
}

// continuation lists the layers (top first, starting with the one that
// provides the directory rel) in which rel goes on downwards.
func (t tree) continuation(layers []string, rel string) []string {
	var out []string
	for _, l := range layers {
		fi, err := os.Lstat(filepath.Join(l, filepath.FromSlash(rel)))
		if err != nil {
			continue // the layer has nothing here: look lower
		}
		if !fi.IsDir() {
			break // a file or a whiteout hides all below
		}
		out = append(out, l)
		if opaque(l, rel) {
			break
		}
	}
	return out
}

func opaque(l, rel string) bool {
	ok, err := layer.IsOpaque(filepath.Join(l, filepath.FromSlash(rel)))
	return err == nil && ok
}

// readDir lists the names in the directory n, sorted.
func (t tree) readDir(n node) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, l := range n.below {
		dir := filepath.Join(l, filepath.FromSlash(n.rel))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("reading /%s: %w", n.rel, err)
		}
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			fi, err := e.Info()
			if err != nil {
				return nil, err
			}
			if !layer.IsWhiteout(fi) {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// maxLinks bounds the symbolic links one resolution follows, as the
// kernel's ELOOP does (40).
const maxLinks = 40

// resolve turns rel into the path of the file it names inside the tree,
// following symbolic links on the way (and at the end, with followLast)
// within the tree: an absolute target starts again at the tree's root, a
// relative one from the link's directory, and ".." stops at the root.
// The result has no link in it but, without followLast, possibly its
// last element. A path that does not exist resolves as far as it can: the
// part from the first missing element on is kept as it is.
func (t tree) resolve(rel string, followLast bool) (string, error) {
	todo := strings.Split(cleanRel(rel), "/")
	if len(todo) == 1 && todo[0] == "." {
		return ".", nil
	}
	done := "."
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case ".", "":
			continue
		case "..":
			done = cleanRel(path.Dir(done))
			continue
		}
		next := path.Join(done, name)
		n, err := t.lookup(next)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			// Missing: the rest is taken as it is.
			return cleanRel(path.Join(append([]string{next}, todo...)...)), nil
		}
		if err != nil {
			return "", err
		}
		if n.fi.Mode()&fs.ModeSymlink == 0 || (len(todo) == 0 && !followLast) {
			done = next
			continue
		}
		links++
		if links > maxLinks {
			return "", fmt.Errorf("/%s: too many levels of symbolic links", rel)
		}
		target, err := os.Readlink(n.full)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = "."
		}
		todo = append(strings.Split(strings.Trim(target, "/"), "/"), todo...)
	}
	return done, nil
}

// stat follows links to what rel names.
func (t tree) stat(rel string) (node, error) {
	r, err := t.resolve(rel, true)
	if err != nil {
		return node{}, err
	}
	return t.lookup(r)
}

// open opens the regular file of node n for reading. O_NOFOLLOW: the
// file was found by Lstat, it must still be that file.
func (t tree) open(n node) (*os.File, error) {
	f, err := os.OpenFile(n.full, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", n.rel, err)
	}
	return f, nil
}
