package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// What the store remembers about registries (chapter 06's registry
// package moves the images; the store keeps two facts about that):
//
//   - an image's RepoDigests, "busybox@sha256:<manifest digest>": the
//     manifest it was pulled from or pushed as. A registry names an image
//     by that digest, and `pull busybox@sha256:...` or `run` of it finds
//     the image here without asking the registry. They are in the
//     image's record (meta/<id>.json), so they go with the image, stay
//     when its tags move (a tag moved by a newer pull leaves the old
//     image its digest, as dockerd does), and survive restarts. A
//     NAME@digest names one image: given to another, it moves.
//
//   - for each layer (by diffID), where its compressed blob is: digest,
//     media type, size and the repositories that have it
//     (distribution/<diffID>.json, Docker's "v2metadata"). The store keeps
//     layers uncompressed, and compressing one again gives other bytes,
//     so a push can skip an upload only if it knows the blob the
//     registry has: then a HEAD says "Layer already exists", or a mount
//     from another repository of the same registry copies it there
//     without sending a byte.

// RepoDigest is NAME@sha256:...: an image by the digest of its manifest
// in the repository NAME.
type RepoDigest struct {
	Name   string // short form, as tags: "busybox", "127.0.0.1:5000/team/app"
	Digest Digest
}

func (r RepoDigest) String() string { return r.Name + "@" + string(r.Digest) }

// ParseRepoDigest reads NAME@sha256:..., with the name in any of its
// forms ("docker.io/library/busybox" is "busybox").
func ParseRepoDigest(s string) (RepoDigest, error) {
	name, dgst, ok := strings.Cut(s, "@")
	if !ok {
		return RepoDigest{}, fmt.Errorf("image reference %q: not NAME@sha256:...", s)
	}
	d, err := ParseDigest(dgst)
	if err != nil {
		return RepoDigest{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	// A NAME:TAG@digest names the digest; the tag is only a comment.
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i+1:], "/") {
		name = name[:i]
	}
	name = shortName(name)
	if err := checkName(name); err != nil {
		return RepoDigest{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	return RepoDigest{Name: name, Digest: d}, nil
}

// findRepoDigest finds the image that has rd among its RepoDigests.
func (s *Store) findRepoDigest(rd RepoDigest) (Digest, bool, error) {
	ids, err := s.ids()
	if err != nil {
		return "", false, err
	}
	want := rd.String()
	for _, id := range ids {
		rec, err := s.readRecord(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", false, err
		}
		if slices.Contains(rec.RepoDigests, want) {
			return id, true, nil
		}
	}
	return "", false, nil
}

// addRepoDigests gives the image id the repository digests rds, taking
// each from another image that had it. It reports whether anything
// changed. The caller holds the lock.
func (s *Store) addRepoDigests(id Digest, rds []RepoDigest) (bool, error) {
	if len(rds) == 0 {
		return false, nil
	}
	ids, err := s.ids()
	if err != nil {
		return false, err
	}
	changed := false
	for _, other := range ids {
		rec, err := s.readRecord(other)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		keep := rec.RepoDigests[:0:0]
		for _, have := range rec.RepoDigests {
			moved := false
			for _, rd := range rds {
				moved = moved || have == rd.String() && other != id
			}
			if !moved {
				keep = append(keep, have)
			}
		}
		if other == id {
			for _, rd := range rds {
				if !slices.Contains(keep, rd.String()) {
					keep = append(keep, rd.String())
				}
			}
			sort.Strings(keep)
		}
		if slices.Equal(keep, rec.RepoDigests) {
			continue
		}
		changed = true
		rec.RepoDigests = keep
		if err := s.writeRecord(other, rec); err != nil {
			return false, err
		}
	}
	return changed, nil
}

func (s *Store) writeRecord(id Digest, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding image record: %w", err)
	}
	return s.writeAtomic(s.recordPath(id), data, 0o600)
}

// SetPulled records what a pull of an image the store has named: the tag
// ("" for none: a pull by digest) and the repository digest. It reports
// whether either is new; a pull that changes nothing is "Image is up to
// date".
func (s *Store) SetPulled(id Digest, tag string, rd RepoDigest) (changed bool, err error) {
	var refs []Reference
	if tag != "" {
		r, err := ParseReference(tag)
		if err != nil {
			return false, err
		}
		refs = append(refs, r)
	}
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := s.readRecord(id); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return false, err
	}
	return s.setPulled(id, refs, rd)
}

