package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/06-images/image"
)

// pushGzipLevel is the compression a push gives layers. BestSpeed:
// klauspost's gzip compresses a layer several times faster at level 1
// than at the default level 6, for output a few percent larger (doc.go
// has the measures); on two cores the upload waits for the compressor,
// so speed wins.
const pushGzipLevel = gzip.BestSpeed

// maxMountCandidates is how many other repositories a push tries to
// mount a layer from, as dockerd.
const maxMountCandidates = 3

// Push sends the image named ref (NAME[:TAG], a tag in the store) to its
// registry: layers (skipping those the registry has, mounting those it
// has in another repository), config, manifest last.
func (c *Client) Push(ctx context.Context, s *image.Store, ref string, opts PushOptions) ([]PushResult, error) {
	named, err := parseNamed(ref)
	if err != nil {
		return nil, err
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, newError(ErrInvalidReference, "cannot push a digest reference: "+ref, nil)
	}
	rep := &reporter{fn: opts.Progress}
	var tags []string
	if opts.AllTags {
		if !reference.IsNameOnly(named) {
			return nil, newError(ErrInvalidReference, "tag can't be used with --all-tags/-a", nil)
		}
		if tags, err = repoTags(s, named); err != nil {
			return nil, err
		}
		if len(tags) == 0 {
			return nil, newError(image.ErrNotFound, "An image does not exist locally with the tag: "+reference.FamiliarName(named), image.ErrNotFound)
		}
	} else {
		tagged := reference.TagNameOnly(named).(reference.Tagged)
		tags = []string{tagged.Tag()}
	}
	// Every image first: a tag that is missing fails the push before
	// anything is sent.
	imgs := make([]image.Image, len(tags))
	for i, t := range tags {
		local := reference.FamiliarName(named) + ":" + t
		img, err := s.Get(local)
		if err != nil {
			return nil, newError(image.ErrNotFound, "An image does not exist locally with the tag: "+local, err)
		}
		imgs[i] = img
	}
	rep.status("", "The push refers to repository ["+named.Name()+"]")

	// Mount sources: other repositories of the same registry that have
	// some layer, asked for "pull" in the same token.
	var from []string
	seen := map[string]bool{}
	for _, img := range imgs {
		for _, d := range img.Config.RootFS.DiffIDs {
			for _, src := range mountCandidates(s, d, named) {
				if !seen[src.Repository] {
					seen[src.Repository] = true
					from = append(from, pathOf(src.Repository))
				}
			}
		}
	}
	ep, err := c.connect(ctx, c.endpoints(named, false)[0], reference.Path(named), opts.Auth, []string{"pull", "push"}, from)
	if err != nil {
		return nil, pushError(err)
	}
	ps := &pusher{c: c, s: s, ep: ep, named: named, rep: rep, done: map[image.Digest]*layerPush{}}
	var results []PushResult
	for i, t := range tags {
		res, err := ps.pushOne(ctx, imgs[i], t)
		if err != nil {
			return results, pushError(err)
		}
		results = append(results, res)
	}
	return results, nil
}

func pushError(err error) error {
	if isUnauthorized(err) {
		return newError(ErrUnauthorized, registryMessage(err), err)
	}
	return err
}

