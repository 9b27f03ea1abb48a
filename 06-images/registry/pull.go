package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/06-images/image"
)

// Media types the chapter reads beyond the store's own constants.
const (
	mediaDockerConfig  = "application/vnd.docker.container.image.v1+json"
	mediaDockerLayer   = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaDockerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mediaOCILayerGzip  = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaOCILayerZstd  = "application/vnd.oci.image.layer.v1.tar+zstd"
	mediaOCINonDistrib = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	maxConfigSize      = 8 << 20 // a config is kilobytes; more is an attack on memory
	progressEvery      = 100 * time.Millisecond
)

// layerMediaTypes are the layers berth pulls: Docker's gzip tar, and
// OCI's tar uncompressed, gzip or zstd.
var layerMediaTypes = map[string]bool{
	mediaDockerLayer:        true,
	image.MediaTypeOCILayer: true,
	mediaOCILayerGzip:       true,
	mediaOCILayerZstd:       true,
}

// reporter passes progress on, one call at a time.
type reporter struct {
	mu sync.Mutex
	fn ProgressFunc
}

func (r *reporter) send(p Progress) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(p)
}

func (r *reporter) status(id, status string) { r.send(Progress{ID: id, Status: status}) }

// parseNamed normalises a reference as Docker does: "busybox" is
// docker.io/library/busybox.
func parseNamed(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, newError(ErrInvalidReference, fmt.Sprintf("invalid reference format: %s: %v", ref, err), err)
	}
	return named, nil
}

