package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/04-cow-layers/atomicfile"
)

// Lease records that something outside the store, a container, uses an
// image's layers as its lower directories. While a lease holds them, the
// layers stay, even if the image itself is removed with force; and `rmi`
// without force refuses to remove the image.
type Lease struct {
	Holder string   `json:"holder"` // the container's ID
	Image  Digest   `json:"image"`
	Chain  []Digest `json:"chain"` // the chainIDs of the layers in use
	// Path is the holder's directory. A lease whose Path no longer
	// exists is stale (the container was removed by a program that did
	// not know about leases) and is ignored.
	Path string `json:"path,omitempty"`
}

func (s *Store) leasePath(holder string) string {
	return filepath.Join(s.dir, leasesDir, holder+".json")
}

func checkHolder(holder string) error {
	if holder == "" || holder == "." || holder == ".." || strings.ContainsAny(holder, "/\x00") {
		return fmt.Errorf("lease holder %q: not a valid name", holder)
	}
	return nil
}

// Use records that holder (a container ID) uses the image id; path, if
// not "", is the holder's directory (see Lease.Path).
func (s *Store) Use(holder string, id Digest, path string) error {
	return s.use(holder, id, path, true)
}

// UseEphemeral is Use for a holder that is not meant to outlive a crash
// of the machine (a container run with --rm): the lease is written
// atomically, but without waiting for the disk. A crash may leave it
// torn, which stops every collection until Recover removes it; a program
// that keeps containers across restarts calls Recover when it starts,
// then takes its containers' leases again (Use rewrites a torn lease and
// skips a whole one).
func (s *Store) UseEphemeral(holder string, id Digest, path string) error {
	return s.use(holder, id, path, false)
}

func (s *Store) use(holder string, id Digest, path string, durable bool) error {
	if err := checkHolder(holder); err != nil {
		return err
	}
	// A container that persists (berthd's) takes its lease at create
	// and again at every start: the second time the lease is there
	// already, and rewriting it durably would cost two fsyncs per start.
	if l, err := s.Lease(holder); err == nil && l.Image == id && l.Path == path {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.image(id, map[Digest][]string{})
	if err != nil {
		return err
	}
	data, err := json.Marshal(Lease{Holder: holder, Image: id, Chain: ChainIDs(img.Config.RootFS.DiffIDs), Path: path})
	if err != nil {
		return fmt.Errorf("encoding lease: %w", err)
	}
	if !durable {
		return s.writeFile(s.leasePath(holder), data, 0o600, false)
	}
	return s.writeAtomic(s.leasePath(holder), data, 0o600)
}

// Lease returns holder's lease, or an error wrapping fs.ErrNotExist.
func (s *Store) Lease(holder string) (Lease, error) {
	var l Lease
	if err := checkHolder(holder); err != nil {
		return l, err
	}
	data, err := os.ReadFile(s.leasePath(holder))
	if err != nil {
		return l, fmt.Errorf("lease of %s: %w", holder, err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return l, fmt.Errorf("lease of %s: %w", holder, err)
	}
	return l, nil
}

// Release ends holder's lease. Layers that nothing else uses any more
// are deleted.
func (s *Store) Release(holder string) error {
	if err := checkHolder(holder); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	l, lerr := s.Lease(holder)
	if err := os.Remove(s.leasePath(holder)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("releasing lease of %s: %w", holder, err)
	}
	// While the image itself is in the store, it holds every layer the
	// lease did: there is nothing to collect, and a collection reads
	// every image and lease of the store (on every `rm`). Only an image
	// removed while in use (rmi -f) leaves its layers to the lease.
	if lerr == nil {
		if _, err := os.Stat(s.recordPath(l.Image)); err == nil {
			return nil
		}
	}
	return s.gc()
}

// leases lists the live leases; stale ones are removed on the way.
func (s *Store) leases() ([]Lease, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, leasesDir))
	if err != nil {
		return nil, fmt.Errorf("listing leases: %w", err)
	}
	var live []Lease
	for _, e := range entries {
		holder, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		l, err := s.Lease(holder)
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended since the directory was read
		}
		if err != nil {
			return nil, err
		}
		if l.Path != "" {
			if _, err := os.Stat(l.Path); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(s.leasePath(holder))
				continue
			}
		}
		live = append(live, l)
	}
	return live, nil
}

