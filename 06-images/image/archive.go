package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
// re-archived or re-hashed. The output is the same bytes every time.
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

	aw := archiveWriter{tw: tar.NewWriter(w), written: map[Digest]bool{}}
	aw.dir("blobs/")
	aw.dir("blobs/sha256/")
	var index Index
	index.SchemaVersion, index.MediaType = 2, MediaTypeOCIIndex
	var manifest []ManifestItem
	repos := map[string]map[string]string{}
	for _, it := range order {
		aw.blob(it.id, it.raw)
		m := Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
			Config: Descriptor{MediaType: MediaTypeOCIConfig, Digest: it.id, Size: int64(len(it.raw))}}
		item := ManifestItem{Config: "blobs/sha256/" + it.id.Hex(), RepoTags: it.tags, Layers: []string{}}
		if item.RepoTags == nil {
			item.RepoTags = []string{}
		}
		for _, d := range it.cfg.RootFS.DiffIDs {
			size, err := aw.layer(d, s.blobPath(d))
			if err != nil {
				return fmt.Errorf("save: image %s: %w", it.id.Short(), err)
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
		aw.blob(mdesc.Digest, mraw)
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
	aw.json("index.json", index)
	aw.json("manifest.json", manifest)
	aw.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	if len(repos) > 0 {
		aw.json("repositories", repos)
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

// layer copies the layer tar at file as blobs/sha256/<d> once, and
// returns its size.
func (aw *archiveWriter) layer(d Digest, file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", d.Short(), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", d.Short(), err)
	}
	if aw.written[d] {
		return fi.Size(), nil
	}
	aw.written[d] = true
	aw.header("blobs/sha256/"+d.Hex(), tar.TypeReg, fi.Size())
	if aw.err == nil {
		var n int64
		n, aw.err = io.Copy(aw.tw, f)
		if aw.err == nil && n != fi.Size() {
			aw.err = fmt.Errorf("layer %s: read %d bytes of %d", d.Short(), n, fi.Size())
		}
	}
	return fi.Size(), aw.err
}

// Loaded is an image that Load put in the store.
type Loaded struct {
	ID   Digest
	Tags []string
}

// Load reads an image archive into the store: what Save writes (Docker
// 25+), what `docker save` of Docker 24 and earlier writes (<id>/layer.tar,
// manifest.json), and a plain OCI image layout (skopeo, umoci, buildkit),
// whole or gzip/bzip2-compressed. Layers may be compressed too. Every layer
// is checked against its diffID (and, in an OCI layout, every blob
// against its descriptor's digest) before an image that uses it is
// stored; a layer the store already has is not read at all.
//
// The archive is first unpacked into the store's tmp directory, with the
// same path rules as a layer: nothing in it can be written outside. If
// anything is wrong with the archive, no image is added: the layers that
// were added are collected again.
func (s *Store) Load(r io.Reader) ([]Loaded, error) {
	plain, _, err := Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer plain.Close()
	work := s.tempName("load-")
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.RemoveAll(work)
	if err := extract(plain, work, false); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	root, err := os.OpenRoot(work)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer root.Close()

	a := &archive{root: root, dir: work}
	var plan []*loadImage
	switch {
	case a.exists("manifest.json"):
		plan, err = a.planManifest()
	case a.exists("index.json"):
		plan, err = a.planOCI()
	case a.exists("repositories"):
		err = errors.New("archive has only the pre-Docker-1.10 layout (repositories and <id>/json, no manifest.json): not supported")
	default:
		err = errors.New("not an image archive: no manifest.json, no index.json")
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(plan) == 0 {
		return nil, errors.New("load: the archive holds no image")
	}

	sess, err := s.newSession()
	if err != nil {
		return nil, err
	}
	defer sess.end()
	loaded, err := s.load(a, plan, sess)
	if err != nil {
		// Layers this load added and no image took go now.
		sess.end()
		if unlock, lerr := s.lock(); lerr == nil {
			_ = s.gc()
			unlock()
		}
		return nil, fmt.Errorf("load: %w", err)
	}
	return loaded, nil
}

// loadImage is one image of an archive, checked, before its layers are
// read.
type loadImage struct {
	raw    []byte
	id     Digest
	cfg    Config
	layers []layerSource
	tags   []Reference
	parent Digest
}

// layerSource is where an archive keeps a layer.
type layerSource struct {
	path   string // inside the archive
	digest Digest // the blob's digest, to check, when the archive says it
}

type archive struct {
	root *os.Root
	dir  string
}

func (a *archive) exists(name string) bool {
	_, err := a.root.Lstat(name)
	return err == nil
}

// maxJSON bounds the JSON files an archive may hold: configs, manifests
// and indexes are kilobytes; a huge one is an attack on memory.
const maxJSON = 32 << 20

// read reads a (JSON) file of the archive. Paths come from the archive
// itself, so they are resolved inside it: os.Root follows relative
// symlinks (Docker's layer.tar links) but never out of it.
func (a *archive) read(name string) ([]byte, error) {
	name, err := archivePath(name)
	if err != nil {
		return nil, err
	}
	f, err := a.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", unsafeIfEscape(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %w", name, err)
	}
	if len(data) > maxJSON {
		return nil, fmt.Errorf("archive: %s: larger than %d bytes", name, maxJSON)
	}
	return data, nil
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
	return &loadImage{raw: raw, id: FromBytes(raw), cfg: cfg}, nil
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

// load adds the planned images' layers, then the images.
func (s *Store) load(a *archive, plan []*loadImage, sess *session) ([]Loaded, error) {
	for _, img := range plan {
		diffs := img.cfg.RootFS.DiffIDs
		for i, chain := range ChainIDs(diffs) {
			if s.hasLayer(chain) {
				if err := s.protectExisting(sess, chain); err != nil {
					return nil, err
				}
				continue
			}
			parent := Digest("")
			if i > 0 {
				parent = ChainIDs(diffs[:i])[i-1]
			}
			if err := s.loadLayer(a, img.layers[i], ingest{Parent: parent, Want: diffs[i], Session: sess}); err != nil {
				return nil, fmt.Errorf("image %s: layer %d (%s): %w", img.id.Short(), i+1, img.layers[i].path, err)
			}
		}
	}

	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	inArchive := map[Digest]*loadImage{}
	for _, img := range plan {
		inArchive[img.id] = img
	}
	var loaded []Loaded
	for _, img := range plan {
		// Docker's rule: a parent link is kept if the parent is an image
		// here and its layers are the first layers of the child.
		parent := Digest("")
		if p, ok := inArchive[img.parent]; ok && img.parent != img.id && isPrefix(p.cfg.RootFS.DiffIDs, img.cfg.RootFS.DiffIDs) {
			parent = img.parent
		}
		id, err := s.addImage(img.raw, img.cfg, parent, img.tags)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.id.Short(), err)
		}
		l := Loaded{ID: id}
		for _, t := range img.tags {
			l.Tags = append(l.Tags, t.String())
		}
		loaded = append(loaded, l)
	}
	return loaded, nil
}

