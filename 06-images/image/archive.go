package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The media types berth writes and reads.
const (
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIConfig      = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayer       = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// The OCI annotations that name an image in an index.
const (
	AnnotationImageName = "io.containerd.image.name"          // docker.io/library/busybox:1.36
	AnnotationRefName   = "org.opencontainers.image.ref.name" // 1.36 (Docker), or a whole reference (skopeo)
)

// Descriptor points to a blob of an OCI layout.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      Digest            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is the machine an image is for.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is an OCI image manifest (or Docker's schema 2, the same JSON).
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Index is an OCI image index: index.json, or a multi-platform list.
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

// ManifestItem is one image in an archive's manifest.json, the file that
// Docker's loaders of every version read first.
type ManifestItem struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
	// Parent is the image this one was committed on, when it is in the
	// archive too: how `docker save` carries the parent chain.
	Parent Digest `json:"Parent,omitempty"`
}

// Save writes the images that refs name, with their ancestors, as one tar
// in the layout of Docker 25 and later: an OCI image layout (oci-layout,
// index.json, blobs/sha256/...) whose layers are uncompressed tars, plus
// manifest.json and repositories, which let Docker 20.10 to 24 load it
// too.
//
// Each image's ancestors (its parent, the parent's parent...) are saved
// as well, untagged, with "Parent" links in manifest.json: they cost only
// their configs (their layers are the image's own lower layers), and
// after a load, `tag ANCESTOR_ID NAME` can go back to any of them. (Docker
// saves only what it is asked for.) An image named by tag is saved with
// that tag; one named by ID, without tags.
//
// The layer tars are copied from the store as they are: nothing is
// re-archived or re-hashed. They come last, after everything that
// describes them (see Load). The output is the same bytes every time.
func (s *Store) Save(w io.Writer, refs []string) error {
	if len(refs) == 0 {
		return errors.New("save: no image given")
	}
	items := map[Digest]*saveItem{}
	for _, ref := range refs {
		id, byTag, err := s.resolve(ref)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if err := s.addSaveItem(items, id); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if byTag {
			r, _ := ParseReference(ref)
			items[id].tags = appendUnique(items[id].tags, r.String())
		}
	}
	order := make([]*saveItem, 0, len(items))
	for _, it := range items {
		order = append(order, it)
	}
	// Parents before children: a parent's layers are a prefix of its
	// child's, so fewer layers first.
	sort.Slice(order, func(i, j int) bool {
		ni, nj := len(order[i].cfg.RootFS.DiffIDs), len(order[j].cfg.RootFS.DiffIDs)
		if ni != nj {
			return ni < nj
		}
		return order[i].id < order[j].id
	})

	// Everything but the layers is small and computed first, so that
	// it can go first in the archive: a loader that reads the archive
	// as a stream (berth's) then knows, when a layer comes, which images
	// it belongs to and where in their stacks, and can store it at once,
	// or skip it without unpacking it if it has it already. Loaders that
	// unpack the archive first (Docker's, skopeo's) do not mind the order.
	var index Index
	index.SchemaVersion, index.MediaType = 2, MediaTypeOCIIndex
	var manifest []ManifestItem
	repos := map[string]map[string]string{}
	type small struct {
		d   Digest
		raw []byte
	}
	var smalls []small
	var layers []Digest
	sizes := map[Digest]int64{}
	for _, it := range order {
		smalls = append(smalls, small{it.id, it.raw})
		m := Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
			Config: Descriptor{MediaType: MediaTypeOCIConfig, Digest: it.id, Size: int64(len(it.raw))}}
		item := ManifestItem{Config: "blobs/sha256/" + it.id.Hex(), RepoTags: it.tags, Layers: []string{}}
		if item.RepoTags == nil {
			item.RepoTags = []string{}
		}
		for _, d := range it.cfg.RootFS.DiffIDs {
			size, ok := sizes[d]
			if !ok {
				fi, err := os.Stat(s.blobPath(d))
				if err != nil {
					return fmt.Errorf("save: image %s: layer %s: %w", it.id.Short(), d.Short(), err)
				}
				size = fi.Size()
				sizes[d] = size
				layers = append(layers, d)
			}
			m.Layers = append(m.Layers, Descriptor{MediaType: MediaTypeOCILayer, Digest: d, Size: size})
			item.Layers = append(item.Layers, "blobs/sha256/"+d.Hex())
		}
		if p, ok := items[it.parent]; ok && it.parent != "" && isPrefix(p.cfg.RootFS.DiffIDs, it.cfg.RootFS.DiffIDs) {
			item.Parent = it.parent
		}
		mraw, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("save: encoding manifest: %w", err)
		}
		mdesc := Descriptor{MediaType: MediaTypeOCIManifest, Digest: FromBytes(mraw), Size: int64(len(mraw))}
		smalls = append(smalls, small{mdesc.Digest, mraw})
		if len(it.tags) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		for _, t := range it.tags {
			r, _ := ParseReference(t)
			d := mdesc
			d.Annotations = map[string]string{AnnotationImageName: r.FullName(), AnnotationRefName: r.Tag}
			index.Manifests = append(index.Manifests, d)
			if repos[r.Name] == nil {
				repos[r.Name] = map[string]string{}
			}
			diffs := it.cfg.RootFS.DiffIDs
			if len(diffs) > 0 {
				repos[r.Name][r.Tag] = diffs[len(diffs)-1].Hex()
			}
		}
		manifest = append(manifest, item)
	}

	aw := archiveWriter{tw: tar.NewWriter(w), written: map[Digest]bool{}}
	aw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	aw.json("manifest.json", manifest)
	aw.json("index.json", index)
	if len(repos) > 0 {
		aw.json("repositories", repos)
	}
	aw.dir("blobs/")
	aw.dir("blobs/sha256/")
	for _, b := range smalls {
		aw.blob(b.d, b.raw)
	}
	for _, d := range layers {
		if err := aw.layer(d, s.blobPath(d), sizes[d]); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	if aw.err != nil {
		return fmt.Errorf("save: %w", aw.err)
	}
	if err := aw.tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

type saveItem struct {
	id     Digest
	raw    []byte
	cfg    Config
	parent Digest
	tags   []string
}

// addSaveItem adds image id and its ancestors in the store to items.
func (s *Store) addSaveItem(items map[Digest]*saveItem, id Digest) error {
	for id != "" {
		if _, ok := items[id]; ok {
			return nil
		}
		rec, err := s.readRecord(id)
		if errors.Is(err, fs.ErrNotExist) {
			if len(items) == 0 {
				return fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			return nil // an ancestor that was removed: the chain ends
		}
		if err != nil {
			return err
		}
		raw, err := s.RawConfig(id)
		if err != nil {
			return err
		}
		cfg, err := ParseConfig(raw)
		if err != nil {
			return fmt.Errorf("image %s: %w", id.Short(), err)
		}
		items[id] = &saveItem{id: id, raw: raw, cfg: cfg, parent: rec.Parent}
		id = rec.Parent
	}
	return nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// isPrefix reports whether a is a prefix of b.
func isPrefix(a, b []Digest) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// archiveWriter writes the entries of an archive: fixed owner, modes and
// times, so that saving the same images twice gives the same bytes. Its
// first error sticks and ends the writing.
type archiveWriter struct {
	tw      *tar.Writer
	written map[Digest]bool
	err     error
}

func (aw *archiveWriter) header(name string, typ byte, size int64) {
	if aw.err != nil {
		return
	}
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	aw.err = aw.tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Size: size, Mode: mode,
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
}

func (aw *archiveWriter) dir(name string) { aw.header(name, tar.TypeDir, 0) }

func (aw *archiveWriter) file(name string, data []byte) {
	aw.header(name, tar.TypeReg, int64(len(data)))
	if aw.err == nil {
		_, aw.err = aw.tw.Write(data)
	}
}

func (aw *archiveWriter) json(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil && aw.err == nil {
		aw.err = err
	}
	aw.file(name, append(data, '\n'))
}

// blob writes data as blobs/sha256/<d> once.
func (aw *archiveWriter) blob(d Digest, data []byte) {
	if aw.written[d] {
		return
	}
	aw.written[d] = true
	aw.file("blobs/sha256/"+d.Hex(), data)
}

// layer copies the layer tar at file, of size bytes, as
// blobs/sha256/<d>.
func (aw *archiveWriter) layer(d Digest, file string, size int64) error {
	if aw.err != nil {
		return aw.err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.Short(), err)
	}
	defer f.Close()
	aw.header("blobs/sha256/"+d.Hex(), tar.TypeReg, size)
	if aw.err == nil {
		var n int64
		n, aw.err = io.Copy(aw.tw, f)
		if aw.err == nil && n != size {
			aw.err = fmt.Errorf("layer %s: read %d bytes of %d", d.Short(), n, size)
		}
	}
	return aw.err
}

// Loaded is an image that Load put in the store.
type Loaded struct {
	ID   Digest
	Tags []string
}

// loadImage is one image of an archive, checked, before its layers are
// read.
type loadImage struct {
	raw    []byte
	id     Digest
	cfg    Config
	layers []layerSource
	chains []Digest // the chainIDs of its layers
	tags   []Reference
	parent Digest
}

// layerSource is where an archive keeps a layer.
type layerSource struct {
	path   string // inside the archive
	digest Digest // the blob's digest, to check, when the archive says it
}

// archivePath checks a path that an archive's JSON gives.
func archivePath(name string) (string, error) {
	p := path.Clean(name)
	if name == "" || path.IsAbs(name) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("archive path %q: %w", name, ErrUnsafePath)
	}
	return p, nil
}

func (a *archive) planManifest() ([]*loadImage, error) {
	data, err := a.read("manifest.json")
	if err != nil {
		return nil, err
	}
	var items []ManifestItem
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var plan []*loadImage
	for i, it := range items {
		raw, err := a.read(it.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: config: %w", i+1, err)
		}
		img, err := newLoadImage(raw)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: %w", i+1, err)
		}
		if len(it.Layers) != len(img.cfg.RootFS.DiffIDs) {
			return nil, fmt.Errorf("manifest.json entry %d: %d layers, but the config has %d diff_ids", i+1, len(it.Layers), len(img.cfg.RootFS.DiffIDs))
		}
		for _, l := range it.Layers {
			p, err := archivePath(l)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: %w", i+1, err)
			}
			img.layers = append(img.layers, layerSource{path: p})
		}
		for _, t := range it.RepoTags {
			if !strings.Contains(path.Base(t), ":") {
				return nil, fmt.Errorf("manifest.json entry %d: RepoTags entry %q is not NAME:TAG", i+1, t)
			}
			ref, err := ParseReference(t)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: %w", i+1, err)
			}
			img.tags = append(img.tags, ref)
		}
		if it.Parent != "" {
			if err := it.Parent.Validate(); err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: Parent: %w", i+1, err)
			}
			img.parent = it.Parent
		}
		plan = append(plan, img)
	}
	return plan, nil
}

