package image

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// What a crash leaves, made by hand, and cleaned up by Recover: a layer
// that reached layers/ under a session whose image never came, files of
// an unfinished layer and blob in tmp/. The image that was complete keeps
// all its layers.
func TestRecoverRemovesWhatACrashLeftAndKeepsComplete(t *testing.T) {
	labtest.Privileged(t) // layers keep their files' owners
	s := newStore(t)
	img, err := s.Import(bytes.NewReader(makeTar(t, entry{Name: "a/"}, entry{Name: "a/f", Body: "kept"})), ImportOptions{Ref: "kept"})
	require.NoError(t, err)

	// A load that died between its layers and its image: the session's
	// marker and lease are still there, so the layer is protected.
	sess, err := s.newSession()
	require.NoError(t, err)
	orphan, err := s.addLayer(bytes.NewReader(makeTar(t, entry{Name: "orphan", Body: "x"})), ingest{Session: sess})
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(s.tempName("layer-"), 0o700))
	require.NoError(t, os.WriteFile(s.tempName("blob-"), []byte("half a blob"), 0o600))
	// An ordinary collection keeps all that: the session looks alive,
	// and the files in tmp/ are younger than a day.
	require.NoError(t, s.Release("nobody"))
	assert.True(t, s.hasLayer(orphan.ChainID))
	assert.Equal(t, 3, countEntries(t, filepath.Join(s.Dir(), tmpDir)))
	// Another session's lease, cut short while it was being written.
	require.NoError(t, os.WriteFile(s.leasePath(sessionPrefix+"0123456789abcdef"), []byte(`{"holder":"sess`), 0o600))
	assert.Error(t, s.Release("nobody"), "a torn lease stops an ordinary collection")

	require.NoError(t, s.Recover())
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.Dir(), tmpDir)), "tmp/ is empty")
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.Dir(), leasesDir)), "the dead session's lease is gone")
	assert.False(t, s.hasLayer(orphan.ChainID), "the layer no image took is collected")
	_, err = os.Stat(s.blobPath(orphan.DiffID))
	assert.True(t, os.IsNotExist(err), "and its blob")

	layers, err := s.Layers(img.ID)
	require.NoError(t, err)
	require.Len(t, layers, 1)
	got, err := os.ReadFile(filepath.Join(layers[0].Dir, "a", "f"))
	require.NoError(t, err)
	assert.Equal(t, "kept", string(got))
	_, err = os.Stat(s.blobPath(layers[0].DiffID))
	assert.NoError(t, err)
}