// Remove removes the image that ref names, as `docker rmi` does, and
// returns what it did, in Docker's words ("Untagged: x:y", "Deleted:
// sha256:..."):
//
//   - ref is a tag that other tags share the image with: only the tag goes;
//   - otherwise the image goes too, with its parents that are untagged
//     and have no other children;
//   - an image that containers use is refused (ErrConflict), unless
//     force: then it is removed and its layers stay until the containers
//     release them;
//   - an image that other images were committed on (children) is never
//     deleted: by tag it is only untagged; by ID it is refused;
//   - by ID, an image with several tags is refused unless force, which
//     removes every tag.
func (s *Store) Remove(ref string, force bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	id, byTag, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	tags := reverse(repos)[id]
	users, err := s.users(id)
	if err != nil {
		return nil, err
	}
	kids, err := s.children(id)
	if err != nil {
		return nil, err
	}
	var done []string
	untag := func(t string) {
		delete(repos, t)
		done = append(done, "Untagged: "+t)
	}

	if strings.Contains(ref, "@") {
		// NAME@digest: like a tag, it goes alone while the image has
		// other names (or children); the last name takes the image.
		rd, err := ParseRepoDigest(ref)
		if err != nil {
			return nil, err
		}
		rec, err := s.readRecord(id)
		if err != nil {
			return nil, err
		}
		if len(tags)+len(rec.RepoDigests) > 1 || len(kids) > 0 {
			keep := rec.RepoDigests[:0:0]
			for _, d := range rec.RepoDigests {
				if d != rd.String() {
					keep = append(keep, d)
				}
			}
			rec.RepoDigests = keep
			if err := s.writeRecord(id, rec); err != nil {
				return nil, err
			}
			return []string{"Untagged: " + rd.String()}, nil
		}
		if len(users) > 0 && !force {
			return nil, fmt.Errorf("%w: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
				ErrConflict, ref, shortHolder(users[0]), id.Short())
		}
		done = append(done, "Untagged: "+rd.String())
	} else if byTag {
		r, _ := ParseReference(ref)
		if len(tags) > 1 || len(kids) > 0 {
			untag(r.String())
			return done, s.writeRepositories(repos)
		}
		if len(users) > 0 && !force {
			return nil, fmt.Errorf("%w: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
				ErrConflict, ref, shortHolder(users[0]), id.Short())
		}
		untag(r.String())
	} else {
		if len(kids) > 0 {
			return nil, fmt.Errorf("%w: unable to delete %s (cannot be forced) - image has dependent child images", ErrConflict, id.Short())
		}
		if len(tags) > 1 && !force {
			return nil, fmt.Errorf("%w: unable to delete %s (must be forced) - image is referenced in multiple repositories", ErrConflict, id.Short())
		}
		if len(users) > 0 && !force {
			return nil, fmt.Errorf("%w: unable to delete %s (must be forced) - image is being used by container %s", ErrConflict, id.Short(), shortHolder(users[0]))
		}
		for _, t := range tags {
			untag(t)
		}
	}
	// The image goes, and its repository digests with it, as dockerd
	// reports them.
	if rec, err := s.readRecord(id); err == nil {
		for _, d := range rec.RepoDigests {
			if line := "Untagged: " + d; !slices.Contains(done, line) {
				done = append(done, line)
			}
		}
	}
	if err := s.writeRepositories(repos); err != nil {
		return done, err
	}
	deleted, err := s.deleteChain(id, reverse(repos))
	for _, d := range deleted {
		done = append(done, "Deleted: "+string(d))
	}
	if err != nil {
		return done, err
	}
	return done, s.gc()
}

