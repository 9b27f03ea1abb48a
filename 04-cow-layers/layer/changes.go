package layer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
)

// Kind is the kind of a change, as `docker diff` prints it.
type Kind int

// The kinds of change.
const (
	Added   Kind = iota // A: the path is new: no image layer has it
	Changed             // C: the path exists in the image and the container has its own version
	Deleted             // D: the path exists in the image and the container deleted it
)

// String is the letter `docker diff` uses: A, C or D.
func (k Kind) String() string {
	switch k {
	case Added:
		return "A"
	case Changed:
		return "C"
	case Deleted:
		return "D"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Change is one line of `diff`: a path in the container and what
// happened to it.
type Change struct {
	Kind Kind
	Path string // absolute, as seen inside the container
}

// String formats c as `docker diff` does: "C /etc".
func (c Change) String() string { return c.Kind.String() + " " + c.Path }

// Changes compares a container's writable layer, upper, with the image
// it was started from, lower (bottom layer first, as in MountSpec), and
// lists what the container changed, in the order of a walk of the tree
// (a directory, then what is under it, names sorted).
//
// Only upper is walked: the image is looked up for the paths that upper
// holds, never read as a whole, so the cost grows with the changes, not
// with the size of the image. The rules:
//
//   - a whiteout in upper is D, if the image has the path;
//   - any other entry is C if the image has the path (a file written to,
//     a directory that holds changes: Docker also lists those as C) and
//     A if it does not;
//   - an opaque directory in upper replaced the image's directory as a
//     whole: it is C, each entry of the image's directory that upper does
//     not have again is D, and the rule holds for the directories under
//     it as well (overlay never merges below an opaque directory).
//
// Docker's overlay2 driver prints an opaque directory as "D dir" followed
// by "A" lines for its new content; berth lists what a user can see
// changed instead: the directory is still there, its old entries are not.
func Changes(lower []string, upper string) ([]Change, error) {
	fi, err := os.Lstat(upper)
	if err != nil {
		return nil, fmt.Errorf("changes: upper directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("changes: upper directory %s: not a directory", upper)
	}
	// The image's root is a directory in every layer; the walk follows
	// the layers in which each directory continues, as overlay does.
	root := MountSpec{Lower: lower}.lowerTopFirst()
	if err := checkLayers(root); err != nil {
		return nil, err
	}
	w := walker{upper: upper}
	opaque, err := IsOpaque(upper)
	if err != nil {
		return nil, err
	}
	if err := w.walk("/", root, opaque); err != nil {
		return nil, err
	}
	return w.changes, nil
}

type walker struct {
	upper   string
	changes []Change
}

// walk lists the changes under the directory dir (a path in the
// container). below holds the image's directories merged at dir, topmost
// layer first (empty when the image has no directory there). replaced
// says that dir does not show the image's entries at all: it, or a
// directory above it, is opaque.
func (w *walker) walk(dir string, below []string, replaced bool) error {
	hostDir := filepath.Join(w.upper, dir)
	upperNames, err := readNames(hostDir)
	if err != nil {
		return err
	}
	names := upperNames
	if replaced && len(below) > 0 {
		// Everything the image had here is gone, except what upper has
		// again: those are D. Merge the two lists to keep walk order.
		imageNames, err := visibleNames(below)
		if err != nil {
			return err
		}
		names = mergeNames(upperNames, imageNames)
	}
	inUpper := make(map[string]bool, len(upperNames))
	for _, n := range upperNames {
		inUpper[n] = true
	}

	for _, name := range names {
		p := path.Join(dir, name)
		if !inUpper[name] {
			w.changes = append(w.changes, Change{Deleted, p})
			continue
		}
		fi, err := os.Lstat(filepath.Join(hostDir, name))
		if err != nil {
			return fmt.Errorf("changes: %w", err)
		}
		img, err := lookup(below, name)
		if err != nil {
			return err
		}
		if IsWhiteout(fi) {
			// A whiteout for a path the image does not have hides
			// nothing: no change.
			if img.exists {
				w.changes = append(w.changes, Change{Deleted, p})
			}
			continue
		}
		kind := Added
		if img.exists {
			kind = Changed
		}
		w.changes = append(w.changes, Change{kind, p})
		if !fi.IsDir() {
			continue
		}
		opaque, err := IsOpaque(filepath.Join(hostDir, name))
		if err != nil {
			return err
		}
		if err := w.walk(p, img.dirs, replaced || opaque); err != nil {
			return err
		}
	}
	return nil
}

// found is what the image has at one path.
type found struct {
	exists bool
	// dirs are the layer directories merged at the path, topmost first,
	// when the path is a directory.
	dirs []string
}

// checkLayers checks that every layer exists and is a directory.
func checkLayers(layers []string) error {
	for _, dir := range layers {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("changes: image layer: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("changes: image layer %s: not a directory", dir)
		}
	}
	return nil
}

// lookup finds name in the directory that the layer directories below
// (topmost first) form together, by overlay's rules: the topmost layer
// that has the name decides what it is; a whiteout there means it was
// deleted; a file hides everything below it; directories are merged
// downwards until an opaque one, or a layer with a non-directory of the
// same name, ends the merge.
func lookup(below []string, name string) (found, error) {
	var f found
	for _, dir := range below {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return found{}, fmt.Errorf("changes: image layer: %w", err)
		}
		if IsWhiteout(fi) {
			break // deleted in this layer: nothing below shows through
		}
		if !fi.IsDir() {
			if !f.exists {
				f.exists = true // a file (or link, device...) on top
			}
			break
		}
		f.exists = true
		f.dirs = append(f.dirs, p)
		opaque, err := IsOpaque(p)
		if err != nil {
			return found{}, err
		}
		if opaque {
			break
		}
	}
	return f, nil
}

// visibleNames lists the entries of the directory that the layer
// directories below (topmost first) form together: the union of their
// names, less those whose topmost occurrence is a whiteout.
func visibleNames(below []string) (map[string]bool, error) {
	visible := map[string]bool{}
	seen := map[string]bool{}
	for _, dir := range below {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("changes: image layer: %w", err)
		}
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			fi, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("changes: image layer: %w", err)
			}
			visible[e.Name()] = !IsWhiteout(fi)
		}
	}
	for n, ok := range visible {
		if !ok {
			delete(visible, n)
		}
	}
	return visible, nil
}

// readNames returns the names in dir, sorted.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("changes: reading %s: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// mergeNames returns the sorted union of sorted names and the keys of more.
func mergeNames(names []string, more map[string]bool) []string {
	all := append([]string(nil), names...)
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	for n := range more {
		if !have[n] {
			all = append(all, n)
		}
	}
	sort.Strings(all)
	return all
}
