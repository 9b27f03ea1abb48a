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
	data, err := os.ReadFile(c.path(key))
	if err != nil {
		return "", false
	}
	id, err := image.ParseDigest(strings.TrimSpace(string(data)))
	if err != nil {
		return "", false
	}
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
