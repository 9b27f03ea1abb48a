package registrytest

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Compression is how an image's layers travel.
type Compression int

const (
	Gzip Compression = iota
	Zstd
	Uncompressed
)

func (c Compression) String() string {
	return [...]string{"gzip", "zstd", "uncompressed"}[c]
}

// Kind is the manifest format.
type Kind int

const (
	// Docker: application/vnd.docker.distribution.manifest.v2+json, and
	// manifest lists for indexes.
	Docker Kind = iota
	// OCI: application/vnd.oci.image.manifest.v1+json, and OCI indexes.
	OCI
)

func (k Kind) String() string { return [...]string{"docker", "oci"}[k] }

// ImageOptions describe an image to make.
type ImageOptions struct {
	// Layers are the sizes in bytes of the file content of each layer
	// (above the busybox one), bottom first. A layer holds files of at
	// most 16 MiB of pseudo-random bytes, so it does not compress.
	Layers []int64
	// Seed makes the content: the same options give the same digests,
	// run after run. Images with different seeds share no layer.
	Seed uint64
	// Busybox puts the course's busybox root filesystem
	// (labtest.BusyboxRootfs + ".tar") as the bottom layer, so that the
	// image runs (Cmd ["/bin/sh"]).
	Busybox     bool
	Compression Compression
	Kind        Kind
	// Platform is "os/arch[/variant]"; "" means linux/amd64.
	Platform string
	// Cmd is the config's Cmd; nil means ["/bin/sh"] with Busybox.
	Cmd []string
	// Labels go into the config.
	Labels map[string]string
}

// epoch is every generated file's mtime: digests must not depend on when
// the test ran.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxFile = 16 << 20

// layerTar writes a layer's tar: directory "data-<seed>-<n>/" and files
// "f0", "f1", ... of at most 16 MiB whose bytes come from a ChaCha8
// stream seeded by (seed, n).
func layerTar(w io.Writer, seed uint64, n int, size int64) error {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(n))
	copy(key[16:], "berth-registrytest")
	src := rand.NewChaCha8(key)
	tw := tar.NewWriter(w)
	dir := fmt.Sprintf("data-%d-%d/", seed, n)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	for i := 0; size > 0 || i == 0; i++ {
		sz := min(size, maxFile)
		size -= sz
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%sf%d", dir, i), Mode: 0o644, Size: sz, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, src, sz); err != nil {
			return err
		}
	}
	return tw.Close()
}

// opener regenerates a layer's tar on each call, so that a 200 MB image
// costs no memory and no disk.
func opener(seed uint64, n int, size int64) tarball.Opener {
	return func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(layerTar(pw, seed, n, size)) }()
		return pr, nil
	}
}

// uncompressedLayer is a layer whose blob is its tar: digest = diffID.
// go-containerregistry's tarball layers always compress.
type uncompressedLayer struct {
	open   tarball.Opener
	digest v1.Hash
	size   int64
	mt     types.MediaType
}

func newUncompressedLayer(open tarball.Opener, mt types.MediaType) (*uncompressedLayer, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return nil, err
	}
	d, err := v1.NewHash(fmt.Sprintf("sha256:%x", h.Sum(nil)))
	if err != nil {
		return nil, err
	}
	return &uncompressedLayer{open: open, digest: d, size: n, mt: mt}, nil
}

func (l *uncompressedLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *uncompressedLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *uncompressedLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *uncompressedLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *uncompressedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *uncompressedLayer) MediaType() (types.MediaType, error)  { return l.mt, nil }

