package image

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/hostile"
)

// hostileStore is a store in base/data/images, with base/canary beside
// it (a file and a directory a tar could aim at), and a watch over base,
// /tmp's Escaped and the host's /etc/passwd.
func hostileStore(t *testing.T) (*Store, *hostile.Watch) {
	t.Helper()
	base := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(base, "canary", "dir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "canary", "passwd"), []byte("canary"), 0o644))
	s, err := Open(filepath.Join(base, "data", "images"))
	require.NoError(t, err)
	return s, hostile.NewWatch(t, []string{base}, filepath.Join(base, "data"))
}

// Every layer of the corpus, extracted: refused when the case says so,
// and in every case nothing outside the target is made or changed.
func TestHostileLayersAreRefusedOrContainedByExtract(t *testing.T) {
	labtest.Privileged(t) // device nodes, owners, whiteouts
	for _, c := range hostile.Of(hostile.Layer) {
		t.Run(c.Name, func(t *testing.T) {
			data, err := c.File()
			require.NoError(t, err)
			base := t.TempDir()
			target := filepath.Join(base, "target")
			require.NoError(t, os.Mkdir(target, 0o755))
			w := hostile.NewWatch(t, []string{base}, target)
			err = ExtractLayer(bytes.NewReader(data), target)
			w.Check(t, c.What)
			if c.Refused {
				require.Error(t, err, c.What)
				assert.Contains(t, err.Error(), target, "the error names the target")
				t.Logf("%s: %v", c.Name, err)
				return
			}
			require.NoError(t, err, c.What)
		})
	}
}

// docker import of every layer of the corpus, and docker load of every
// archive: refused with an error that says why, or taken; either way
// nothing outside the data root, and a refusal leaves nothing in the
// store.
func TestHostileTarsAreRefusedOrContainedByImportAndLoad(t *testing.T) {
	labtest.Privileged(t)
	ops := map[hostile.Kind]func(s *Store, data []byte) error{
		hostile.Layer: func(s *Store, data []byte) error {
			img, err := s.Import(bytes.NewReader(data), ImportOptions{Ref: "hostile:latest"})
			if err == nil && !assert.Equal(t, []string{"hostile:latest"}, img.Tags) {
				return fmt.Errorf("imported without its tag")
			}
			return err
		},
		hostile.Archive: func(s *Store, data []byte) error {
			_, err := s.Load(bytes.NewReader(data))
			return err
		},
	}
	for _, c := range hostile.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			data, err := c.File()
			require.NoError(t, err)
			s, w := hostileStore(t)
			err = ops[c.Kind](s, data)
			w.Check(t, c.What)
			if c.Refused {
				require.Error(t, err, c.What)
				t.Logf("%s: %v", c.Name, err)
				assertStoreEmpty(t, s)
				return
			}
			require.NoError(t, err, c.What)
		})
	}
}

func assertStoreEmpty(t *testing.T, s *Store) {
	t.Helper()
	images, err := s.Images()
	require.NoError(t, err)
	assert.Empty(t, images)
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "layers")), "no layer left behind")
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "blobs", "sha256")), "no blob left behind")
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), "tmp")), "no work left behind")
}

// A sparse file keeps its holes when a layer is unpacked: the 64 MiB
// file with 4 bytes of data takes a block or two, not 64 MiB (it did:
// the tar reader reads the holes as zeros, and they were all written).
// The image's size is what Docker reports for it: the file's length,
// holes included (see contentSize), not the 3.5 KiB of the tar.
func TestSparseFilesKeepTheirHolesAndTheImageSizeIsDockers(t *testing.T) {
	labtest.Privileged(t)
	for _, name := range []string{"sparse-gnu", "sparse-pax"} {
		t.Run(name, func(t *testing.T) {
			c, _ := hostile.ByName(name)
			s := newStore(t)
			img, err := s.Import(bytes.NewReader(c.Bytes()), ImportOptions{Ref: "sparse:latest"})
			require.NoError(t, err)
			dirs, err := s.LayerDirs(img.ID)
			require.NoError(t, err)
			p := filepath.Join(dirs[0], hostile.SparseName)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Len(t, data, hostile.SparseSize)
			assert.Equal(t, hostile.SparseData, string(data[hostile.SparseOffset:hostile.SparseOffset+len(hostile.SparseData)]))
			assert.Equal(t, hostile.SparseSize-len(hostile.SparseData), bytes.Count(data, []byte{0}))
			var st syscall.Stat_t
			require.NoError(t, syscall.Stat(p, &st))
			assert.LessOrEqual(t, st.Blocks*512, int64(64<<10), "the holes take no disk")
			assert.EqualValues(t, hostile.SparseSize, img.Size, "docker's size: the file's length")
			steps, err := s.History(string(img.ID))
			require.NoError(t, err)
			assert.EqualValues(t, hostile.SparseSize, steps[0].Size)
		})
	}
}

// A file whose content has runs of zeros reads back the same, whatever
// its length and wherever the zeros are: the holes that replace them read
// as zeros, and a file that ends in zeros has its full length.
func TestHoleWriterKeepsEveryByte(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	ds := func(n int) []byte { return bytes.Repeat([]byte{'d'}, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	b := holeBlock
	for name, content := range map[string][]byte{
		"empty":                      {},
		"all zeros":                  zeros(3 * b),
		"ends in a hole":             cat(ds(b), zeros(2*b)),
		"starts with a hole":         cat(zeros(2*b), ds(b)),
		"short tail of zeros":        cat(ds(b), zeros(100)),
		"short tail of data":         cat(zeros(b), ds(100)),
		"zeros shorter than a block": cat(ds(100), zeros(200), ds(b)),
		"big, through O_DIRECT":      cat(ds(b), zeros(2*directMin), ds(b), zeros(b)),
		"big, ends in a hole":        cat(ds(directMin), zeros(3*ioChunk)),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
			require.NoError(t, err)
			defer syscall.Close(dfd)
			x := &extractor{}
			defer func() {
				if x.buf != nil {
					putBuffer(x.buf)
				}
			}()
			require.NoError(t, x.writeFile(dfd, "got", "got", bytes.NewReader(content), int64(len(content))))
			got, err := os.ReadFile(filepath.Join(dir, "got"))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(content, got), "%d bytes in, %d out", len(content), len(got))
		})
	}
}
