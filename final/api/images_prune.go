package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/final/filters"
)

// POST /images/prune (docker image prune): the images nobody needs go.
// Without filters the dangling ones: no tag, no child image (an
// intermediate image is its child's, not garbage). With
// filters={"dangling":["false"]} (docker image prune -a) every image no
// container was made from, tagged or not. until and label narrow both.
// The answer is dockerd's report: the untag and delete steps in the
// order they happened, and the bytes given back.

func (s *Server) imagePrune(w http.ResponseWriter, r *http.Request) error {
	args, err := filters.Parse(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	report, err := s.backend.ImagesPrune(r.Context(), args)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}

// ImageLister and ImageRemover are what PruneImages needs of a backend.
type imagePruneBackend interface {
	ImageList(ctx context.Context, all bool) ([]image.Summary, error)
	ImageRemove(ctx context.Context, name string, force, prune bool) ([]image.DeleteResponse, error)
}

// PruneImages chooses and removes the images a prune removes, through
// b's list and remove, as dockerd chooses them: images in use by a
// container are kept (dockerd skips their conflict silently), an
// untagged image with children is an intermediate and kept, an image is
// removed by each of its tags (docker image prune -a) or by ID.
// SpaceReclaimed counts each deleted image's own layers: its size beyond
// its parent's.
func PruneImages(ctx context.Context, b imagePruneBackend, args filters.Args) (image.PruneReport, error) {
	var report image.PruneReport
	for key := range args {
		if !slices.Contains([]string{"dangling", "until", "label", "label!"}, key) {
			return report, invalid("Invalid filter '" + key + "'") // dockerd's words
		}
	}
	danglingOnly := true
	if v, set, err := args.Bool("dangling"); err != nil {
		return report, err
	} else if set {
		danglingOnly = v
	}
	until, hasUntil, err := args.Until(time.Now())
	if err != nil {
		return report, err
	}
	list, err := b.ImageList(ctx, true)
	if err != nil {
		return report, err
	}
	byID := map[string]image.Summary{}
	hasChildren := map[string]bool{}
	for _, img := range list {
		byID[img.ID] = img
		if img.ParentID != "" {
			hasChildren[img.ParentID] = true
		}
	}
	var errs []error
	for _, img := range list {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		tagged := len(img.RepoTags) > 0
		switch {
		case hasChildren[img.ID] && (danglingOnly || !tagged):
			continue // an intermediate image, or a tagged parent in dangling mode
		case danglingOnly && tagged:
			continue
		case img.Containers > 0:
			continue
		case hasUntil && !time.Unix(img.Created, 0).Before(until):
			continue
		case !args.Labels(img.Labels):
			continue
		}
		refs := slices.Clone(img.RepoTags)
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, ref := range refs {
			done, err := b.ImageRemove(ctx, ref, false, true)
			if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
				continue // in use since the list, or gone with another
			}
			if err != nil {
				errs = append(errs, err)
			}
			for _, d := range done {
				if d.Deleted != "" {
					if gone, ok := byID[d.Deleted]; ok {
						own := gone.Size
						if p, ok := byID[gone.ParentID]; ok {
							own -= p.Size
						}
						report.SpaceReclaimed += uint64(max(own, 0))
					}
				}
			}
			report.ImagesDeleted = append(report.ImagesDeleted, done...)
		}
	}
	return report, errors.Join(errs...)
}
