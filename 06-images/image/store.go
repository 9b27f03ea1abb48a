package image

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// Errors that callers can test with errors.Is.
var (
	ErrNotFound = errors.New("no such image")
	ErrConflict = errors.New("conflict")
)

// Store is a content-addressed image store in a directory, <root>/images
// (see the package documentation for its layout). Any number of Stores,
// in any number of processes, may use the same directory: changes are
// made under a lock file, and every file is put in place with a rename,
// so a reader sees an image entirely or not at all.
type Store struct {
	dir string
}

// The store's layout.
const (
	blobsDir     = "blobs/sha256" // configs and layer tars, by digest
	layersDir    = "layers"       // unpacked layers, by chainID
	recordsDir   = "meta"         // one record per image: it exists
	leasesDir    = "leases"       // what containers use
	tmpDir       = "tmp"          // work in progress, same filesystem
	distDir      = "distribution" // where layers' compressed blobs are in registries
	reposFile    = "repositories.json"
	lockFile     = "lock"
	layerDiffDir = "diff"       // in a layer: its unpacked files
	layerRecord  = "layer.json" // in a layer: what it is
)

// Open opens the store in dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("image store %s: %w", dir, err)
		}
		dir = abs
	}
	// 0711: a container whose root is an unprivileged host uid (a user
	// namespace) must be able to pass through to its layers, not list
	// them.
	for _, d := range []string{"", "blobs", blobsDir, layersDir, recordsDir, leasesDir, tmpDir, distDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o711); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobPath(d Digest) string { return filepath.Join(s.dir, blobsDir, d.Hex()) }
func (s *Store) layerPath(chain Digest) string {
	return filepath.Join(s.dir, layersDir, chain.Hex())
}
func (s *Store) recordPath(id Digest) string {
	return filepath.Join(s.dir, recordsDir, id.Hex()+".json")
}

// lock takes the store's lock, which every change holds: writers are
// serialised, across processes too. flock is per open file, so two Stores
// in one process exclude each other as well.
func (s *Store) lock() (unlock func(), err error) {
	name := filepath.Join(s.dir, lockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("image store lock %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// tempName is a new name in the store's tmp directory.
func (s *Store) tempName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return filepath.Join(s.dir, tmpDir, prefix+hex.EncodeToString(b))
}

// writeAtomic puts data at name so that a reader, or a crash, sees the
// old content or the new, never a part: write a temporary file, fsync it,
// rename it over name, fsync the directory (which makes the rename
// itself durable).
func (s *Store) writeAtomic(name string, data []byte, perm os.FileMode) error {
	return s.writeFile(name, data, perm, true)
}

// writeFile is writeAtomic, and without durable it skips both fsyncs:
// readers still see the old content or the new, but a crash of the
// machine may leave the file empty or cut. The temporary file is made in
// the store's tmp directory, which the store empties after a crash
// (Recover), rather than beside name.
func (s *Store) writeFile(name string, data []byte, perm os.FileMode, durable bool) error {
	return atomicfile.WriteFile(name, data, atomicfile.Options{
		Perm: perm, Durable: durable, TempDir: filepath.Join(s.dir, tmpDir)})
}

// putBlob stores data under its digest, unless it is there already.
func (s *Store) putBlob(data []byte) (Digest, error) {
	d := FromBytes(data)
	if _, err := os.Stat(s.blobPath(d)); err == nil {
		return d, nil
	}
	return d, s.writeAtomic(s.blobPath(d), data, 0o600)
}

// record is the store's own knowledge about an image, beside its config:
// what Docker keeps in imagedb/metadata. Its file existing is what makes
// the image exist; it is written after the config and every layer.
type record struct {
	// Parent is the image this one was committed on top of. It is not
	// in the config (Docker does not put it there either: the config
	// would then change when the parent is deleted); archives carry it
	// in manifest.json's "Parent".
	Parent Digest `json:"parent,omitempty"`
	// Added is when the image entered this store.
	Added time.Time `json:"added"`
	// RepoDigests are the registry manifests this image was pulled
	// from or pushed as, "NAME@sha256:...": the names by content that
	// `docker images --digests` shows. They live here, in the record,
	// so that they go with the image and stay when its tags move.
	RepoDigests []string `json:"repo_digests,omitempty"`
}

// Image is an image in the store.
type Image struct {
	ID     Digest
	Parent Digest   // "" when the image has no parent in this store
	Tags   []string // "name:tag", sorted
	// RepoDigests name the image by the digest of a registry manifest
	// it came from or went to: "busybox@sha256:...", sorted.
	RepoDigests []string
	Config      Config
	// Size is the sum of its layers' sizes as Docker counts them: the
	// bytes of their files (see contentSize), not of their tars.
	Size int64
}

// Created is the config's creation time, or the zero time.
func (i Image) Created() time.Time {
	if i.Config.Created == nil {
		return time.Time{}
	}
	return *i.Config.Created
}

// readRecord reads an image's record; fs.ErrNotExist if there is none.
func (s *Store) readRecord(id Digest) (record, error) {
	var r record
	data, err := os.ReadFile(s.recordPath(id))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("image %s: record %s: %w", id.Short(), s.recordPath(id), err)
	}
	return r, nil
}

// RawConfig returns the image's config exactly as stored: the bytes whose
// digest is the ID.
func (s *Store) RawConfig(id Digest) ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.blobPath(id))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", id.Short(), err)
	}
	return data, nil
}

