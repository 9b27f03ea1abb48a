package image

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/05-network/network"
)

// StoreDir is where the image store lives under a state root (--root):
// <root>/images, beside chapter 04's <root>/containers.
func StoreDir(root string) string { return filepath.Join(root, "images") }

// RunOptions are the flags of chapter 06's run: chapter 05's, and the
// image, which `run IMAGE [CMD...]` names instead of --image DIR.
type RunOptions struct {
	network.RunOptions
	// Image names the image: NAME[:TAG] or an ID.
	Image string
	// Layers, if set, gives the directories the container mounts for
	// the image's layers: berthd's copies chowned for a user namespace.
	// No flag sets it.
	Layers func(dirs []string) ([]string, error) `json:"-"`
}

// AddFlags registers the flags of chapters 01 to 05 on fs: chapter 06
// adds no flag, only the IMAGE argument.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) { o.RunOptions.AddFlags(fs) }

// ContainerRecord is what chapter 06 keeps about a container made from an
// image, in the container's directory: `commit` needs the image (the new
// image's parent) and the command (its history).
type ContainerRecord struct {
	Image   Digest   `json:"image"`
	Ref     string   `json:"ref,omitempty"` // as the user named it
	Command []string `json:"command"`
}

const containerRecordName = "image.json"

// ReadContainerRecord reads the record in a container's directory.
func ReadContainerRecord(dir string) (ContainerRecord, error) {
	var r ContainerRecord
	data, err := os.ReadFile(filepath.Join(dir, containerRecordName))
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("container %s was not made from an image of the store (no %s): %w", filepath.Base(dir), containerRecordName, err)
	}
	if err != nil {
		return r, fmt.Errorf("container %s: %w", filepath.Base(dir), err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("container %s: %s: %w", filepath.Base(dir), containerRecordName, err)
	}
	return r, nil
}

// Container is chapter 05's container made from an image of the store:
// the image's layers become the container's read-only lower directories
// (chapter 04), and its config gives what to run when args (the command
// after IMAGE) do not: Entrypoint and Cmd, Env under -e, WorkingDir
// unless -w, User. The container holds a lease on the image while its
// directory exists, so that `rmi` refuses to remove it.
func (o *RunOptions) Container(id string, args []string, stdio namespace.Stdio) (*namespace.Container, error) {
	if o.Image == "" {
		return nil, errors.New("no image given: run [FLAGS] IMAGE [CMD...]")
	}
	if len(o.Layer.Image) > 0 {
		return nil, errors.New("--image DIR and an IMAGE from the store both given: give one")
	}
	store, err := Open(StoreDir(o.Layer.Root))
	if err != nil {
		return nil, err
	}
	img, err := store.Get(o.Image)
	if err != nil {
		return nil, err
	}
	cfg := img.Config.Config
	command := cfg.Command(args)
	if len(command) == 0 {
		return nil, fmt.Errorf("image %s has no command (no Entrypoint, no Cmd): give one after the image", o.Image)
	}
	dirs, err := store.LayerDirs(img.ID)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("image %s has no layers: nothing to run", o.Image)
	}
	uid, gid, err := LookupUser(TopmostFirst(dirs), cfg.User)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", o.Image, err)
	}
	groups, err := Groups(TopmostFirst(dirs), cfg.User, gid, nil)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", o.Image, err)
	}
	o.Layer.Image = dirs
	if o.Layers != nil {
		if o.Layer.Image, err = o.Layers(dirs); err != nil {
			return nil, err
		}
	}
	// The image's environment goes under the user's -e, which wins.
	o.FS.Env = append(append([]string{}, cfg.Env...), o.FS.Env...)
	if o.FS.Workdir == "" {
		o.FS.Workdir = cfg.WorkingDir
	}

	c, err := o.RunOptions.Container(id, command, stdio)
	if err != nil {
		return nil, err
	}
	explainLayers(c.Config.Trace, o.Image, img.ID, dirs) // --explain
	spec, ok := c.Spec.(layer.InitSpec)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("chapter 06 run: unexpected spec %T from chapter 05", c.Spec)
	}
	spec.Command.UID, spec.Command.GID, spec.Command.Groups = uid, gid, groups
	c.Spec = spec

	// The container's directory exists now (chapter 04 made it): record
	// where it came from, and lease the image's layers.
	dir := filepath.Join(layer.ContainersDir(o.Layer.Root), id)
	rec, err := json.Marshal(ContainerRecord{Image: img.ID, Ref: o.Image, Command: command})
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, containerRecordName), rec, 0o644)
	}
	if err == nil {
		err = store.Use(id, img.ID, dir)
	}
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	// Chapter 04 removes the container's directory at exit unless --keep
	// (and the container started); the lease goes with it. Exit hooks
	// run in reverse order, so this one runs before that removal: it
	// decides by the same rule.
	started := false
	c.OnStart(func(int) error { started = true; return nil })
	c.OnExit(func() error {
		if o.Layer.Persist || (o.Layer.Keep && started) {
			return nil // kept: `rm` releases the lease
		}
		return store.Release(id)
	})
	return c, nil
}

// TopmostFirst returns layer directories, given bottom first, in the
// order a lookup searches them.
func TopmostFirst(dirs []string) []string {
	r := make([]string, len(dirs))
	for i, d := range dirs {
		r[len(dirs)-1-i] = d
	}
	return r
}