// repoTags lists the tags the store has for the repository named.
func repoTags(s *image.Store, named reference.Named) ([]string, error) {
	list, err := s.Images()
	if err != nil {
		return nil, err
	}
	want := reference.FamiliarName(named)
	var tags []string
	for _, img := range list {
		for _, t := range img.Tags {
			if i := strings.LastIndex(t, ":"); i > 0 && t[:i] == want {
				tags = append(tags, t[i+1:])
			}
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// pathOf is the repository path of a full name: "127.0.0.1:5000/a/b" is
// "a/b", "docker.io/library/busybox" is "library/busybox".
func pathOf(full string) string {
	n, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		return full
	}
	return reference.Path(n)
}

// reusable says whether a pushed or pulled blob can stand for a layer in
// the Docker schema 2 manifest a push writes: a gzip tar.
func reusable(src image.BlobSource) bool {
	return src.MediaType == mediaDockerLayer || src.MediaType == mediaOCILayerGzip
}

// mountCandidates are the layer's blobs in other repositories of the
// registry named is in.
func mountCandidates(s *image.Store, diffID image.Digest, named reference.Named) []image.BlobSource {
	srcs, _ := s.BlobSources(diffID)
	var out []image.BlobSource
	for _, src := range srcs {
		n, err := reference.ParseNormalizedNamed(src.Repository)
		if err != nil || !reusable(src) || reference.Domain(n) != reference.Domain(named) || n.Name() == named.Name() {
			continue
		}
		out = append(out, src)
		if len(out) == maxMountCandidates {
			break
		}
	}
	return out
}

// pusher is one Push.
type pusher struct {
	c     *Client
	s     *image.Store
	ep    *endpoint
	named reference.Named
	rep   *reporter

	mu   sync.Mutex
	done map[image.Digest]*layerPush // by diffID: a layer is sent once per push
}

// layerPush is one layer's upload, shared by the tags that have it.
type layerPush struct {
	once sync.Once
	desc image.Descriptor
	err  error
}

func (ps *pusher) pushOne(ctx context.Context, img image.Image, tag string) (PushResult, error) {
	diffs := img.Config.RootFS.DiffIDs
	for _, d := range diffs {
		ps.rep.status(d.Short(), "Preparing")
	}
	for i, d := range diffs {
		if i >= ps.c.cfg.Concurrency {
			ps.rep.status(d.Short(), "Waiting")
		}
	}
	descs := make([]image.Descriptor, len(diffs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ps.c.cfg.Concurrency)
	for i, d := range diffs {
		g.Go(func() error {
			ps.mu.Lock()
			lp := ps.done[d]
			if lp == nil {
				lp = &layerPush{}
				ps.done[d] = lp
			}
			ps.mu.Unlock()
			lp.once.Do(func() { lp.desc, lp.err = ps.layer(gctx, d) })
			descs[i] = lp.desc
			return lp.err
		})
	}
	if err := g.Wait(); err != nil {
		return PushResult{}, err
	}

	raw, err := ps.s.RawConfig(img.ID)
	if err != nil {
		return PushResult{}, err
	}
	if err := ps.pushBlob(ctx, img.ID, raw); err != nil {
		return PushResult{}, fmt.Errorf("config %s: %w", img.ID, err)
	}
	m := schema2{
		SchemaVersion: 2,
		MediaType:     image.MediaTypeDockerManifest,
		Config:        schema2Desc{MediaType: mediaDockerConfig, Size: int64(len(raw)), Digest: img.ID},
	}
	for _, d := range descs {
		m.Layers = append(m.Layers, schema2Desc{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest})
	}
	// dockerd (distribution's schema2 package) writes its manifests
	// indented by three spaces; berth writes the same form.
	manifest, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return PushResult{}, fmt.Errorf("encoding manifest: %w", err)
	}
	if err := remote.Put(ps.ep.repo.Tag(tag), rawManifest(manifest), remote.WithTransport(ps.ep.rt), remote.WithContext(ctx)); err != nil {
		return PushResult{}, fmt.Errorf("manifest %s:%s: %s", reference.FamiliarName(ps.named), tag, registryMessage(err))
	}
	digest := image.FromBytes(manifest)
	res := PushResult{Tag: tag, Digest: string(digest), Size: int64(len(manifest))}
	ps.rep.status("", fmt.Sprintf("%s: digest: %s size: %d", tag, digest, len(manifest)))
	ps.rep.send(Progress{Aux: &res})
	// The manifest's digest names the image in this repository now.
	if err := ps.s.AddRepoDigest(img.ID, image.RepoDigest{Name: reference.FamiliarName(ps.named), Digest: digest}); err != nil {
		return res, err
	}
	return res, nil
}

// schema2 is Docker's image manifest, schema 2, in its field order.
type schema2 struct {
	SchemaVersion int           `json:"schemaVersion"`
	MediaType     string        `json:"mediaType"`
	Config        schema2Desc   `json:"config"`
	Layers        []schema2Desc `json:"layers"`
}

type schema2Desc struct {
	MediaType string       `json:"mediaType"`
	Size      int64        `json:"size"`
	Digest    image.Digest `json:"digest"`
}

// rawManifest is a manifest for the library's Put, which sends it with
// its media type as Content-Type.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error) { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) {
	return types.DockerManifestSchema2, nil
}

// layer makes sure the registry has the layer diffID in the target
// repository, as cheaply as it can:
//
//  1. the store knows its blob is in this repository: HEAD it
//     ("Layer already exists");
//  2. the store knows its blob in another repository of this registry:
//     POST .../blobs/uploads/?mount=DIGEST&from=REPO; 201 is a mount
//     ("Mounted from REPO"), 202 an upload session that step 3 uses;
//  3. upload: POST .../blobs/uploads/ opens a session (202, Location),
//     PATCH Location sends the bytes, gzip-compressed as they are read
//     from the store, PUT Location?digest=D closes it (201): the digest
//     is known only at the end ("Pushed").
func (ps *pusher) layer(ctx context.Context, diffID image.Digest) (image.Descriptor, error) {
	id := diffID.Short()
	srcs, _ := ps.s.BlobSources(diffID)
	for _, src := range srcs {
		if src.Repository != ps.named.Name() || !reusable(src) {
			continue
		}
		ok, err := ps.exists(ctx, src.Digest)
		if err != nil {
			return image.Descriptor{}, err
		}
		if ok {
			ps.rep.status(id, "Layer already exists")
			return image.Descriptor{MediaType: mediaDockerLayer, Size: src.Size, Digest: src.Digest}, nil
		}
	}
	location := ""
	for _, src := range mountCandidates(ps.s, diffID, ps.named) {
		from := pathOf(src.Repository)
		q := url.Values{"mount": {string(src.Digest)}, "from": {from}}
		resp, err := ps.ep.do(ctx, http.MethodPost, ps.ep.url("blobs", "uploads/")+"?"+q.Encode(), nil)
		if err != nil {
			return image.Descriptor{}, fmt.Errorf("layer %s: mount from %s: %w", diffID, from, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			ps.rep.status(id, "Mounted from "+from)
			src.Repository = ps.named.Name()
			_ = ps.s.AddBlobSources(diffID, src)
			return image.Descriptor{MediaType: mediaDockerLayer, Size: src.Size, Digest: src.Digest}, nil
		case http.StatusAccepted:
			// Not mounted (the source is gone, or we may not read
			// it): the registry opened an upload session instead.
			if location, err = resolveLocation(resp); err != nil {
				return image.Descriptor{}, err
			}
		}
		if location != "" {
			break
		}
	}

	f, err := ps.s.OpenLayer(diffID)
	if err != nil {
		return image.Descriptor{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("layer %s: %w", diffID, err)
	}
	total := fi.Size()
	var last time.Time
	src := &countingReader{r: f, fn: func(n int64) {
		if time.Since(last) >= progressEvery || n == total {
			last = time.Now()
			ps.rep.send(Progress{ID: id, Status: "Pushing", Current: n, Total: total})
		}
	}}
	desc, err := ps.upload(ctx, location, src, true)
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("layer %s: %w", diffID, err)
	}
	ps.rep.status(id, "Pushed")
	_ = ps.s.AddBlobSources(diffID, image.BlobSource{Digest: desc.Digest, MediaType: mediaDockerLayer, Size: desc.Size, Repository: ps.named.Name()})
	return desc, nil
}

// pushBlob sends a small blob (the config) unless the registry has it.
func (ps *pusher) pushBlob(ctx context.Context, d image.Digest, data []byte) error {
	ok, err := ps.exists(ctx, d)
	if err != nil || ok {
		return err
	}
	desc, err := ps.upload(ctx, "", bytes.NewReader(data), false)
	if err != nil {
		return err
	}
	if desc.Digest != d {
		return fmt.Errorf("uploaded %s, meant %s", desc.Digest, d)
	}
	return nil
}

// exists asks HEAD /v2/<name>/blobs/<digest>.
func (ps *pusher) exists(ctx context.Context, d image.Digest) (bool, error) {
	resp, err := ps.ep.do(ctx, http.MethodHead, ps.ep.url("blobs", string(d)), nil)
	if err != nil {
		return false, fmt.Errorf("blob %s: %w", d, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, transport.CheckError(resp, http.StatusOK)
}

// upload sends r as one blob through an upload session (location, or a
// new one): PATCH with the bytes (compressed on the way if gz), then
// PUT ?digest=. It returns the blob's descriptor.
func (ps *pusher) upload(ctx context.Context, location string, r io.Reader, gz bool) (image.Descriptor, error) {
	if location == "" {
		resp, err := ps.ep.do(ctx, http.MethodPost, ps.ep.url("blobs", "uploads/"), nil)
		if err != nil {
			return image.Descriptor{}, fmt.Errorf("starting an upload: %w", err)
		}
		err = transport.CheckError(resp, http.StatusAccepted)
		resp.Body.Close()
		if err != nil {
			return image.Descriptor{}, err
		}
		if location, err = resolveLocation(resp); err != nil {
			return image.Descriptor{}, err
		}
	}
	if !gz {
		// A small blob goes whole, in the PUT that closes the session.
		h := sha256.New()
		data, err := io.ReadAll(io.TeeReader(r, h))
		if err != nil {
			return image.Descriptor{}, err
		}
		d := image.Digest(fmt.Sprintf("sha256:%x", h.Sum(nil)))
		if err := ps.closeUpload(ctx, location, d, data); err != nil {
			return image.Descriptor{}, err
		}
		return image.Descriptor{MediaType: mediaDockerConfig, Size: int64(len(data)), Digest: d}, nil
	}
	body := r
	var stop func()
	{
		pr, pw := io.Pipe()
		go func() {
			zw, err := gzip.NewWriterLevel(pw, pushGzipLevel)
			if err == nil {
				_, err = io.Copy(zw, r)
				if cerr := zw.Close(); err == nil {
					err = cerr
				}
			}
			pw.CloseWithError(err)
		}()
		body = pr
		stop = func() { pr.CloseWithError(context.Canceled) }
	}
	h := sha256.New()
	cnt := &countingReader{r: io.TeeReader(body, h)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, location, cnt)
	if err != nil {
		return image.Descriptor{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := ps.ep.client.Do(req)
	if stop != nil {
		stop()
	}
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("sending the blob: %w", err)
	}
	err = transport.CheckError(resp, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	resp.Body.Close()
	if err != nil {
		return image.Descriptor{}, err
	}
	if location, err = resolveLocation(resp); err != nil {
		return image.Descriptor{}, err
	}
	digest := image.Digest(fmt.Sprintf("sha256:%x", h.Sum(nil)))
	if err := ps.closeUpload(ctx, location, digest, nil); err != nil {
		return image.Descriptor{}, err
	}
	return image.Descriptor{MediaType: mediaDockerLayer, Size: cnt.n, Digest: digest}, nil
}

// closeUpload ends an upload session: PUT Location?digest=D, with the
// last bytes (or all of them) as body. The registry checks the digest
// against what it received: 201 Created.
func (ps *pusher) closeUpload(ctx context.Context, location string, d image.Digest, data []byte) error {
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("upload location %q: %w", location, err)
	}
	q := u.Query()
	q.Set("digest", string(d))
	u.RawQuery = q.Encode()
	put, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	put.Header.Set("Content-Type", "application/octet-stream")
	resp, err := ps.ep.client.Do(put)
	if err != nil {
		return fmt.Errorf("closing the upload: %w", err)
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated)
}

// resolveLocation reads an upload session's Location, which may be
// relative to the request.
func resolveLocation(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("registry answered %s without a Location", resp.Status)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("upload location %q: %w", loc, err)
	}
	return u.String(), nil
}

// countingReader counts what it passes on, and tells fn.
type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.fn != nil && n > 0 {
		c.fn(c.n)
	}
	return n, err
}
