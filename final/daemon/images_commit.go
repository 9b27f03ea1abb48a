package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/02-cgroups/cgroup"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
)

// Between containers and images: commit (a container's writable layer
// becomes an image's top layer), export (a container's whole file system,
// flattened) and diff (what its writable layer holds). A container is
// found by name, ID or ID prefix in chapter 07's store; its files are
// chapter 04's writable layer in its directory, and chapter 06's record
// there (image.json) says which image it was made from.

// findRWLayer finds the writable layer of the container that name
// names.
func (d *Daemon) findRWLayer(name string) (*layer.RW, error) {
	id := ""
	c, err := d.containers.Get(name)
	switch {
	case err == nil:
		id = c.ID()
	case errors.Is(err, shim.ErrAmbiguous):
		return nil, giveKind(errdefs.ErrInvalidArgument, err)
	}
	var rw *layer.RW
	if id != "" {
		rw, err = layer.Open(d.opts.DataRoot, id)
	} else {
		// Not in chapter 07's store: a container that a chapter
		// program (06's run --keep) made under the same root.
		rw, err = layer.Find(d.opts.DataRoot, name)
	}
	switch {
	case errors.Is(err, layer.ErrNotFound):
		return nil, errdefs.ErrNotFound.WithMessage("No such container: " + name)
	case errors.Is(err, layer.ErrAmbiguous):
		return nil, giveKind(errdefs.ErrInvalidArgument, err)
	case err != nil:
		return nil, err
	}
	return rw, nil
}

// ContainerCommit makes an image of a container: its image's layers, plus
// its writable layer as one more, as `docker commit` does (S16, S19,
// S30). The new image records the container's image as its parent. Its
// configuration is the parent's, then opts.Config's fields that are set,
// then the --change instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER,
// LABEL, EXPOSE, STOPSIGNAL).
//
// A running container is paused while its writable layer is copied
// (opts.Pause, true unless `docker commit --pause=false`), as Docker
// does: chapter 02's freezer stops its processes, so that none writes a
// file as it is read, and the image is a snapshot of one moment. The
// container is thawed afterwards, whether the commit worked or not; one
// that was paused already stays paused. Without the pause a file that
// the container is writing at that very moment may be caught half
// written; the rest is consistent all the same: the writable layer is an
// ordinary directory, and its tar is made in one pass, each file read
// once, at its size of that moment (a file that shrinks while it is read
// fails the commit, which can be tried again).
func (d *Daemon) ContainerCommit(ctx context.Context, opts api.CommitOptions) (retID string, retErr error) {
	rw, err := d.findRWLayer(opts.Container)
	if err != nil {
		return "", err
	}
	rec, err := image.ReadContainerRecord(rw.Dir)
	if err != nil {
		return "", giveKind(errdefs.ErrInvalidArgument, err)
	}
	parent, err := d.images.Get(rec.Image.String())
	if err != nil {
		return "", fmt.Errorf("the image of container %s: %w", opts.Container, imageError(rec.Image.String(), err))
	}
	cfg := parent.Config.Config
	if opts.Config != nil {
		mergeConfig(&cfg, opts.Config)
	}
	for _, ch := range opts.Changes {
		if strings.TrimSpace(ch) == "" {
			continue
		}
		if err := image.ApplyChange(&cfg, ch); err != nil {
			return "", giveKind(errdefs.ErrInvalidArgument, err)
		}
	}
	ref := ""
	if opts.Repo != "" {
		ref = opts.Repo + ":" + opts.Tag
		if opts.Tag == "" {
			ref = opts.Repo
		}
		if _, err := image.ParseReference(ref); err != nil {
			return "", giveKind(errdefs.ErrInvalidArgument, err)
		}
	}
	// A stopped container is held while its layer is read, so that a
	// start or rm at the same moment waits its turn; a running one holds
	// its layer itself.
	if err := rw.Hold(); err == nil {
		defer rw.Release()
	} else if !errors.Is(err, layer.ErrInUse) {
		return "", err
	}
	if opts.Pause && d.opts.Rootless {
		// Only a running container is paused for a commit.
		if e, err := d.lookup(opts.Container); err == nil && e.c.Running() {
			return "", d.refuseRootlessFreeze("commit's pause (commit --pause=false copies the container running)")
		}
	}
	if opts.Pause {
		thaw, err := freezeForCommit(d.cgroupParentOfID(rw.ID), rw.ID, opts.Container)
		d.forgetViewOf(rw.ID) // paused to docker ps meanwhile, as dockerd's
		if err != nil {
			return "", err
		}
		defer func() {
			err := thaw()
			d.forgetViewOf(rw.ID)
			if err != nil && retErr == nil {
				retID, retErr = "", fmt.Errorf("container %s was committed as %s, but unpausing it failed: %w", opts.Container, retID, err)
			}
		}()
	}
	unmap, err := d.containerUnmap(opts.Container, rw)
	if err != nil {
		return "", err
	}
	img, err := d.images.Commit(rw.Upper(), image.CommitOptions{
		Unmap:     unmap,
		Parent:    parent.ID,
		Ref:       ref,
		Config:    &cfg,
		CreatedBy: strings.Join(rec.Command, " "),
		Author:    opts.Author,
		Comment:   opts.Comment,
	})
	if err != nil {
		return "", fmt.Errorf("committing container %s: %w", opts.Container, err)
	}
	if ref != "" {
		d.emitImage(img.ID.String(), ref, moby.ActionTag)
	}
	d.emitContainerRef(opts.Container, moby.ActionCommit, map[string]string{"comment": opts.Comment, "imageID": img.ID.String(), "imageRef": ref})
	return img.ID.String(), nil
}

