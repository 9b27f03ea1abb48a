package daemon

import (
	"context"
	"errors"
	"strings"

	"github.com/containerd/errdefs"
	buildtypes "github.com/moby/moby/api/types/build"
	moby "github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/build"
)

// BuildCachePrune is docker builder prune (POST /build/prune; see the
// API's build_prune.go for what it removes and why). The entries go
// first, then the images that only they held: an image with a tag, a
// child image or a container stays, whatever its entry; an image is
// removed as docker rmi removes it, with the untagged parents it leaves
// childless (which were steps too: their entries go with them). It waits
// for the builds under way (Daemon.builds).
func (d *Daemon) BuildCachePrune(ctx context.Context, opts api.BuildPruneOptions) (buildtypes.CachePruneReport, error) {
	report := buildtypes.CachePruneReport{}
	// After the builds under way, and no build starts meanwhile.
	d.builds.Lock()
	defer d.builds.Unlock()
	until, hasUntil, err := api.BuildPruneFilter(opts.Filters)
	if err != nil {
		return report, err
	}
	cache, err := build.OpenCache(d.builderDir("cache"))
	if err != nil {
		return report, err
	}
	entries, err := cache.Entries()
	if err != nil {
		return report, err
	}
	images, err := d.ImageList(ctx, true)
	if err != nil {
		return report, err
	}
	byID := map[string]imagetypes.Summary{}
	hasChildren := map[string]bool{}
	for _, img := range images {
		byID[img.ID] = img
		if img.ParentID != "" {
			hasChildren[img.ParentID] = true
		}
	}
	// held: the image is more than the cache's (or gone: not held).
	held := func(id string) bool {
		img, ok := byID[id]
		return ok && (len(img.RepoTags) > 0 || hasChildren[id] || img.Containers > 0)
	}
	kept := map[string]bool{}  // images of the entries that stay
	freed := map[string]bool{} // images of the entries that go
	var errs []error
	for _, e := range entries {
		img := e.Image.String()
		selected := opts.Filters.Any("id", func(v string) bool { return strings.HasPrefix(e.ID, v) }) &&
			opts.Filters.Labels(nil) && // an entry has no labels
			(!hasUntil || e.LastUsed.Before(until)) &&
			(opts.All || e.Image == "" || !held(img))
		if !selected {
			kept[img] = true
			continue
		}
		if err := cache.Remove(e.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		report.CachesDeleted = append(report.CachesDeleted, e.ID)
		freed[img] = true
	}
	gone := map[string]bool{}
	for img := range freed {
		if _, ok := byID[img]; !ok || held(img) || kept[img] {
			continue
		}
		done, err := d.ImageRemove(ctx, img, false, true)
		if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
			continue // used or removed since the list
		}
		if err != nil {
			errs = append(errs, err)
		}
		for _, del := range done {
			if del.Deleted == "" || gone[del.Deleted] {
				continue
			}
			gone[del.Deleted] = true
			if g, ok := byID[del.Deleted]; ok {
				own := g.Size
				if p, ok := byID[g.ParentID]; ok {
					own -= p.Size
				}
				report.SpaceReclaimed += uint64(max(own, 0))
			}
		}
	}
	// The entries of the parents removed with them.
	if len(gone) > 0 {
		entries, err := cache.Entries()
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range entries {
			if gone[e.Image.String()] {
				if err := cache.Remove(e.ID); err != nil {
					errs = append(errs, err)
					continue
				}
				report.CachesDeleted = append(report.CachesDeleted, e.ID)
			}
		}
	}
	d.Pruned(moby.BuilderEventType, report.SpaceReclaimed)
	return report, errors.Join(errs...)
}
