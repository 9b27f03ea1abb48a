package layer

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
)

// Options are the flags that chapter 04 adds to `run`.
type Options struct {
	// Image are the image's layer directories, bottom first.
	Image ImageList
	// Keep keeps the container's writable layer after it exits, for
	// `diff`, until `rm` removes it.
	Keep bool
	// Root is the state directory (--root).
	Root string
	// Persist makes the writable layer outlive each run: a container
	// that is started again (chapter 07) finds its files as it left
	// them. Its layer is created at the first run, reused at the next,
	// and removed only by rm. No flag sets it; programs do.
	Persist bool `json:"persist,omitempty"`
	// Volatile says that a Persist layer is thrown away once the run
	// ends (berthd's `run --rm`): it is mounted volatile, as a layer
	// that is not Persist and not Kept always is (MountSpec.Volatile).
	Volatile bool `json:"volatile,omitempty"`
	// Chowned says that Image are copies of the image's layers chowned
	// for the container's user namespace (berthd --userns-remap where
	// the data root cannot idmap): they are not idmapped, and the
	// container's own directory is chowned to its root, as where the
	// kernel cannot idmap at all (idmap.go). No flag sets it.
	Chowned bool `json:"chowned,omitempty"`
}

// AddFlags registers --image, --keep and --root on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.Var(&o.Image, "image", "the image: read-only layer directories, bottom first, DIR[:DIR...]")
	fs.BoolVar(&o.Keep, "keep", false, "keep the container's writable layer after it exits (see diff, rm)")
	AddRootFlag(fs, &o.Root)
}

// AddRootFlag registers --root, the state directory, on fs. Every command
// that finds containers by ID takes it.
func AddRootFlag(fs *flag.FlagSet, root *string) {
	fs.StringVar(root, "root", DefaultRoot, "the state directory, where containers' layers are kept")
}

// ImageList is the value of --image: layer directories, bottom first. It
// implements flag.Value; the flag may be repeated, and each use stacks
// its layers on top of the ones before.
type ImageList []string

// String gives the list back as --image takes it.
func (l *ImageList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ":")
}

// Set parses one --image value with ParseImage and stacks it on top.
func (l *ImageList) Set(s string) error {
	dirs, err := ParseImage(s)
	if err != nil {
		return err
	}
	*l = append(*l, dirs...)
	return nil
}

// ParseImage reads "DIR[:DIR...]", layer directories bottom first, like
// the PATH variable. Each must exist and be a directory; a relative path
// is made absolute. (A directory whose name holds ":" cannot be named
// here; MountSpec itself handles such paths.)
func ParseImage(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("image %q: no layer directories", s)
	}
	var dirs []string
	for _, dir := range strings.Split(s, ":") {
		if dir == "" {
			return nil, fmt.Errorf("image %q: empty layer directory (two colons in a row?)", s)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("image layer %s: %w", dir, err)
		}
		if err := checkDir("image layer", abs); err != nil {
			return nil, err
		}
		dirs = append(dirs, abs)
	}
	return dirs, nil
}