// image reads an image from the store. tags is the reverse of the
// repositories file (nil: read it).
func (s *Store) image(id Digest, tags map[Digest][]string) (Image, error) {
	rec, err := s.readRecord(id)
	if errors.Is(err, fs.ErrNotExist) {
		return Image{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Image{}, err
	}
	raw, err := s.RawConfig(id)
	if err != nil {
		return Image{}, err
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", id.Short(), err)
	}
	if tags == nil {
		repos, err := s.repositories()
		if err != nil {
			return Image{}, err
		}
		tags = reverse(repos)
	}
	img := Image{ID: id, Parent: rec.Parent, Tags: tags[id], RepoDigests: rec.RepoDigests, Config: cfg}
	for i, chain := range ChainIDs(cfg.RootFS.DiffIDs) {
		img.Size += s.layerSize(chain, cfg.RootFS.DiffIDs[i])
	}
	return img, nil
}

// ids lists the IDs of the images in the store.
func (s *Store) ids() ([]Digest, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, recordsDir))
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	var ids []Digest
	for _, e := range entries {
		h, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && isHex(h, 64) {
			ids = append(ids, Digest(digestPrefix+h))
		}
	}
	return ids, nil
}

// Images lists every image in the store, newest first.
func (s *Store) Images() ([]Image, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	tags := reverse(repos)
	var images []Image
	for _, id := range ids {
		img, err := s.image(id, tags)
		if errors.Is(err, ErrNotFound) {
			continue // removed while we listed
		}
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	sort.SliceStable(images, func(i, j int) bool {
		ci, cj := images[i].Created(), images[j].Created()
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return images[i].ID < images[j].ID
	})
	return images, nil
}

// Get finds the image that ref names: NAME[:TAG], NAME@sha256:... (one of
// its RepoDigests), a full ID (with or without "sha256:"), or a prefix of
// an ID that only one image has.
func (s *Store) Get(ref string) (Image, error) {
	id, _, err := s.resolve(ref)
	if err != nil {
		return Image{}, err
	}
	return s.image(id, nil)
}

// resolve finds the ID that ref names, and whether it named it by tag.
func (s *Store) resolve(ref string) (id Digest, byTag bool, err error) {
	if strings.Contains(ref, "@") {
		rd, err := ParseRepoDigest(ref)
		if err != nil {
			return "", false, err
		}
		id, ok, err := s.findRepoDigest(rd)
		if err != nil {
			return "", false, err
		}
		if !ok {
			return "", false, fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return id, false, nil
	}
	if r, perr := ParseReference(ref); perr == nil {
		repos, err := s.repositories()
		if err != nil {
			return "", false, err
		}
		if id, ok := repos[r.String()]; ok {
			return id, true, nil
		}
	}
	h := strings.TrimPrefix(ref, digestPrefix)
	if h == "" || !isHex(h, -1) {
		return "", false, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if len(h) == 64 {
		id := Digest(digestPrefix + h)
		if _, err := os.Stat(s.recordPath(id)); err == nil {
			return id, false, nil
		}
		return "", false, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	ids, err := s.ids()
	if err != nil {
		return "", false, err
	}
	var match []Digest
	for _, id := range ids {
		if strings.HasPrefix(id.Hex(), h) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return "", false, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return match[0], false, nil
	}
	return "", false, fmt.Errorf("image ID prefix %q is ambiguous: %d images match", ref, len(match))
}

// repositories reads the tags: "name:tag" -> image ID.
func (s *Store) repositories() (map[string]Digest, error) {
	repos := map[string]Digest{}
	data, err := os.ReadFile(filepath.Join(s.dir, reposFile))
	if errors.Is(err, fs.ErrNotExist) {
		return repos, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tags: %w", err)
	}
	if err := json.Unmarshal(data, &repos); err != nil {
		return nil, fmt.Errorf("reading tags: %s: %w", filepath.Join(s.dir, reposFile), err)
	}
	return repos, nil
}

func (s *Store) writeRepositories(repos map[string]Digest) error {
	data, err := json.MarshalIndent(repos, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding tags: %w", err)
	}
	return s.writeAtomic(filepath.Join(s.dir, reposFile), append(data, '\n'), 0o600)
}

func reverse(repos map[string]Digest) map[Digest][]string {
	tags := map[Digest][]string{}
	for ref, id := range repos {
		tags[id] = append(tags[id], ref)
	}
	for _, t := range tags {
		sort.Strings(t)
	}
	return tags
}

// Tag gives the image that source names the tag target (NAME[:TAG]),
// moving the tag if another image had it, as `docker tag` does.
func (s *Store) Tag(source, target string) error {
	ref, err := ParseReference(target)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	id, _, err := s.resolve(source)
	if err != nil {
		return err
	}
	return s.setTags(id, []Reference{ref})
}

// setTags points refs at id. The caller holds the lock.
func (s *Store) setTags(id Digest, refs []Reference) error {
	if len(refs) == 0 {
		return nil
	}
	repos, err := s.repositories()
	if err != nil {
		return err
	}
	for _, r := range refs {
		repos[r.String()] = id
	}
	return s.writeRepositories(repos)
}

// Layer is one unpacked layer of an image.
type Layer struct {
	DiffID  Digest // sha256 of the layer's uncompressed tar
	ChainID Digest // names this layer with all those below it
	// Dir holds the layer's files in overlay's form: an overlay lower
	// directory, shared by every image and container that has this
	// layer at this place in its stack. Never write to it.
	Dir  string
	Size int64 // of the layer tar
	// Content is the layer's size as Docker reports it (an image's Size
	// is the sum of its layers'): what docker system df adds up.
	Content int64
}

// Layers returns the image's layers, bottom first: the lower directories
// that chapter 04's overlay stacks.
func (s *Store) Layers(id Digest) ([]Layer, error) {
	img, err := s.image(id, map[Digest][]string{})
	if err != nil {
		return nil, err
	}
	diffs := img.Config.RootFS.DiffIDs
	var layers []Layer
	for i, chain := range ChainIDs(diffs) {
		l := Layer{DiffID: diffs[i], ChainID: chain, Dir: filepath.Join(s.layerPath(chain), layerDiffDir)}
		if _, err := os.Stat(l.Dir); err != nil {
			return nil, fmt.Errorf("image %s: layer %d (%s): %w", id.Short(), i+1, chain.Short(), err)
		}
		if fi, err := os.Stat(s.blobPath(diffs[i])); err == nil {
			l.Size = fi.Size()
		}
		l.Content = s.layerSize(chain, diffs[i])
		layers = append(layers, l)
	}
	return layers, nil
}

// LayerDirs returns just the directories of Layers, bottom first.
func (s *Store) LayerDirs(id Digest) ([]string, error) {
	layers, err := s.Layers(id)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, len(layers))
	for i, l := range layers {
		dirs[i] = l.Dir
	}
	return dirs, nil
}

// hasLayer reports whether the layer chain is unpacked in the store.
func (s *Store) hasLayer(chain Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerPath(chain), layerRecord))
	return err == nil
}

// children lists the images whose parent is id.
func (s *Store) children(id Digest) ([]Digest, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var kids []Digest
	for _, other := range ids {
		rec, err := s.readRecord(other)
		if err != nil {
			continue
		}
		if rec.Parent == id {
			kids = append(kids, other)
		}
	}
	return kids, nil
}