func (s *Store) protectExisting(sess *session, chain Digest) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return sess.protect(chain)
}

// loadLayer reads one layer of the archive into the store.
func (s *Store) loadLayer(a *archive, src layerSource, in ingest) error {
	f, err := a.root.Open(src.path)
	if err != nil {
		return unsafeIfEscape(err)
	}
	defer f.Close()
	var check hash.Hash
	var r io.Reader = f
	if src.digest != "" {
		check = sha256.New()
		r = io.TeeReader(f, check)
	}
	plain, c, err := Decompress(r)
	if err != nil {
		return err
	}
	defer plain.Close()
	if c == Uncompressed && (check == nil || src.digest == in.Want) {
		// The file is the layer tar itself: after checking, it can
		// become the blob by a rename, if it is a plain file of the
		// unpacked archive (not reached through a symlink).
		if same, _ := sameFile(f, filepath.Join(a.dir, src.path)); same {
			in.BlobFrom = filepath.Join(a.dir, src.path)
		}
	}
	if _, err := s.addLayer(plain, in); err != nil {
		return err
	}
	if check != nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		if got := fromHash(check); got != src.digest {
			return fmt.Errorf("blob content hashes to %s, the manifest says %s", got, src.digest)
		}
	}
	return nil
}

// sameFile reports whether the open file f is the file at name, reached
// without following any symlink.
func sameFile(f *os.File, name string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(name, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino && b.Mode&unix.S_IFMT == unix.S_IFREG, nil
}
