package layer

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/volume"
)

// RunOptions are the flags of chapter 04's run: chapter 03's and the
// layers'. Later chapters embed them in their own.
type RunOptions struct {
	rootfs.RunOptions
	Layer Options
}

// AddFlags registers the flags of chapters 01 to 04 on fs.
func (o *RunOptions) AddFlags(fs *flag.FlagSet) {
	o.RunOptions.AddFlags(fs)
	o.Layer.AddFlags(fs)
}

// Container is chapter 03's container on a copy-on-write root: its own
// empty writable layer on top of the image's read-only ones. The layer is
// removed when the container is gone, unless --keep asked to keep it (its
// ID is then printed on stderr, for diff and rm).
func (o *RunOptions) Container(id string, command []string, stdio namespace.Stdio) (*namespace.Container, error) {
	// Chapter 03's --rootfs still works: the directory becomes a
	// one-layer image, so it is no longer written to either.
	if o.FS.Root != "" {
		if len(o.Layer.Image) > 0 {
			return nil, errors.New("--rootfs and --image both given: --rootfs DIR means --image DIR, give one")
		}
		if err := o.Layer.Image.Set(o.FS.Root); err != nil {
			return nil, err
		}
	}
	if len(o.Layer.Image) == 0 {
		return nil, errors.New("no image: give --image DIR[:DIR...]")
	}

	// The container's own layer: empty directories, whatever the size
	// of the image. A persistent container reuses the one it has.
	rw, created, err := o.openOrCreate(id)
	if err != nil {
		return nil, err
	}
	undo := func(err error) error {
		if created {
			return errors.Join(err, rw.Remove())
		}
		return errors.Join(err, rw.Release())
	}
	anonymous, fresh, err := o.volumes()
	if err != nil {
		return nil, undo(err)
	}
	undoVolumes := undo
	undo = func(err error) error { return undoVolumes(errors.Join(err, removeVolumes(o.Layer.Root, anonymous))) }
	mount, err := o.prepare(rw, fresh)
	if err != nil {
		CloseFiles(o.Config.Files)
		return nil, undo(err)
	}
	// Chapter 03 enters the merged directory, where init first mounts
	// the overlay.
	o.FS.Root = rw.Merged()
	c, err := o.RunOptions.Container(id, command, stdio)
	if err != nil {
		CloseFiles(o.Config.Files)
		return nil, undo(err)
	}
	c.Spec = InitSpec{InitSpec: c.Spec.(rootfs.InitSpec), Layer: mount}

	// The idmapped mounts are init's once it is forked: the host's
	// descriptors would only pin them.
	files := o.Config.Files
	o.Config.Files = nil
	started := false
	c.OnStart(func(int) error { started = true; CloseFiles(files); return nil })
	c.OnExit(func() error {
		CloseFiles(files)
		if o.Layer.Persist {
			return rw.Release()
		}
		if o.Layer.Keep && started {
			fmt.Fprintln(stdio.Err, id)
			return rw.Release()
		}
		// The container is gone: its anonymous volumes too (named
		// ones stay, which is what names are for).
		return errors.Join(rw.Remove(), removeVolumes(o.Layer.Root, anonymous))
	})
	return c, nil
}

// volumes resolves -v NAME:/path and -v /path to volumes of the store
// under --root (chapter 03 mounts them, chapter 04's init fills new ones
// from the image). It returns the anonymous volumes it made, which go
// with the container, and the directories of all it made. Volumes that
// are resolved already (berthd's, at create) are left alone.
func (o *RunOptions) volumes() (anonymous, fresh []string, err error) {
	if !slices.ContainsFunc(o.FS.Volumes, func(v rootfs.Volume) bool {
		return v.Type == rootfs.TypeVolume && v.Source == ""
	}) {
		return nil, nil, nil
	}
	store, err := volume.Open(o.Layer.Root)
	if err != nil {
		return nil, nil, err
	}
	vols, created, err := store.Resolve(o.FS.Volumes)
	for _, v := range created {
		if v.Anonymous() {
			anonymous = append(anonymous, v.Name)
		}
		fresh = append(fresh, v.Mountpoint)
	}
	if err != nil {
		return nil, nil, errors.Join(err, removeVolumes(o.Layer.Root, anonymous))
	}
	o.FS.Volumes = vols
	return anonymous, fresh, nil
}

// removeVolumes removes the volumes names of the store under root.
func removeVolumes(root string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	store, err := volume.Open(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, store.Remove(n))
	}
	return errors.Join(errs...)
}