func newLoadImage(raw []byte) (*loadImage, error) {
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return nil, fmt.Errorf("image for %s: berth runs Linux images only", cfg.OS)
	}
	return &loadImage{raw: raw, id: FromBytes(raw), cfg: cfg, chains: ChainIDs(cfg.RootFS.DiffIDs)}, nil
}

// planOCI reads index.json and follows it to the manifests, picking this
// machine's platform in a multi-platform index.
func (a *archive) planOCI() ([]*loadImage, error) {
	data, err := a.read("index.json")
	if err != nil {
		return nil, err
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var plan []*loadImage
	byManifest := map[Digest]*loadImage{}
	var walk func(descs []Descriptor, depth int, top bool) error
	walk = func(descs []Descriptor, depth int, top bool) error {
		if depth > 4 {
			return errors.New("index.json: indexes nested too deep")
		}
		for _, d := range pickPlatform(descs) {
			var ref *Reference
			if top {
				ref = refFromAnnotations(d.Annotations)
			}
			switch d.MediaType {
			case MediaTypeOCIIndex, MediaTypeDockerList:
				raw, err := a.blob(d)
				if err != nil {
					return err
				}
				var sub Index
				if err := json.Unmarshal(raw, &sub); err != nil {
					return fmt.Errorf("index %s: %w", d.Digest.Short(), err)
				}
				if ref != nil {
					for i := range sub.Manifests {
						if sub.Manifests[i].Annotations == nil {
							sub.Manifests[i].Annotations = map[string]string{}
						}
						sub.Manifests[i].Annotations[AnnotationImageName] = ref.FullName()
					}
				}
				if err := walk(sub.Manifests, depth+1, true); err != nil {
					return err
				}
			case MediaTypeOCIManifest, MediaTypeDockerManifest:
				img := byManifest[d.Digest]
				if img == nil {
					if img, err = a.ociImage(d); err != nil {
						return err
					}
					byManifest[d.Digest] = img
					plan = append(plan, img)
				}
				if ref != nil {
					img.tags = append(img.tags, *ref)
				}
			default:
				// Not an image (an attestation, a signature...).
			}
		}
		return nil
	}
	if err := walk(idx.Manifests, 0, true); err != nil {
		return nil, err
	}
	return plan, nil
}

// pickPlatform keeps the descriptors for this machine: those without a
// platform, and, among those with one, linux on this architecture. (A
// list for other machines only gives nothing.)
func pickPlatform(descs []Descriptor) []Descriptor {
	var keep []Descriptor
	for _, d := range descs {
		if d.Platform == nil || d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			keep = append(keep, d)
		}
	}
	return keep
}

