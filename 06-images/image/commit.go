package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// addImage makes an image of a config whose layers are all in the store:
// config blob first, then the record that makes the image exist, then its
// tags. The caller holds the lock.
func (s *Store) addImage(raw []byte, cfg Config, parent Digest, refs []Reference) (Digest, error) {
	for i, chain := range ChainIDs(cfg.RootFS.DiffIDs) {
		if !s.hasLayer(chain) {
			return "", fmt.Errorf("image config names layer %d (%s), which the store does not have", i+1, cfg.RootFS.DiffIDs[i].Short())
		}
	}
	id, err := s.putBlob(raw)
	if err != nil {
		return "", err
	}
	if _, err := s.readRecord(id); errors.Is(err, fs.ErrNotExist) {
		rec, err := json.Marshal(record{Parent: parent, Added: time.Now().UTC()})
		if err != nil {
			return "", fmt.Errorf("encoding image record: %w", err)
		}
		if err := s.writeAtomic(s.recordPath(id), rec, 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	return id, s.setTags(id, refs)
}

// CommitOptions describe the image that Commit makes.
type CommitOptions struct {
	// Parent is the image the container was made from; "" for none.
	Parent Digest
	// Ref tags the new image (NAME[:TAG]); "" leaves it untagged.
	Ref string
	// Config is what containers of the new image run; nil keeps the
	// parent's (docker commit --change edits it).
	Config *ContainerConfig
	// CreatedBy is the history's record of what made the change: the
	// container's command, as Docker writes it.
	CreatedBy string
	Author    string
	Comment   string // docker commit -m
	// Unmap: the upper directory's owners are host ids of this user
	// namespace, stored as the namespace's (diff.go's Unmap).
	Unmap *Unmap
}

// Commit turns a container's writable layer into a new image: the layer
// is the upper directory upper as a tar (WriteDiff), on top of the
// parent's layers, and the config is the parent's with one more diffID
// and one more history step. The parent is recorded, so that `history`
// shows it and `save` carries it.
//
// The tar is made once and, while it is being made, hashed, kept as the
// layer's blob and unpacked as its overlay lower: the cost follows the
// size of the change, not of the image.
//
// With upper "", the new image has no new layer: only its config changes
// and its history step is an empty_layer one, as for a Dockerfile's ENV
// or CMD.
func (s *Store) Commit(upper string, opts CommitOptions) (Image, error) {
	var refs []Reference
	if opts.Ref != "" {
		ref, err := ParseReference(opts.Ref)
		if err != nil {
			return Image{}, err
		}
		refs = append(refs, ref)
	}
	if upper != "" {
		if _, err := os.Stat(upper); err != nil {
			return Image{}, fmt.Errorf("commit: container layer: %w", err)
		}
	}
	now := time.Now().UTC()
	cfg := newConfig(now)
	if opts.Parent != "" {
		parent, err := s.image(opts.Parent, map[Digest][]string{})
		if err != nil {
			return Image{}, fmt.Errorf("commit: parent image: %w", err)
		}
		cfg.Architecture, cfg.OS, cfg.Variant = parent.Config.Architecture, parent.Config.OS, parent.Config.Variant
		cfg.Config = parent.Config.Config
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, parent.Config.RootFS.DiffIDs...)
		cfg.History = append(cfg.History, parent.Config.History...)
	}
	if opts.Config != nil {
		cfg.Config = *opts.Config
	}
	cfg.Author = opts.Author
	step := History{Created: &now, CreatedBy: opts.CreatedBy, Author: opts.Author, Comment: opts.Comment}
	if upper == "" {
		if opts.Parent == "" {
			return Image{}, errors.New("commit: no layer and no parent: the image would be empty")
		}
		step.EmptyLayer = true
		cfg.History = append(cfg.History, step)
		return s.create(cfg, opts.Parent, refs)
	}

	sess, err := s.newSession()
	if err != nil {
		return Image{}, err
	}
	defer sess.end()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(WriteDiffUnmapped(pw, upper, opts.Unmap)) }()
	info, err := s.addLayer(pr, ingest{Parent: ChainID(cfg.RootFS.DiffIDs), Session: sess})
	pr.CloseWithError(errors.New("commit stopped reading")) // unblocks the writer on error
	if err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, info.DiffID)
	cfg.History = append(cfg.History, step)
	return s.create(cfg, opts.Parent, refs)
}

// create stores a config that berth made, with its layers already in.
func (s *Store) create(cfg Config, parent Digest, refs []Reference) (Image, error) {
	raw, err := cfg.marshal()
	if err != nil {
		return Image{}, err
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	id, err := s.addImage(raw, cfg, parent, refs)
	unlock()
	if err != nil {
		return Image{}, err
	}
	return s.image(id, nil)
}

// ImportOptions describe the image that Import makes.
type ImportOptions struct {
	Ref     string           // tag for the new image; "" for none
	Config  *ContainerConfig // docker import --change; nil for none
	Comment string           // docker import -m; default "Imported from -"
}

// Import makes a one-layer image of a file system tar, such as `export`
// writes (gzip or bzip2 compressed, or not): docker import. The image has
// no parent and one history step, whatever the file system's past was.
func (s *Store) Import(r io.Reader, opts ImportOptions) (Image, error) {
	var refs []Reference
	if opts.Ref != "" {
		ref, err := ParseReference(opts.Ref)
		if err != nil {
			return Image{}, err
		}
		refs = append(refs, ref)
	}
	plain, _, err := Decompress(r)
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	defer plain.Close()
	sess, err := s.newSession()
	if err != nil {
		return Image{}, err
	}
	defer sess.end()
	info, err := s.addLayer(plain, ingest{Session: sess})
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	now := time.Now().UTC()
	cfg := newConfig(now)
	if opts.Config != nil {
		cfg.Config = *opts.Config
	}
	comment := opts.Comment
	if comment == "" {
		comment = "Imported from -"
	}
	cfg.RootFS.DiffIDs = []Digest{info.DiffID}
	cfg.History = []History{{Created: &now, Comment: comment}}
	return s.create(cfg, "", refs)
}