// openOrCreate gives the container's writable layer: a new one, or with
// Persist the one it already has.
func (o *RunOptions) openOrCreate(id string) (rw *RW, created bool, err error) {
	if o.Layer.Persist {
		rw, err := Open(o.Layer.Root, id)
		if err == nil {
			return rw, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
	}
	rw, err = Create(o.Layer.Root, id, o.Layer.Image)
	return rw, err == nil, err
}

// prepare makes the layer's MountSpec, volatile if the layer is thrown
// away after the run (overlay.go says why). It holds the layer while the
// container runs (rm refuses it meanwhile) and, for a user namespace,
// gives the container's root, an unprivileged uid on the host who mounts
// the overlay, its files (userNS).
//
// A Detached container is not held: it outlives the process that starts
// it (chapter 07's shim), and a hold is a lock on a descriptor of that
// process. Whoever starts detached containers says by other means
// whether one runs (chapter 07: the shim's own lock), and a hold left to
// die with the process would only make a removal right after the
// container's exit race with that process's last moments.
func (o *RunOptions) prepare(rw *RW, freshVolumes []string) (MountSpec, error) {
	mount := rw.MountSpec()
	// Thrown away after the run: no sync of it need wait for the disk.
	mount.Volatile = o.Layer.Volatile || (!o.Layer.Persist && !o.Layer.Keep)
	if !o.Detached {
		if err := rw.Hold(); err != nil {
			return mount, err
		}
	}
	if o.UserNS {
		mount.UserXattr = true
		return mount, o.userNS(rw, &mount, freshVolumes)
	}
	return mount, nil
}

// userNS lets the container's root, host uid UIDRange().Base, use its
// files. With idmapped mounts (idmap.go) of the image's layers, of the
// container's directory and of its volumes, which init attaches
// (mount.Idmapped, Config.Files). Where the kernel or the filesystem
// cannot idmap, as before them: the writable directories and new volumes
// chowned to that uid, the image's files owned by nobody inside, unless
// the layers are copies chowned for the mapping (Options.Chowned).
func (o *RunOptions) userNS(rw *RW, mount *MountSpec, freshVolumes []string) error {
	if !o.Layer.Chowned {
		err := o.idmapped(rw, mount)
		if err == nil || !errors.Is(err, ErrIdmapUnsupported) {
			return err
		}
	}
	uid, gid := o.UIDRange().Base, o.GIDRange().Base
	if err := rw.Chown(uid, gid); err != nil {
		return err
	}
	for _, dir := range freshVolumes {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("volume %s: %w", dir, err)
		}
	}
	return nil
}

// idmapped makes the idmapped mounts of the container's layers and
// volumes, for init (Config.Files) to put over them (mount.Idmapped).
func (o *RunOptions) idmapped(rw *RW, mount *MountSpec) error {
	dirs := append(slices.Clone(mount.Lower), rw.Dir)
	// The store's volumes, not a volume that binds a host directory
	// (o=bind,device=/path): that one is the host's, like a bind mount.
	store := volume.Dir(o.Layer.Root) + string(filepath.Separator)
	for _, v := range o.FS.Volumes {
		if v.Type == rootfs.TypeVolume && strings.HasPrefix(v.Source, store) {
			dirs = append(dirs, v.Source)
		}
	}
	userns, err := o.Config.UserNamespace()
	if err != nil {
		return err
	}
	defer userns.Close()
	mount.Idmapped, o.Config.Files, err = Idmap(userns, dirs)
	return err
}

// DiffCommand is the `diff` command of chapter 04's program and later
// ones: what a container changed in its root filesystem, as `docker diff`
// shows it (A added, C changed, D deleted).
func DiffCommand(args []string, stdio namespace.Stdio) (int, error) {
	var root string
	fs := namespace.FlagSet("diff")
	AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() != 1 {
		return 0, errors.New("diff takes one container: diff [--root DIR] CONTAINER")
	}
	rw, err := Find(root, fs.Arg(0))
	if err != nil {
		return 0, err
	}
	changes, err := rw.Changes()
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		fmt.Fprintln(stdio.Out, c)
	}
	return 0, nil
}

// RmCommand is the `rm` command of chapter 04's program: it removes kept
// containers' layers, printing each name as given.
func RmCommand(args []string, stdio namespace.Stdio) (int, error) {
	var root string
	fs := namespace.FlagSet("rm")
	AddRootFlag(fs, &root)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, errors.New("rm takes at least one container: rm [--root DIR] CONTAINER...")
	}
	for _, ref := range fs.Args() {
		rw, err := Find(root, ref)
		if err != nil {
			return 0, err
		}
		if err := rw.Remove(); err != nil {
			return 0, err
		}
		fmt.Fprintln(stdio.Out, ref)
	}
	return 0, nil
}
