package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	moby "github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/filters"
)

// The image half of api.Backend: what `docker images`, `image inspect`,
// `history`, `tag` and `rmi` ask, answered from chapter 06's store
// (d.images) in the Engine API's types. The store does the work; these
// methods translate names, IDs and errors.

// apiKindError gives an error of a chapter's package the kind the API server
// turns into an HTTP status, and keeps its message.
type apiKindError struct {
	err  error
	kind error
}

func (e apiKindError) Error() string   { return e.err.Error() }
func (e apiKindError) Unwrap() []error { return []error{e.err, e.kind} }

func giveKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return apiKindError{err: err, kind: kind}
}

// imageError gives a store error about the image ref its kind: no such
// image (404), in use or referenced (409), ambiguous or malformed (400).
// Docker's wording is kept where the client shows it.
func imageError(ref string, err error) error {
	switch {
	case err == nil:
		return nil
	case errdefs.IsNotFound(err) || errdefs.IsConflict(err) || errdefs.IsInvalidArgument(err):
		return err // already has a kind
	case errors.Is(err, image.ErrNotFound):
		return errdefs.ErrNotFound.WithMessage("No such image: " + ref)
	case errors.Is(err, image.ErrConflict):
		return giveKind(errdefs.ErrConflict, err)
	case strings.Contains(err.Error(), "is ambiguous"),
		strings.HasPrefix(err.Error(), "image reference"):
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	return err
}

// noSuchImage is dockerd's 404 for an image that is not in the store,
// with the name in its familiar form and with its tag ("No such image:
// busybox:latest" for docker.io/library/busybox): the docker CLI pulls
// on this 404, and tests compare the words.
func noSuchImage(ref string) error {
	if r, err := image.ParseReference(ref); err == nil {
		ref = r.String()
	}
	return errdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

// ImageList lists the images, newest first, as GET /images/json does.
// Without all, intermediate images (untagged, with children: the steps
// of a build, the parents of commits) are left out, as Docker does; an
// untagged image without children (one whose name moved on) is listed
// with no RepoTags, which the clients show as <none> <none>. (Docker's
// older daemons sent "<none>:<none>"; docker 28 hides such an entry.)
func (d *Daemon) ImageList(ctx context.Context, all bool) ([]imagetypes.Summary, error) {
	list, err := d.images.Images()
	if err != nil {
		return nil, err
	}
	hasChildren := map[image.Digest]bool{}
	for _, img := range list {
		if img.Parent != "" {
			hasChildren[img.Parent] = true
		}
	}
	users := d.imageUsers()
	out := make([]imagetypes.Summary, 0, len(list))
	for _, img := range list {
		if len(img.Tags) == 0 && hasChildren[img.ID] && !all {
			continue
		}
		out = append(out, imagetypes.Summary{
			ID:          img.ID.String(),
			ParentID:    img.Parent.String(),
			RepoTags:    append([]string{}, img.Tags...),
			RepoDigests: append([]string{}, img.RepoDigests...),
			Created:     img.Created().Unix(),
			Size:        img.Size,
			SharedSize:  -1,
			Containers:  int64(users[img.ID]),
			Labels:      img.Config.Config.Labels,
		})
	}
	return out, nil
}

// imageUsers counts the containers made from each image: chapter 06's
// record (image.json) in each container's directory says which.
func (d *Daemon) imageUsers() map[image.Digest]int {
	users := map[image.Digest]int{}
	ids, err := layer.List(d.opts.DataRoot)
	if err != nil {
		return users
	}
	for _, id := range ids {
		rec, err := image.ReadContainerRecord(filepath.Join(layer.ContainersDir(d.opts.DataRoot), id))
		if err == nil {
			users[rec.Image]++
		}
	}
	return users
}

// imageUser returns a container made from the image id, or "".
func (d *Daemon) imageUser(id image.Digest) string {
	ids, err := layer.List(d.opts.DataRoot)
	if err != nil {
		return ""
	}
	for _, c := range ids {
		rec, err := image.ReadContainerRecord(filepath.Join(layer.ContainersDir(d.opts.DataRoot), c))
		if err == nil && rec.Image == id {
			return c
		}
	}
	return ""
}

// ImageInspect describes an image as `docker image inspect` shows it.
func (d *Daemon) ImageInspect(ctx context.Context, name string) (imagetypes.InspectResponse, error) {
	img, err := d.images.Get(name)
	if err != nil {
		return imagetypes.InspectResponse{}, imageError(name, err)
	}
	cfg := img.Config
	resp := imagetypes.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     append([]string{}, img.Tags...),
		RepoDigests:  append([]string{}, img.RepoDigests...),
		Author:       cfg.Author,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		Size:         img.Size,
		Config:       apiImageConfig(cfg.Config),
		RootFS:       imagetypes.RootFS{Type: "layers"},
	}
	if len(cfg.History) > 0 {
		resp.Comment = cfg.History[len(cfg.History)-1].Comment
	}
	if !img.Created().IsZero() {
		resp.Created = img.Created().UTC().Format(time.RFC3339Nano)
	}
	for _, diff := range cfg.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, diff.String())
	}
	if dirs, err := d.images.LayerDirs(img.ID); err == nil && len(dirs) > 0 {
		// overlay's lowerdir lists the top layer first.
		lower := make([]string, len(dirs))
		for i, dir := range dirs {
			lower[len(dirs)-1-i] = dir
		}
		resp.GraphDriver = &storage.DriverData{Name: "overlay", Data: map[string]string{"LowerDir": strings.Join(lower, ":")}}
	}
	return resp, nil
}

