package labtest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TarEntry is one entry of a tar archive, read whole.
type TarEntry struct {
	*tar.Header
	Data []byte // the content: empty but for regular files
}

// ReadTar reads every entry of the tar in r, in order, with its content.
// The tests that look into an archive (an export, a save, a layer) each
// keep what they check from it: names, owners, files.
func ReadTar(t testing.TB, r io.Reader) []TarEntry {
	t.Helper()
	var out []TarEntry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out = append(out, TarEntry{Header: hdr, Data: data})
	}
}

// TarNames lists the names of the entries of the tar in r, in order.
func TarNames(t testing.TB, r io.Reader) []string {
	t.Helper()
	var names []string
	for _, e := range ReadTar(t, r) {
		names = append(names, e.Name)
	}
	return names
}

// TarFiles maps the regular files of the tar in r to their contents, by
// name without a leading "./".
func TarFiles(t testing.TB, r io.Reader) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, e := range ReadTar(t, r) {
		if e.Typeflag == tar.TypeReg {
			files[strings.TrimPrefix(e.Name, "./")] = string(e.Data)
		}
	}
	return files
}

// RandomBytes is n bytes of incompressible content, the same for the
// same seed: a benchmark's files then cost what real ones would, and
// no compression or deduplication makes them cheaper.
func RandomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// BigTar writes a file system tar of files incompressible files of size
// bytes each, under data/, to a file in a temporary directory, and
// returns its name: the image the import, load and save benchmarks move.
func BigTar(b testing.TB, files, size int) string {
	b.Helper()
	name := filepath.Join(b.TempDir(), "big.tar")
	f, err := os.Create(name)
	require.NoError(b, err)
	tw := tar.NewWriter(f)
	require.NoError(b, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "data/", Mode: 0o755}))
	for i := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/f%03d", i), Mode: 0o644, Size: int64(size)}
		require.NoError(b, tw.WriteHeader(hdr))
		_, err := tw.Write(RandomBytes(uint64(i), size))
		require.NoError(b, err)
	}
	require.NoError(b, tw.Close())
	require.NoError(b, f.Close())
	return name
}
