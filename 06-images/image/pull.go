package image

import (
	"fmt"
	"io"
	"sync"
)

// Pull is an image on its way in from a registry (chapter 06's registry
// package drives it): its config is known first, then its layers come,
// several at once and in any order, each as the compressed stream the
// registry sends, and the image is added when all are in.
//
// The order of the steps is Load's, so a pull cut short (an error, a
// kill, a crash) leaves no visible half image:
//
//	NewPull(config)    a session: a lease on the layers this pull brings
//	   |
//	   |  for each layer, at the same time:
//	   |    Have(i)     the store has it: protected by the session, skipped
//	   |    AddLayer(i) decompress, unpack into tmp/, hash (the diffID);
//	   |                only a complete, checked layer is renamed into
//	   |                layers/ (and protected by the session)
//	   v
//	Commit(...)        config blob, then the record (the image exists),
//	   |               then tags and repository digest
//	Close()            ends the session; after a failure, collects the
//	                   layers that no image took
//
// A layer's place in the store, its chainID, follows from the config's
// diffIDs, so each layer is stored as soon as it is checked, whatever
// the state of the layers below it.
type Pull struct {
	s      *Store
	raw    []byte
	cfg    Config
	id     Digest
	chains []Digest
	sess   *session

	mu        sync.Mutex
	committed bool
	closed    bool
}

// NewPull starts a pull of the image whose config is raw (the bytes whose
// digest is the image ID).
func (s *Store) NewPull(raw []byte) (*Pull, error) {
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return nil, fmt.Errorf("image for %s: berth runs Linux images only", cfg.OS)
	}
	sess, err := s.newSession()
	if err != nil {
		return nil, err
	}
	return &Pull{s: s, raw: raw, cfg: cfg, id: FromBytes(raw), chains: ChainIDs(cfg.RootFS.DiffIDs), sess: sess}, nil
}

// ID is the image's ID.
func (p *Pull) ID() Digest { return p.id }

// Config is the image's config.
func (p *Pull) Config() Config { return p.cfg }

// Have reports whether the store has layer i (bottom first) at its
// place, and if so protects it until the pull ends: a `rmi` at the same
// moment cannot take it away.
func (p *Pull) Have(i int) (bool, error) {
	if i < 0 || i >= len(p.chains) {
		return false, fmt.Errorf("pull: no layer %d: the image has %d", i+1, len(p.chains))
	}
	return p.s.protectIfPresent(p.sess, p.chains[i])
}

// AddLayer reads layer i from blob, the registry's stream of its
// compressed (gzip, zstd) or uncompressed tar, and stores it. The tar's
// digest must be the config's diffID. blob is read to its end, after the
// tar: a reader that checks the blob's own digest (the registry
// package's) says there whether the bytes were right, and a failure
// there fails the layer. Nothing of a failed layer stays but garbage in
// tmp/, which is removed on the way out (or by Recover after a crash).
func (p *Pull) AddLayer(i int, blob io.Reader) (Compression, error) {
	if i < 0 || i >= len(p.chains) {
		return Uncompressed, fmt.Errorf("pull: no layer %d: the image has %d", i+1, len(p.chains))
	}
	plain, comp, err := Decompress(blob)
	if err != nil {
		return comp, err
	}
	defer plain.Close()
	st, err := p.s.stageLayer(plain)
	if err != nil {
		return comp, err
	}
	defer st.discard()
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return comp, fmt.Errorf("reading layer: %w", err)
	}
	if want := p.cfg.RootFS.DiffIDs[i]; st.diffID != want {
		return comp, diffIDMismatch(want, st.diffID)
	}
	parent := Digest("")
	if i > 0 {
		parent = p.chains[i-1]
	}
	return comp, p.s.storeLayers([]layerToStore{{st, st.info(parent)}}, p.sess)
}

// PullCommit is what a finished pull names the image.
type PullCommit struct {
	// Tag is NAME:TAG for a pull by tag; "" for a pull by digest.
	Tag string
	// RepoDigest is the manifest the image was pulled from.
	RepoDigest RepoDigest
	// Sources are where the registry has each layer's blob, by diffID
	// (see BlobSources).
	Sources map[Digest]BlobSource
}

// Commit adds the image, whose layers are all in the store, and names it.
// changed is false when the image, its tag and its repository digest
// were all there already.
func (p *Pull) Commit(c PullCommit) (img Image, changed bool, err error) {
	var refs []Reference
	if c.Tag != "" {
		r, err := ParseReference(c.Tag)
		if err != nil {
			return Image{}, false, err
		}
		refs = append(refs, r)
	}
	unlock, err := p.s.lock()
	if err != nil {
		return Image{}, false, err
	}
	_, rerr := p.s.readRecord(p.id)
	existed := rerr == nil
	_, err = p.s.addImage(p.raw, p.cfg, "", nil)
	if err == nil {
		changed, err = p.s.setPulled(p.id, refs, c.RepoDigest)
	}
	unlock()
	if err != nil {
		return Image{}, false, fmt.Errorf("pull: image %s: %w", p.id.Short(), err)
	}
	p.mu.Lock()
	p.committed = true
	p.mu.Unlock()
	for diffID, src := range c.Sources {
		// A cache for later pushes: its failure fails nothing.
		_ = p.s.AddBlobSources(diffID, src)
	}
	img, err = p.s.image(p.id, nil)
	return img, changed || !existed, err
}

// Close ends the pull. A pull that was not committed leaves nothing: the
// layers it stored that no image took are collected.
func (p *Pull) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.sess.end()
	if !p.committed {
		if unlock, err := p.s.lock(); err == nil {
			_ = p.s.gc()
			unlock()
		}
	}
}
