package containerfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/06-images/hostile"
	"github.com/berth-project/berth/06-images/image"
)

// FuzzExtract feeds any tar to Extract, as docker cp sends it into a
// container's /dest: whatever it holds, the extraction ends, and nothing
// outside the container's root changes. The seeds are the hostile corpus
// but its sparse files: each of their runs writes 64 MiB, which makes the
// fuzzer crawl when it minimizes an input made from them.
func FuzzExtract(f *testing.F) {
	for _, c := range hostile.Of(hostile.Layer) {
		if !strings.HasPrefix(c.Name, "sparse") {
			f.Add(c.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if os.Geteuid() != 0 {
			t.Skip("needs root: Extract sets owners")
		}
		base := t.TempDir()
		root := filepath.Join(base, "root")
		for _, d := range []string{filepath.Join(root, "dest"), filepath.Join(root, "etc"), filepath.Join(base, "outside")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(base, "outside", "secret"), []byte("original"), 0o644); err != nil {
			t.Fatal(err)
		}
		w := hostile.NewWatch(t, []string{base}, root)
		r, err := OpenRoot(root, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = r.Extract("/dest", bytes.NewReader(data), ExtractOptions{NoOverwriteDirNonDir: true})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Extract still running after 10 s on a %d-byte tar", len(data))
		}
		w.Check(t, "fuzzed tar")
	})
}

// docker cp of a sparse file keeps its holes, and one that claims more
// than the disk holds is refused as a bad archive before it is read.
func TestExtractKeepsHolesAndRefusesASparseBomb(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: Extract sets owners")
	}
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "dest"), 0o755))
	r, err := OpenRoot(root, "test")
	require.NoError(t, err)
	defer r.Close()
	c, _ := hostile.ByName("sparse-pax")
	require.NoError(t, r.Extract("/dest", bytes.NewReader(c.Bytes()), ExtractOptions{}))
	var st unix.Stat_t
	require.NoError(t, unix.Stat(filepath.Join(root, "dest", hostile.SparseName), &st))
	assert.EqualValues(t, hostile.SparseSize, st.Size)
	assert.LessOrEqual(t, st.Blocks*512, int64(64<<10), "the holes take no disk")

	c, _ = hostile.ByName("sparse-bomb")
	err = r.Extract("/dest", bytes.NewReader(c.Bytes()), ExtractOptions{})
	require.ErrorIs(t, err, ErrBadArchive)
	assert.ErrorIs(t, err, image.ErrNoRoom)
}
