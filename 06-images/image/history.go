package image

import (
	"time"
)

// Step is one line of `history`: a step of the image's config history,
// newest first, with the ID of the image it produced when that image is
// in the store (an ancestor reached through the parent links), as
// `docker history` shows it; other steps have no ID ("<missing>").
type Step struct {
	ID         Digest // "" when no image in the store ends at this step
	Created    time.Time
	CreatedBy  string
	Comment    string
	EmptyLayer bool
	Size       int64 // of the step's layer (see contentSize); 0 for an empty layer
}

// History returns the steps that made the image ref names, newest first.
func (s *Store) History(ref string) ([]Step, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	// The image and its ancestors each end at one step: their history's
	// last. The walk stops at a parent the store does not have.
	endsAt := map[int]Digest{}
	seen := map[Digest]bool{}
	for a := img; ; {
		endsAt[len(a.Config.History)-1] = a.ID
		seen[a.ID] = true
		if a.Parent == "" || seen[a.Parent] {
			break
		}
		next, err := s.image(a.Parent, map[Digest][]string{})
		if err != nil {
			break
		}
		a = next
	}
	diffs := img.Config.RootFS.DiffIDs
	chains := ChainIDs(diffs)
	steps := make([]Step, 0, len(img.Config.History))
	layer := 0
	for i, h := range img.Config.History {
		st := Step{ID: endsAt[i], CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			st.Created = *h.Created
		}
		if !h.EmptyLayer && layer < len(diffs) {
			st.Size = s.layerSize(chains[layer], diffs[layer])
			layer++
		}
		steps = append(steps, st)
	}
	for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
		steps[i], steps[j] = steps[j], steps[i]
	}
	return steps, nil
}
