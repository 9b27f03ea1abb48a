package hostile

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed tars are what the code builds: the corpus can be made
// again, and nobody edited a file by hand.
func TestCorpusIsUpToDate(t *testing.T) {
	require.NotEmpty(t, Of(Layer))
	require.NotEmpty(t, Of(Archive))
	for _, c := range Cases() {
		data, err := c.File()
		require.NoError(t, err, c.Name)
		assert.True(t, bytes.Equal(c.Bytes(), data), "%s: testdata differs from the code: run go generate ./06-images/hostile", c.Name)
	}
}

// The hand-made sparse entries read back, through Go's tar reader, as
// the file they describe.
func TestSparseCasesReadAsTheirFile(t *testing.T) {
	for _, name := range []string{"sparse-gnu", "sparse-pax"} {
		c, ok := ByName(name)
		require.True(t, ok)
		tr := tar.NewReader(bytes.NewReader(c.Bytes()))
		hdr, err := tr.Next()
		require.NoError(t, err, name)
		assert.Equal(t, SparseName, hdr.Name, name)
		assert.EqualValues(t, SparseSize, hdr.Size, name)
		data, err := io.ReadAll(tr)
		require.NoError(t, err, name)
		require.Len(t, data, SparseSize, name)
		assert.Equal(t, SparseData, string(data[SparseOffset:SparseOffset+len(SparseData)]), name)
		assert.Equal(t, SparseSize-len(SparseData), bytes.Count(data, []byte{0}), name)
		_, err = tr.Next()
		assert.Equal(t, io.EOF, err, name)
	}
}

// The watch sees what it must: a file made, one changed, one removed,
// and nothing under the skipped data root.
func TestWatchSeesWhatChangedOutsideTheDataRoot(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "keep"), []byte("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(base, "gone"), []byte("a"), 0o644))
	w := NewWatch(t, []string{base}, data)
	require.NoError(t, os.WriteFile(filepath.Join(data, "inside"), []byte("ok"), 0o644))
	w.Check(t, "a change inside only")

	require.NoError(t, os.WriteFile(filepath.Join(base, "keep"), []byte("b"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(base, "gone")))
	require.NoError(t, os.WriteFile(filepath.Join(base, "new"), nil, 0o644))
	rec := &recorder{TB: t}
	w.Check(rec, "changes outside")
	assert.Len(t, rec.errors, 3, "%q", rec.errors)
}

type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// describeHostFile tells a host file that a hostile tar wrote through,
// linked or replaced from one that a test beside changed as useradd
// does (a user's line added or removed, the file renamed over).
func TestDescribeHostFile(t *testing.T) {
	const passwd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n"
	tests := []struct {
		name    string
		change  func(t *testing.T, p string)
		changed bool
	}{
		{"a user added, renamed over", func(t *testing.T, p string) {
			tmp := p + "+"
			require.NoError(t, os.WriteFile(tmp, []byte(passwd+"remap:x:1000:1000::/:/bin/false\n"), 0o644))
			require.NoError(t, os.Rename(tmp, p))
		}, false},
		{"a user removed", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644))
		}, false},
		{"overwritten by the corpus", func(t *testing.T, p string) {
			require.NoError(t, os.WriteFile(p, []byte("root::0:0::/:/bin/sh\n"), 0o644))
		}, true},
		{"hard-linked into a data root", func(t *testing.T, p string) {
			require.NoError(t, os.Link(p, filepath.Join(filepath.Dir(p), "layer-passwd")))
		}, true},
		{"made a symlink", func(t *testing.T, p string) {
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Symlink("/elsewhere", p))
		}, true},
		{"made world-writable", func(t *testing.T, p string) {
			require.NoError(t, os.Chmod(p, 0o666))
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "passwd")
			require.NoError(t, os.WriteFile(p, []byte(passwd), 0o644))
			before, err := describeHostFile(p)
			require.NoError(t, err)
			tc.change(t, p)
			after, err := describeHostFile(p)
			require.NoError(t, err)
			assert.Equal(t, tc.changed, before != after, "before %s, after %s", before, after)
		})
	}
}
