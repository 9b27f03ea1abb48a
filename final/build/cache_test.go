package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

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