// freezeForCommit pauses the running container id, whose cgroup is under
// parent, for a commit, and
// returns what unpauses it. A container that does not run (its cgroup
// exists only while it runs) or is paused already is left as it is, and
// thaw does nothing. As in Docker, a container that cannot be paused is
// not committed: the client may ask again with --pause=false.
func freezeForCommit(parent, id, name string) (thaw func() error, err error) {
	nothing := func() error { return nil }
	cg, err := containerCgroup(parent, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nothing, nil
	}
	if err != nil {
		return nil, pauseError(name, err)
	}
	st, err := cg.FreezerState()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nothing, nil // it has just exited
	case err != nil:
		return nil, pauseError(name, err)
	case st != cgroup.Thawed:
		return nothing, nil
	}
	if err := cg.Freeze(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nothing, nil
		}
		return nil, pauseError(name, err)
	}
	return func() error {
		err := cg.Thaw()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // it was killed meanwhile, and its cgroup removed
		}
		return err
	}, nil
}

func pauseError(name string, err error) error {
	return fmt.Errorf("Error pausing container %s (commit --pause=false copies it running): %w", name, err)
}

// mergeConfig lays the fields of a commit's configuration that are set
// over the image's: lists replace, environment and labels merge by key.
func mergeConfig(cfg *image.ContainerConfig, c *container.Config) {
	if c.User != "" {
		cfg.User = c.User
	}
	if len(c.Cmd) > 0 {
		cfg.Cmd = c.Cmd
	}
	if len(c.Entrypoint) > 0 {
		cfg.Entrypoint = c.Entrypoint
	}
	if c.WorkingDir != "" {
		cfg.WorkingDir = c.WorkingDir
	}
	if c.StopSignal != "" {
		cfg.StopSignal = c.StopSignal
	}
	for _, kv := range c.Env {
		key, _, _ := strings.Cut(kv, "=")
		env := cfg.Env[:0:0]
		for _, e := range cfg.Env {
			if k, _, _ := strings.Cut(e, "="); k != key {
				env = append(env, e)
			}
		}
		cfg.Env = append(env, kv)
	}
	if len(c.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		for k, v := range c.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if len(c.ExposedPorts) > 0 {
		ports := map[string]struct{}{}
		for p := range cfg.ExposedPorts {
			ports[p] = struct{}{}
		}
		for p := range c.ExposedPorts {
			ports[p.String()] = struct{}{}
		}
		cfg.ExposedPorts = ports
	}
	if len(c.Volumes) > 0 {
		vols := map[string]struct{}{}
		for v := range cfg.Volumes {
			vols[v] = struct{}{}
		}
		for v := range c.Volumes {
			vols[v] = struct{}{}
		}
		cfg.Volumes = vols
	}
}

// ContainerExport writes a container's file system, its image's layers
// and its own merged into one plain tar (S32): what `docker export`
// writes, and `import` reads back as a one-layer image (S34).
func (d *Daemon) ContainerExport(ctx context.Context, name string, w io.Writer) error {
	rw, err := d.findRWLayer(name)
	if err != nil {
		return err
	}
	unmap, err := d.containerUnmap(name, rw)
	if err != nil {
		return err
	}
	if err := image.FlattenUnmapped(w, append(append([]string{}, rw.Lower...), rw.Upper()), unmap); err != nil {
		return fmt.Errorf("exporting container %s: %w", name, err)
	}
	d.emitContainerRef(name, moby.ActionExport, nil)
	return nil
}

// ContainerChanges lists what a container changed in its file system, as
// `docker diff` shows it: chapter 04's comparison of its writable layer
// with its image.
func (d *Daemon) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	rw, err := d.findRWLayer(name)
	if err != nil {
		return nil, err
	}
	changes, err := rw.Changes()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	out := make([]container.FilesystemChange, 0, len(changes))
	for _, c := range changes {
		kind := container.ChangeModify
		switch c.Kind {
		case layer.Added:
			kind = container.ChangeAdd
		case layer.Deleted:
			kind = container.ChangeDelete
		}
		out = append(out, container.FilesystemChange{Kind: kind, Path: c.Path})
	}
	return out, nil
}