// setPulled points refs and rd at id. The caller holds the lock.
func (s *Store) setPulled(id Digest, refs []Reference, rd RepoDigest) (bool, error) {
	changed := false
	if len(refs) > 0 {
		repos, err := s.repositories()
		if err != nil {
			return false, err
		}
		for _, r := range refs {
			if repos[r.String()] != id {
				changed = true
			}
		}
		if changed {
			if err := s.setTags(id, refs); err != nil {
				return false, err
			}
		}
	}
	var rds []RepoDigest
	if rd.Digest != "" {
		rds = append(rds, rd)
	}
	more, err := s.addRepoDigests(id, rds)
	return changed || more, err
}

// AddRepoDigest gives the image id the repository digest rd (a push
// made it), taking it from another image that had it.
func (s *Store) AddRepoDigest(id Digest, rd RepoDigest) error {
	_, err := s.SetPulled(id, "", rd)
	return err
}

// BlobSource is where a registry has a layer's compressed blob.
type BlobSource struct {
	Digest    Digest `json:"digest"` // of the compressed bytes
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// Repository is the full name: "docker.io/library/busybox",
	// "127.0.0.1:5000/team/app".
	Repository string `json:"repository"`
}

// maxBlobSources bounds a layer's list: a layer pushed to many
// repositories needs only a few to mount from.
const maxBlobSources = 32

func (s *Store) distPath(diffID Digest) string {
	return filepath.Join(s.dir, distDir, diffID.Hex()+".json")
}

// BlobSources lists where registries have the layer diffID, most
// recently learnt first.
func (s *Store) BlobSources(diffID Digest) ([]BlobSource, error) {
	if err := diffID.Validate(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.distPath(diffID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("layer %s: distribution record: %w", diffID.Short(), err)
	}
	var list []BlobSource
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("layer %s: distribution record %s: %w", diffID.Short(), s.distPath(diffID), err)
	}
	return list, nil
}

// AddBlobSources records that registries have the layer diffID as srcs.
// The record is a cache: it is replaced atomically but not synced (a
// crash that loses it costs an upload, not an image).
func (s *Store) AddBlobSources(diffID Digest, srcs ...BlobSource) error {
	if err := diffID.Validate(); err != nil {
		return err
	}
	for _, src := range srcs {
		if err := src.Digest.Validate(); err != nil {
			return fmt.Errorf("layer %s: blob source: %w", diffID.Short(), err)
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(s.blobPath(diffID)); err != nil {
		// The layer went (rmi) while it was being pushed or pulled:
		// nothing to remember it for.
		return nil
	}
	old, err := s.BlobSources(diffID)
	if err != nil {
		old = nil // a torn cache is rewritten
	}
	list := append([]BlobSource{}, srcs...)
	for _, o := range old {
		dup := false
		for _, n := range srcs {
			dup = dup || n.Digest == o.Digest && n.Repository == o.Repository
		}
		if !dup {
			list = append(list, o)
		}
	}
	if len(list) > maxBlobSources {
		list = list[:maxBlobSources]
	}
	data, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encoding distribution record: %w", err)
	}
	return s.writeFile(s.distPath(diffID), data, 0o600, false)
}

// gcDistribution deletes the distribution records of layers whose blob
// is gone. The caller holds the lock.
func (s *Store) gcDistribution(blobs map[string]bool) error {
	entries, err := os.ReadDir(filepath.Join(s.dir, distDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", distDir, err)
	}
	for _, e := range entries {
		h, _ := strings.CutSuffix(e.Name(), ".json")
		if !blobs[h] {
			if err := os.Remove(filepath.Join(s.dir, distDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("deleting distribution record %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// OpenLayer opens the uncompressed tar of the layer diffID, as the store
// keeps it: what a push compresses and uploads.
func (s *Store) OpenLayer(diffID Digest) (*os.File, error) {
	if err := diffID.Validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(diffID))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", diffID.Short(), err)
	}
	return f, nil
}