// Pull fetches ref ("busybox", "busybox:1.36", "host:5000/a/b@sha256:...")
// into the store, tags it (unless pulled by digest) and records its
// repository digest. A pull that fails leaves no half-written image and
// no layer in the store that was not complete and verified.
func (c *Client) Pull(ctx context.Context, s *image.Store, ref string, opts PullOptions) ([]PullResult, error) {
	named, err := parseNamed(ref)
	if err != nil {
		return nil, err
	}
	want, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	rep := &reporter{fn: opts.Progress}
	pl := &puller{c: c, s: s, named: named, want: want, explicit: opts.Platform != "", auth: opts.Auth, rep: rep}
	if opts.AllTags {
		if !reference.IsNameOnly(named) {
			return nil, newError(ErrInvalidReference, "tag can't be used with --all-tags/-a", nil)
		}
		return pl.allTags(ctx)
	}
	named = reference.TagNameOnly(named)
	pl.named = named
	var res PullResult
	err = pl.withEndpoint(ctx, func(ep *endpoint) error {
		var err error
		res, err = pl.pullOne(ctx, ep, named)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.status("", "Digest: "+res.Digest)
	if res.UpToDate {
		rep.status("", "Status: Image is up to date for "+res.Ref)
	} else {
		rep.status("", "Status: Downloaded newer image for "+res.Ref)
	}
	return []PullResult{res}, nil
}

// puller is one Pull.
type puller struct {
	c        *Client
	s        *image.Store
	named    reference.Named
	want     platform
	explicit bool // the platform was asked for
	auth     *AuthConfig
	rep      *reporter
}

// withEndpoint runs f on the first endpoint (mirrors, then the registry)
// that has the manifest: dockerd falls back from a mirror that fails,
// and reports the registry's error when all do.
func (pl *puller) withEndpoint(ctx context.Context, f func(*endpoint) error) error {
	hosts := pl.c.endpoints(pl.named, true)
	var err error
	for i, h := range hosts {
		last := i == len(hosts)-1
		ep, cerr := pl.c.connect(ctx, h, reference.Path(pl.named), pl.auth, []string{"pull"}, nil)
		if cerr != nil {
			// Unreachable, or the handshake failed: the next one.
			if err = cerr; last || ctx.Err() != nil {
				break
			}
			continue
		}
		err = f(ep)
		var fromManifest *manifestError
		if err == nil || last || ctx.Err() != nil || !errors.As(err, &fromManifest) {
			// Done; or the mirror gave the manifest and failed later:
			// no fallback in the middle of a pull.
			break
		}
	}
	if err != nil && isUnauthorized(err) && !errors.Is(err, ErrUnauthorized) {
		return newError(ErrUnauthorized, "pull access denied for "+reference.FamiliarName(pl.named)+", repository does not exist or may require 'docker login': "+registryMessage(err), err)
	}
	return err
}

// manifestError marks a failure to get the manifest: the point where a
// mirror may be given up for the next endpoint.
type manifestError struct{ err error }

func (e *manifestError) Error() string { return e.err.Error() }
func (e *manifestError) Unwrap() error { return e.err }

// allTags pulls every tag of the repository.
func (pl *puller) allTags(ctx context.Context) ([]PullResult, error) {
	var results []PullResult
	err := pl.withEndpoint(ctx, func(ep *endpoint) error {
		tags, err := remote.List(ep.repo, remote.WithTransport(ep.rt), remote.WithContext(ctx))
		if err != nil {
			return &manifestError{pullError(reference.FamiliarName(pl.named), reference.FamiliarString(pl.named), err)}
		}
		for _, t := range tags {
			tagged, err := reference.WithTag(pl.named, t)
			if err != nil {
				return newError(ErrInvalidReference, fmt.Sprintf("tag %q: %v", t, err), err)
			}
			res, err := pl.pullOne(ctx, ep, tagged)
			if err != nil {
				return err
			}
			pl.rep.status("", "Digest: "+res.Digest)
			results = append(results, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	status := "Status: Image is up to date for "
	for _, r := range results {
		if !r.UpToDate {
			status = "Status: Downloaded newer image for "
		}
	}
	pl.rep.status("", status+reference.FamiliarName(pl.named))
	return results, nil
}

// pullOne pulls one tag or digest from ep.
func (pl *puller) pullOne(ctx context.Context, ep *endpoint, named reference.Named) (PullResult, error) {
	familiar := reference.FamiliarName(named)
	res := PullResult{Ref: reference.FamiliarString(named)}
	var ref name.Reference
	var tag, tagOrDigest string
	switch r := named.(type) {
	case reference.Canonical:
		ref = ep.repo.Digest(r.Digest().String())
		tagOrDigest = r.Digest().String()
	case reference.Tagged:
		ref = ep.repo.Tag(r.Tag())
		tag = familiar + ":" + r.Tag()
		tagOrDigest = r.Tag()
	default:
		return res, newError(ErrInvalidReference, "reference "+named.String()+" has no tag and no digest", nil)
	}

	// The manifest, by tag or digest, with Accept naming every format
	// berth reads (the library sends it; it also checks a manifest got
	// by digest against that digest).
	desc, err := remote.Get(ref, remote.WithTransport(ep.rt), remote.WithContext(ctx))
	if err != nil {
		return res, &manifestError{pullError(familiar, res.Ref, err)}
	}
	// dockerd says it once it has the manifest: a tag that does not
	// exist is only an error.
	pl.rep.status(tagOrDigest, "Pulling from "+reference.Path(named))
	top := image.Digest(desc.Digest.String())
	res.Digest = string(top)
	rd := image.RepoDigest{Name: familiar, Digest: top}
	raw := desc.Manifest
	if got := image.FromBytes(raw); got != top {
		return res, newError(ErrUnsupported, fmt.Sprintf("manifest for %s: content hashes to %s, the registry says %s", res.Ref, got, top), nil)
	}

	switch string(desc.MediaType) {
	case string(types.DockerManifestSchema1), string(types.DockerManifestSchema1Signed):
		return res, newError(ErrUnsupported, fmt.Sprintf("%s is a Docker Image manifest version 2, schema 1 (%s): that format is no longer supported (dockerd refuses it too); push the image again with a current tool, which writes schema 2 or OCI", res.Ref, desc.MediaType), nil)
	case image.MediaTypeOCIIndex, image.MediaTypeDockerList:
		var idx image.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return res, newError(ErrUnsupported, fmt.Sprintf("manifest list for %s: %v", res.Ref, err), err)
		}
		chosen, err := choose(pl.want, idx.Manifests)
		if err != nil {
			return res, err
		}
		// Pulled before for this platform: the index's digest names
		// the image already (its RepoDigest), nothing more to fetch.
		if img, err := pl.s.Get(rd.String()); err == nil && configPlatform(img.Config) == fromImage(chosen.Platform) {
			return pl.present(res, img.ID, tag, rd)
		}
		if chosen.MediaType != image.MediaTypeOCIManifest && chosen.MediaType != image.MediaTypeDockerManifest {
			return res, newError(ErrUnsupported, fmt.Sprintf("manifest list for %s: the entry for %s is a %q, not an image manifest", res.Ref, pl.want, chosen.MediaType), nil)
		}
		child, err := remote.Get(ep.repo.Digest(string(chosen.Digest)), remote.WithTransport(ep.rt), remote.WithContext(ctx))
		if err != nil {
			return res, &manifestError{pullError(familiar, res.Ref, err)}
		}
		raw = child.Manifest
		if got := image.FromBytes(raw); got != chosen.Digest {
			return res, newError(ErrUnsupported, fmt.Sprintf("manifest %s of %s: content hashes to %s", chosen.Digest, res.Ref, got), nil)
		}
	case image.MediaTypeOCIManifest, image.MediaTypeDockerManifest:
		if img, err := pl.s.Get(rd.String()); err == nil && (!pl.explicit || rank(pl.want, configPlatform(img.Config)) > 0) {
			return pl.present(res, img.ID, tag, rd)
		}
	default:
		return res, newError(ErrUnsupported, fmt.Sprintf("%s: manifest media type %q is not an image (berth pulls Docker schema 2 and OCI images)", res.Ref, desc.MediaType), nil)
	}

	var m image.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return res, newError(ErrUnsupported, fmt.Sprintf("manifest for %s: %v", res.Ref, err), err)
	}
	if err := checkManifest(res.Ref, m); err != nil {
		return res, err
	}
	cfgRaw, err := pl.fetchConfig(ctx, ep, m.Config)
	if err != nil {
		return res, err
	}
	id := image.FromBytes(cfgRaw)
	cfg, err := image.ParseConfig(cfgRaw)
	if err != nil {
		return res, newError(ErrUnsupported, fmt.Sprintf("%s: %v", res.Ref, err), err)
	}
	if pl.explicit {
		if got := configPlatform(cfg); rank(pl.want, got) == 0 {
			return res, newError(ErrUnsupported, fmt.Sprintf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)", res.Ref, got, pl.want), nil)
		}
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return res, newError(ErrUnsupported, fmt.Sprintf("%s: the manifest has %d layers, the config %d diff_ids", res.Ref, len(m.Layers), len(cfg.RootFS.DiffIDs)), nil)
	}
	if _, err := pl.s.Get(id.String()); err == nil {
		return pl.present(res, id, tag, rd)
	}

	p, err := pl.s.NewPull(cfgRaw)
	if err != nil {
		return res, newError(ErrUnsupported, fmt.Sprintf("%s: %v", res.Ref, err), err)
	}
	defer p.Close()
	if err := pl.layers(ctx, ep, p, m.Layers); err != nil {
		return res, err
	}
	sources := map[image.Digest]image.BlobSource{}
	for i, l := range m.Layers {
		sources[cfg.RootFS.DiffIDs[i]] = image.BlobSource{Digest: l.Digest, MediaType: l.MediaType, Size: l.Size, Repository: pl.named.Name()}
	}
	img, changed, err := p.Commit(image.PullCommit{Tag: tag, RepoDigest: rd, Sources: sources})
	if err != nil {
		return res, err
	}
	res.ID, res.UpToDate = img.ID, !changed
	return res, nil
}

// present finishes the pull of an image the store has: its tag and
// repository digest, nothing to download.
func (pl *puller) present(res PullResult, id image.Digest, tag string, rd image.RepoDigest) (PullResult, error) {
	changed, err := pl.s.SetPulled(id, tag, rd)
	if err != nil {
		return res, err
	}
	res.ID, res.UpToDate = id, !changed
	return res, nil
}

// configPlatform is an image's platform, from its config.
func configPlatform(cfg image.Config) platform {
	return normalize(platform{OS: cfg.OS, Arch: cfg.Architecture, Variant: cfg.Variant})
}

// checkManifest refuses what berth cannot pull, naming it.
func checkManifest(ref string, m image.Manifest) error {
	switch m.Config.MediaType {
	case mediaDockerConfig, image.MediaTypeOCIConfig:
	default:
		return newError(ErrUnsupported, fmt.Sprintf("%s: config media type %q: not a container image (an OCI artifact?)", ref, m.Config.MediaType), nil)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return newError(ErrUnsupported, fmt.Sprintf("%s: config: %v", ref, err), err)
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return newError(ErrUnsupported, fmt.Sprintf("%s: layer: %v", ref, err), err)
		}
		switch {
		case layerMediaTypes[l.MediaType]:
		case l.MediaType == mediaDockerForeign || strings.HasPrefix(l.MediaType, mediaOCINonDistrib):
			return newError(ErrUnsupported, fmt.Sprintf("%s: layer %s is a foreign (non-distributable) layer, %s: its content is not in the registry but at URLs of its vendor; berth pulls only distributable layers", ref, l.Digest, l.MediaType), nil)
		default:
			return newError(ErrUnsupported, fmt.Sprintf("%s: layer %s has media type %q, which is not a layer berth can unpack (a tar, uncompressed, gzip or zstd)", ref, l.Digest, l.MediaType), nil)
		}
	}
	return nil
}

// fetchConfig gets the config blob, checked against its digest.
func (pl *puller) fetchConfig(ctx context.Context, ep *endpoint, d image.Descriptor) ([]byte, error) {
	if d.Size > maxConfigSize {
		return nil, newError(ErrUnsupported, fmt.Sprintf("config %s: %d bytes, more than a config can be (%d)", d.Digest, d.Size, maxConfigSize), nil)
	}
	body, err := ep.getBlob(ctx, d.Digest)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	v := newVerifier(body, d.Digest, d.Size, nil)
	raw, err := io.ReadAll(v)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// getBlob starts GET /v2/<name>/blobs/<digest>. A registry may answer
// with a redirect to its storage; the client follows it (and the
// library's transport sends the registry's token to the registry only).
func (ep *endpoint) getBlob(ctx context.Context, d image.Digest) (io.ReadCloser, error) {
	resp, err := ep.do(ctx, http.MethodGet, ep.url("blobs", string(d)), nil)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := transport.CheckError(resp, http.StatusOK)
		resp.Body.Close()
		if isUnauthorized(err) {
			return nil, newError(ErrUnauthorized, fmt.Sprintf("blob %s: %s", d, registryMessage(err)), err)
		}
		return nil, newError(err, fmt.Sprintf("blob %s: %s", d, registryMessage(err)), err)
	}
	return resp.Body, nil
}

// layers brings the layers the store does not have, Concurrency at a
// time, each streamed from the registry through a verifier into the
// store, and reports as dockerd does.
func (pl *puller) layers(ctx context.Context, ep *endpoint, p *image.Pull, descs []image.Descriptor) error {
	var todo []int
	for i, d := range descs {
		have, err := p.Have(i)
		if err != nil {
			return err
		}
		if have {
			pl.rep.status(d.Digest.Short(), "Already exists")
			continue
		}
		pl.rep.status(d.Digest.Short(), "Pulling fs layer")
		todo = append(todo, i)
	}
	for j, i := range todo {
		if j >= pl.c.cfg.Concurrency {
			pl.rep.status(descs[i].Digest.Short(), "Waiting")
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pl.c.cfg.Concurrency)
	for _, i := range todo {
		g.Go(func() error { return pl.layer(gctx, ep, p, i, descs[i]) })
	}
	return g.Wait()
}

// layer is one layer's journey: HTTP body -> verifier (digest and size
// of the compressed bytes, progress) -> the store's Pull.AddLayer
// (decompress, unpack into tmp/, diffID), stored only when all checked.
func (pl *puller) layer(ctx context.Context, ep *endpoint, p *image.Pull, i int, d image.Descriptor) error {
	id := d.Digest.Short()
	body, err := ep.getBlob(ctx, d.Digest)
	if err != nil {
		return err
	}
	defer body.Close()
	var last time.Time
	v := newVerifier(body, d.Digest, d.Size, func(n int64, done bool) {
		if done {
			pl.rep.send(Progress{ID: id, Status: "Downloading", Current: n, Total: d.Size})
			pl.rep.status(id, "Verifying Checksum")
			pl.rep.status(id, "Download complete")
			return
		}
		// dockerd's pace: at most one update per 100 ms and layer.
		if time.Since(last) >= progressEvery {
			last = time.Now()
			pl.rep.send(Progress{ID: id, Status: "Downloading", Current: n, Total: d.Size})
		}
	})
	if _, err := p.AddLayer(i, v); err != nil {
		if v.err != nil {
			return v.err // the bytes were wrong: that is the news
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	// The layer was unpacked as it came, so what is left when the
	// download ends is its storing: dockerd's Extracting, then done.
	pl.rep.send(Progress{ID: id, Status: "Extracting", Current: d.Size, Total: d.Size})
	pl.rep.status(id, "Pull complete")
	return nil
}

// verifier passes a blob's bytes on while hashing and counting them, and
// at the end of the stream checks them against the descriptor: the
// digest, and the size. A mismatch, a stream cut short or one longer
// than announced is an error, returned in place of io.EOF (and again on
// every later read), so whoever reads the blob to its end learns it
// before anything made of the bytes is kept.
type verifier struct {
	r        io.Reader
	want     image.Digest
	size     int64
	h        hash.Hash
	n        int64
	err      error // sticky: the verdict
	done     bool
	progress func(n int64, done bool)
}

func newVerifier(r io.Reader, want image.Digest, size int64, progress func(int64, bool)) *verifier {
	return &verifier{r: r, want: want, size: size, h: sha256.New(), progress: progress}
}

func (v *verifier) Read(b []byte) (int, error) {
	if v.done {
		if v.err != nil {
			return 0, v.err
		}
		return 0, io.EOF
	}
	n, err := v.r.Read(b)
	if n > 0 {
		v.h.Write(b[:n])
		v.n += int64(n)
		if v.size >= 0 && v.n > v.size {
			v.done = true
			v.err = newError(ErrCorrupt, fmt.Sprintf("filesystem layer verification failed for digest %s: the blob is longer than the %d bytes its descriptor says", v.want, v.size), nil)
			return 0, v.err
		}
		if v.progress != nil {
			v.progress(v.n, false)
		}
	}
	switch {
	case err == io.EOF:
		v.done = true
		if got := image.Digest(fmt.Sprintf("sha256:%x", v.h.Sum(nil))); v.n < v.size {
			v.err = newError(ErrCorrupt, fmt.Sprintf("filesystem layer verification failed for digest %s: the blob ended after %d of its %d bytes", v.want, v.n, v.size), io.ErrUnexpectedEOF)
		} else if got != v.want {
			v.err = newError(ErrCorrupt, fmt.Sprintf("filesystem layer verification failed for digest %s: its content hashes to %s", v.want, got), nil)
		}
		if v.err != nil {
			return n, v.err
		}
		if v.progress != nil {
			v.progress(v.n, true)
		}
		return n, io.EOF
	case err != nil:
		v.done = true
		v.err = newError(err, fmt.Sprintf("filesystem layer %s: reading the blob after %d of %d bytes: %v", v.want, v.n, v.size, err), err)
		return n, v.err
	}
	return n, nil
}
