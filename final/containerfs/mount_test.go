package containerfs

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/03-rootfs/rootfs"
	"github.com/berth-project/berth/04-cow-layers/layer"
)

// A stopped container's root: its image read through the overlay, its
// bind mounts on top, writes in its upper directory, and nothing mounted
// where the host (or any other thread) can see it.
func TestMountRoot(t *testing.T) {
	labtest.Privileged(t)
	base := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "work", "merged", "vol"} {
		dirs[d] = filepath.Join(base, d)
		require.NoError(t, os.MkdirAll(dirs[d], 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dirs["lower"], "image-file"), []byte("from the image"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dirs["vol"], "vol-file"), []byte("from the volume"), 0o644))
	spec := layer.MountSpec{Lower: []string{dirs["lower"]}, Upper: dirs["upper"], Work: dirs["work"]}
	vols := []rootfs.Volume{
		{Source: dirs["vol"], Target: "/data"},
		{Source: filepath.Join(base, "missing"), Target: "/missing"},
	}
	r, err := MountRoot(spec, dirs["merged"], vols, "the test's container")
	require.NoError(t, err)

	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), dirs["merged"], "the mount is the copy's own")

	var buf strings.Builder
	require.NoError(t, r.Archive("/image-file", &buf))
	assert.Contains(t, buf.String(), "from the image")
	buf.Reset()
	require.NoError(t, r.Archive("/data/vol-file", &buf))
	assert.Contains(t, buf.String(), "from the volume")
	require.NoError(t, r.Extract("/", archiveOf(t, "written"), ExtractOptions{}))
	require.NoError(t, r.Extract("/data", archiveOf(t, "in-volume"), ExtractOptions{}))
	require.NoError(t, r.Close())

	_, err = os.Stat(filepath.Join(dirs["upper"], "written"))
	assert.NoError(t, err, "the write is in the upper directory")
	_, err = os.Stat(filepath.Join(dirs["vol"], "in-volume"))
	assert.NoError(t, err, "and the volume's in the volume")
	entries, err := os.ReadDir(dirs["merged"])
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was ever mounted on the host's merged")
}

func archiveOf(t *testing.T, names ...string) io.Reader { return archive(t, names...) }

// A mount that cannot be made fails MountRoot, and leaves nothing
// mounted.
func TestMountRootFails(t *testing.T) {
	labtest.Privileged(t)
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged", "vol"} {
		require.NoError(t, os.MkdirAll(filepath.Join(base, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(base, "lower", "data"), []byte("a file"), 0o644))
	spec := layer.MountSpec{Lower: []string{filepath.Join(base, "lower")}, Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work")}
	_, err := MountRoot(spec, filepath.Join(base, "merged"), []rootfs.Volume{{Source: filepath.Join(base, "vol"), Target: "/data"}}, "the test's container")
	assert.Error(t, err, "a directory cannot be mounted on the image's file")
	entries, err := os.ReadDir(filepath.Join(base, "merged"))
	require.NoError(t, err)
	assert.Empty(t, entries)
}