func shortHolder(l Lease) string { return namespace.ShortID(l.Holder) }

// users lists the live leases on image id.
func (s *Store) users(id Digest) ([]Lease, error) {
	all, err := s.leases()
	if err != nil {
		return nil, err
	}
	var users []Lease
	for _, l := range all {
		if l.Image == id {
			users = append(users, l)
		}
	}
	return users, nil
}

// deleteChain deletes the record of image id, then walks up its parents
// and deletes each that has no tag, no other child and no user: Docker's
// pruning of the intermediate images a removed image leaves behind. The
// caller holds the lock.
func (s *Store) deleteChain(id Digest, tags map[Digest][]string) ([]Digest, error) {
	var deleted []Digest
	for id != "" {
		rec, err := s.readRecord(id)
		if err != nil {
			return deleted, err
		}
		if err := os.Remove(s.recordPath(id)); err != nil {
			return deleted, fmt.Errorf("deleting image %s: %w", id.Short(), err)
		}
		deleted = append(deleted, id)
		parent := rec.Parent
		if parent == "" || len(tags[parent]) > 0 {
			break
		}
		if _, err := s.readRecord(parent); err != nil {
			break // not in the store (any more)
		}
		kids, err := s.children(parent)
		if err != nil || len(kids) > 0 {
			break
		}
		users, err := s.users(parent)
		if err != nil || len(users) > 0 {
			break
		}
		id = parent
	}
	return deleted, atomicfile.SyncDir(filepath.Join(s.dir, recordsDir))
}

// gc deletes the layers and blobs that no image and no lease needs, and
// leftovers of interrupted work in tmp. A layer is first renamed into tmp,
// so that it disappears from layers/ in one step, and then deleted. The
// caller holds the lock.
func (s *Store) gc() error {
	ids, err := s.ids()
	if err != nil {
		return err
	}
	leases, err := s.leases()
	if err != nil {
		return err
	}
	chains := map[string]bool{}
	blobs := map[string]bool{}
	for _, id := range ids {
		raw, err := s.RawConfig(id)
		if err != nil {
			return err
		}
		cfg, err := ParseConfig(raw)
		if err != nil {
			return fmt.Errorf("image %s: %w", id.Short(), err)
		}
		blobs[id.Hex()] = true
		for _, c := range ChainIDs(cfg.RootFS.DiffIDs) {
			chains[c.Hex()] = true
		}
	}
	for _, l := range leases {
		for _, c := range l.Chain {
			chains[c.Hex()] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, layersDir))
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	for _, e := range entries {
		if chains[e.Name()] {
			info, err := s.readLayerInfo(Digest(digestPrefix + e.Name()))
			if err == nil {
				blobs[info.DiffID.Hex()] = true
			}
			continue
		}
		trash := s.tempName("trash-")
		if err := os.Rename(filepath.Join(s.dir, layersDir, e.Name()), trash); err != nil {
			return fmt.Errorf("deleting layer %s: %w", e.Name(), err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("deleting layer %s: %w", e.Name(), err)
		}
	}
	entries, err = os.ReadDir(filepath.Join(s.dir, blobsDir))
	if err != nil {
		return fmt.Errorf("listing blobs: %w", err)
	}
	for _, e := range entries {
		if !blobs[e.Name()] {
			if err := os.Remove(filepath.Join(s.dir, blobsDir, e.Name())); err != nil {
				return fmt.Errorf("deleting blob %s: %w", e.Name(), err)
			}
		}
	}
	if err := s.gcDistribution(blobs); err != nil {
		return err
	}
	// Work that a crash interrupted: anything in tmp older than a day
	// (work in progress, which may run without the lock, is younger).
	entries, err = os.ReadDir(filepath.Join(s.dir, tmpDir))
	if err != nil {
		return fmt.Errorf("listing %s: %w", tmpDir, err)
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(filepath.Join(s.dir, tmpDir, e.Name()))
		}
	}
	return nil
}
