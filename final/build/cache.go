package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/04-cow-layers/atomicfile"
	"github.com/berth-project/berth/06-images/image"
)

// Cache remembers which image each step of a build made, so that the same
// step on the same parent is not done again: a rebuild with nothing
// changed only looks files up.
//
// A step's key is its parent image's ID and its instruction, as the
// history records it: for RUN the command and the build arguments it
// sees, for COPY and ADD a digest of the copied files' names, modes and
// contents and the destination, for the configuration instructions their
// text with the variables replaced. Equal keys make equal images, so the
// image the key names can stand in for the step.
//
//	<dir>/<sha256 of the key>   holds the image ID
//
// One small file per key, written to a temporary name, flushed and
// renamed into place: after a crash an entry is there whole or not at
// all. An entry whose image was removed since is ignored, and dropped.
type Cache struct {
	dir string
}

// OpenCache opens (or creates) the cache in dir.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return &Cache{dir: dir}, nil
}

func (c *Cache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:]))
}

// Get returns the image that the step key made last time.
func (c *Cache) Get(key string) (image.Digest, bool) {
	if c == nil {
		return "", false
	}
	name := c.path(key)
	data, err := os.ReadFile(name)
	if err != nil {
		return "", false
	}
	id, err := image.ParseDigest(strings.TrimSpace(string(data)))
	if err != nil {
		return "", false
	}
	// The entry's time is when a build last used it, for the prune's
	// until and unused-for (PruneEntries). Not flushed: a time lost in
	// a crash only makes the entry look older.
	now := time.Now()
	_ = os.Chtimes(name, now, now)
	return id, true
}

// Put records that the step key made the image id.
func (c *Cache) Put(key string, id image.Digest) error {
	if c == nil {
		return nil
	}
	name := c.path(key)
	err := atomicfile.WriteFile(name, []byte(id.String()+"\n"), atomicfile.Options{Perm: 0o600, Durable: true})
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// Forget drops the entry of key.
func (c *Cache) Forget(key string) {
	if c != nil {
		_ = os.Remove(c.path(key))
	}
}

// Prune removes the temporary files that an interrupted Put left, and the
// entries whose image no longer exists (exists says).
func (c *Cache) Prune(exists func(image.Digest) bool) error {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	for _, e := range entries {
		name := filepath.Join(c.dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") { // atomicfile's temporary ".KEY.*"
			_ = os.Remove(name)
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		id, err := image.ParseDigest(strings.TrimSpace(string(data)))
		if err != nil || !exists(id) {
			_ = os.Remove(name)
		}
	}
	return nil
}

// Entry is one step the cache remembers: its ID (the file's name, the
// digest of its key), the image the step made, and when a build last
// made or used it.
type Entry struct {
	ID       string
	Image    image.Digest
	LastUsed time.Time
}

// Entries lists the cache's entries, in no order. An entry that cannot
// be read is left out (a Put or a prune under way).
func (c *Cache) Entries() ([]Entry, error) {
	dirents, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	var out []Entry
	for _, de := range dirents {
		if strings.HasPrefix(de.Name(), ".tmp-") {
			continue
		}
		name := filepath.Join(c.dir, de.Name())
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		id, err := image.ParseDigest(strings.TrimSpace(string(data)))
		if err != nil {
			id = "" // torn: an entry of no image, which a prune drops
		}
		out = append(out, Entry{ID: de.Name(), Image: id, LastUsed: info.ModTime()})
	}
	return out, nil
}

// Remove drops the entry whose ID is id (see Entries). One already gone
// is not an error: a build or another prune may have dropped it.
func (c *Cache) Remove(id string) error {
	if id == "" || strings.ContainsAny(id, "/.") {
		return fmt.Errorf("build cache: invalid entry ID %q", id)
	}
	if err := os.Remove(filepath.Join(c.dir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}
