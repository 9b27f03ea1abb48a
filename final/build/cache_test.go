package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

// The cache's entries as a prune sees them: each with its image and the
// time a build last made or used it (a hit refreshes it); Remove drops
// one by its ID, and refuses what is not an entry's name.
func TestCacheEntriesAndRemove(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir)
	require.NoError(t, err)
	a, b := image.Digest("sha256:"+strings.Repeat("a", 64)), image.Digest("sha256:"+strings.Repeat("b", 64))
	require.NoError(t, c.Put("step a", a))
	require.NoError(t, c.Put("step b", b))
	old := time.Now().Add(-48 * time.Hour)
	for _, key := range []string{"step a", "step b"} {
		require.NoError(t, os.Chtimes(c.path(key), old, old))
	}
	// An interrupted Put's temporary file is no entry.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("x"), 0o600))

	got, ok := c.Get("step a")
	require.True(t, ok)
	assert.Equal(t, a, got)
	entries, err := c.Entries()
	require.NoError(t, err)
	require.Len(t, entries, 2)
	byImage := map[image.Digest]Entry{}
	for _, e := range entries {
		byImage[e.Image] = e
		assert.Equal(t, filepath.Base(c.path(map[image.Digest]string{a: "step a", b: "step b"}[e.Image])), e.ID)
	}
	assert.True(t, byImage[a].LastUsed.After(old.Add(time.Hour)), "the hit refreshed a's time")
	assert.True(t, byImage[b].LastUsed.Before(old.Add(time.Hour)), "b was not used")

	require.NoError(t, c.Remove(byImage[b].ID))
	require.NoError(t, c.Remove(byImage[b].ID), "an entry already gone")
	_, ok = c.Get("step b")
	assert.False(t, ok)
	for _, bad := range []string{"", "..", "../x", ".tmp-123"} {
		assert.Error(t, c.Remove(bad), bad)
	}
	entries, err = c.Entries()
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func TestCachePutGetPrune(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := OpenCache(dir)
	require.NoError(t, err)
	kept, gone := image.FromBytes([]byte("kept")), image.FromBytes([]byte("gone"))
	require.NoError(t, c.Put("step kept", kept))
	require.NoError(t, c.Put("step gone", gone))

	id, ok := c.Get("step kept")
	require.True(t, ok)
	assert.Equal(t, kept, id)
	_, ok = c.Get("step never put")
	assert.False(t, ok)

	// What a Put killed between its write and its rename leaves.
	leftover := filepath.Join(dir, "."+filepath.Base(c.path("step x"))+".123456")
	require.NoError(t, os.WriteFile(leftover, []byte(kept.String()+"\n"), 0o600))

	require.NoError(t, c.Prune(func(d image.Digest) bool { return d == kept }))

	_, ok = c.Get("step kept")
	assert.True(t, ok, "an entry whose image exists stays")
	_, ok = c.Get("step gone")
	assert.False(t, ok, "an entry whose image is gone is dropped")
	assert.NoFileExists(t, leftover, "an interrupted Put's temporary file is removed")
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 1)
}

func TestCachePutFailsNamingTheCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := OpenCache(dir)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(dir))
	err = c.Put("step", image.FromBytes([]byte("x")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "build cache")
	assert.Contains(t, err.Error(), dir)
}