// refFromAnnotations finds the image's name in an index entry: Docker and
// containerd write the whole reference in io.containerd.image.name and the
// tag alone in ref.name; skopeo writes a whole reference in ref.name.
func refFromAnnotations(ann map[string]string) *Reference {
	for _, key := range []string{AnnotationImageName, AnnotationRefName} {
		v := ann[key]
		if v == "" || !strings.Contains(path.Base(v), ":") {
			continue
		}
		if r, err := ParseReference(v); err == nil {
			return &r
		}
	}
	return nil
}

// blob reads and checks a JSON blob of an OCI layout.
func (a *archive) blob(d Descriptor) ([]byte, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, err
	}
	raw, err := a.read("blobs/sha256/" + d.Digest.Hex())
	if err != nil {
		return nil, err
	}
	if got := FromBytes(raw); got != d.Digest {
		return nil, fmt.Errorf("blob %s: content hashes to %s", d.Digest, got)
	}
	return raw, nil
}

func (a *archive) ociImage(d Descriptor) (*loadImage, error) {
	raw, err := a.blob(d)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest.Short(), err)
	}
	craw, err := a.blob(m.Config)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: config: %w", d.Digest.Short(), err)
	}
	img, err := newLoadImage(craw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest.Short(), err)
	}
	if len(m.Layers) != len(img.cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("manifest %s: %d layers, but the config has %d diff_ids", d.Digest.Short(), len(m.Layers), len(img.cfg.RootFS.DiffIDs))
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest %s: layer: %w", d.Digest.Short(), err)
		}
		if !strings.Contains(l.MediaType, "tar") {
			return nil, fmt.Errorf("manifest %s: layer %s has media type %q, not a tar", d.Digest.Short(), l.Digest.Short(), l.MediaType)
		}
		img.layers = append(img.layers, layerSource{path: "blobs/sha256/" + l.Digest.Hex(), digest: l.Digest})
	}
	return img, nil
}