// makeLayer turns a tar opener into a layer of the chosen compression,
// with the media type the manifest kind uses for it.
func makeLayer(open tarball.Opener, c Compression, k Kind) (v1.Layer, error) {
	switch c {
	case Gzip:
		mt := types.DockerLayer
		if k == OCI {
			mt = types.OCILayer
		}
		return tarball.LayerFromOpener(open, tarball.WithMediaType(mt))
	case Zstd:
		// There is no Docker media type for zstd: dockerd and buildx
		// write the OCI one, in either kind of manifest.
		return tarball.LayerFromOpener(open, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	case Uncompressed:
		mt := types.DockerUncompressedLayer
		if k == OCI {
			mt = types.OCIUncompressedLayer
		}
		return newUncompressedLayer(open, mt)
	}
	return nil, fmt.Errorf("unknown compression %d", c)
}

func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		s = "linux/amd64"
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("platform %q is not os/arch[/variant]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// NewImage makes the image opts describe. It fails t on error.
func NewImage(t testing.TB, opts ImageOptions) v1.Image {
	t.Helper()
	img, err := newImage(t, opts)
	if err != nil {
		t.Fatalf("registrytest: making an image: %v", err)
	}
	return img
}

func newImage(t testing.TB, opts ImageOptions) (v1.Image, error) {
	plat, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	var layers []v1.Layer
	if opts.Busybox {
		file := busyboxTar(t)
		open := func() (io.ReadCloser, error) { return os.Open(file) }
		l, err := makeLayer(open, opts.Compression, opts.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		layers = append(layers, l)
	}
	for n, size := range opts.Layers {
		l, err := makeLayer(opener(opts.Seed, n, size), opts.Compression, opts.Kind)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", n, err)
		}
		layers = append(layers, l)
	}
	img := empty.Image
	if opts.Kind == OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	for _, l := range layers {
		// One history entry per layer: dockerd checks that the
		// non-empty history entries match the layers.
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: epoch}, CreatedBy: "registrytest",
		}})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = opts.Cmd
	if cf.Config.Cmd == nil && opts.Busybox {
		cf.Config.Cmd = []string{"/bin/sh"}
	}
	cf.Config.Labels = opts.Labels
	return mutate.ConfigFile(img, cf)
}

// Platforms are the entries of NewIndex's index, in order.
var Platforms = []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}

// NewIndex makes a multi-platform index (an OCI index, or a Docker
// manifest list for Kind Docker) of one image per Platforms entry, each
// with a config of its own. opts is every image's (its Platform is
// replaced); each image has one more layer holding /platform with its
// platform's name, so the images differ in content too. The linux/amd64
// image runs when opts.Busybox.
func NewIndex(t testing.TB, opts ImageOptions) v1.ImageIndex {
	t.Helper()
	idx := v1.ImageIndex(empty.Index)
	idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	if opts.Kind == OCI {
		idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	}
	for _, p := range Platforms {
		o := opts
		o.Platform = p
		img, err := newImage(t, o)
		if err != nil {
			t.Fatalf("registrytest: making the %s image: %v", p, err)
		}
		l, err := makeLayer(fileTar("platform", []byte(p+"\n")), opts.Compression, opts.Kind)
		if err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "registrytest " + p}}); err != nil {
			t.Fatalf("registrytest: %v", err)
		}
		plat, _ := parsePlatform(p)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	return idx
}

// fileTar is a tar of one file.
func fileTar(name string, data []byte) tarball.Opener {
	return func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch})
			if err == nil {
				_, err = tw.Write(data)
			}
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
}

// ForeignURL is the URL a foreign layer names. Nothing listens there:
// a client must refuse the layer, not fetch it.
const ForeignURL = "http://127.0.0.1:9/registrytest/foreign.tar.gz"

// WithForeignLayer returns img with a foreign layer on top: media type
// application/vnd.docker.image.rootfs.foreign.diff.tar.gzip and urls
// [ForeignURL]. Pushing it does not upload the layer (registries keep
// only distributable blobs), as with Windows base images.
func WithForeignLayer(t testing.TB, img v1.Image) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(fileTar("foreign", []byte("not distributable\n")), tarball.WithMediaType(types.DockerForeignLayer))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.DockerForeignLayer, URLs: []string{ForeignURL},
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "registrytest foreign"}})
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return img
}

// Push writes img to ref in r ("team/app:1": r.Ref is added) with
// go-containerregistry, and returns the manifest's digest.
func (r *Registry) Push(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.ParseReference(r.Ref(ref))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	if err := remote.Write(tag, img, r.RemoteOptions(context.Background())...); err != nil {
		t.Fatalf("registrytest: pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return d.String()
}

// PushIndex writes idx (and its images) to ref, and returns its digest.
func (r *Registry) PushIndex(t testing.TB, ref string, idx v1.ImageIndex) string {
	t.Helper()
	tag, err := name.ParseReference(r.Ref(ref))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	if err := remote.WriteIndex(tag, idx, r.RemoteOptions(context.Background())...); err != nil {
		t.Fatalf("registrytest: pushing %s: %v", tag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return d.String()
}

// Pull reads ref back from r with go-containerregistry, as a check that
// is independent of berth's client.
func (r *Registry) Pull(t testing.TB, ref string) v1.Image {
	t.Helper()
	tag, err := name.ParseReference(r.Ref(ref))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	img, err := remote.Image(tag, r.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatalf("registrytest: pulling %s: %v", tag, err)
	}
	return img
}

func busyboxTar(t testing.TB) string { return labtest.BusyboxRootfs(t) + ".tar" }