// apiImageConfig converts chapter 06's container configuration to the
// API's.
func apiImageConfig(c image.ContainerConfig) *dockerspec.DockerOCIImageConfig {
	out := &dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			User:         c.User,
			ExposedPorts: c.ExposedPorts,
			Env:          c.Env,
			Entrypoint:   c.Entrypoint,
			Cmd:          c.Cmd,
			Volumes:      c.Volumes,
			WorkingDir:   c.WorkingDir,
			Labels:       c.Labels,
			StopSignal:   c.StopSignal,
			ArgsEscaped:  c.ArgsEscaped,
		},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{OnBuild: c.OnBuild, Shell: c.Shell},
	}
	if len(c.Healthcheck) > 0 {
		var hc dockerspec.HealthcheckConfig
		if json.Unmarshal(c.Healthcheck, &hc) == nil {
			out.Healthcheck = &hc
		}
	}
	return out
}

// ImageHistory lists the steps that made an image, newest first. A step
// has the ID of the image it produced when that image is in the store
// (the image itself and the ancestors its parent links reach: the steps
// of a build, the images a commit was made on, what a load brought with
// it), and "<missing>" otherwise, as in Docker.
func (d *Daemon) ImageHistory(ctx context.Context, name string) ([]imagetypes.HistoryResponseItem, error) {
	steps, err := d.images.History(name)
	if err != nil {
		return nil, imageError(name, err)
	}
	out := make([]imagetypes.HistoryResponseItem, 0, len(steps))
	for _, st := range steps {
		item := imagetypes.HistoryResponseItem{
			ID: "<missing>", CreatedBy: st.CreatedBy, Size: st.Size, Comment: st.Comment, Tags: []string{},
		}
		if !st.Created.IsZero() {
			item.Created = st.Created.Unix()
		}
		if st.ID != "" {
			item.ID = st.ID.String()
			if img, err := d.images.Get(st.ID.String()); err == nil {
				item.Tags = append(item.Tags, img.Tags...)
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// ImageTag names the image source repo:tag, taking the name from any
// other image that had it.
func (d *Daemon) ImageTag(ctx context.Context, source, repo, tag string) error {
	if tag == "" {
		tag = image.DefaultTag
	}
	target := repo + ":" + tag
	if _, err := image.ParseReference(target); err != nil {
		return giveKind(errdefs.ErrInvalidArgument, err)
	}
	if err := d.images.Tag(source, target); err != nil {
		return imageError(source, err)
	}
	if img, err := d.images.Get(target); err == nil {
		d.emitImage(img.ID.String(), target, moby.ActionTag)
	}
	return nil
}

// ImageRemove is `docker rmi`: it untags, and deletes the image (and its
// untagged parents that nothing else needs) when no name is left; layers
// go when no image and no container uses them. An image that a container
// uses is refused (409) unless force. The store always prunes the
// untagged parents: prune=false (noprune) is not honoured.
func (d *Daemon) ImageRemove(ctx context.Context, name string, force, prune bool) ([]imagetypes.DeleteResponse, error) {
	// Docker's rule, which the store applies only to an image without
	// children: the last tag of an image that a container uses is not
	// removed without force, or the container's image would be left
	// without a name.
	if img, err := d.images.Get(name); err == nil && !force && len(img.Tags) == 1 {
		if r, err := image.ParseReference(name); err == nil && r.String() == img.Tags[0] {
			if user := d.imageUser(img.ID); user != "" {
				return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
					name, namespace.ShortID(user), img.ID.Short()))
			}
		}
	}
	// For the untag events, which name the image by its ID and carry
	// its labels as dockerd's (dockerd untags before it deletes).
	var id string
	var labels map[string]string
	if img, err := d.images.Get(name); err == nil {
		id, labels = img.ID.String(), img.Config.Config.Labels
	}
	done, err := d.images.Remove(name, force)
	// The chowned copies of the layers that went (userns_copies.go).
	if serr := d.sweepCopies(); serr != nil {
		err = errors.Join(err, serr)
	}
	var out []imagetypes.DeleteResponse
	for _, line := range done {
		switch {
		case strings.HasPrefix(line, "Untagged: "):
			out = append(out, imagetypes.DeleteResponse{Untagged: strings.TrimPrefix(line, "Untagged: ")})
			d.emitImageLabels(id, id, moby.ActionUnTag, labels)
		case strings.HasPrefix(line, "Deleted: "):
			deleted := strings.TrimPrefix(line, "Deleted: ")
			out = append(out, imagetypes.DeleteResponse{Deleted: deleted})
			d.emitImageLabels(deleted, deleted, moby.ActionDelete, nil)
		}
	}
	if err != nil {
		if len(out) > 0 {
			return out, fmt.Errorf("removing %s (after %d steps): %w", name, len(out), imageError(name, err))
		}
		return nil, imageError(name, err)
	}
	return out, nil
}

// ImagesPrune is docker image prune (POST /images/prune): api.PruneImages
// chooses as dockerd does and removes through ImageRemove, which reports
// each untag and delete; then the prune event with the bytes given back.
func (d *Daemon) ImagesPrune(ctx context.Context, args filters.Args) (imagetypes.PruneReport, error) {
	report, err := api.PruneImages(ctx, d, args)
	d.Pruned(moby.ImageEventType, report.SpaceReclaimed)
	return report, err
}
