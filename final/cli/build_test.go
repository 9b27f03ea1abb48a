package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

func tarEntries(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	entries := map[string]*tar.Header{}
	for _, e := range labtest.ReadTar(t, r) {
		entries[e.Name] = e.Header
	}
	return entries
}

func sortedNames(m map[string]*tar.Header) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestWriteBuildContext(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"Dockerfile":         "FROM busybox\n",
		".dockerignore":      ".dockerignore\nDockerfile\n**/*.secret\ntmp\n!tmp/keep\n",
		"app/main.sh":        "echo hi\n",
		"app/key.secret":     "x",
		"tmp/junk":           "x",
		"tmp/keep":           "kept",
		"nested/deep/a.file": "a",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o640))
	}
	require.NoError(t, os.Symlink("app/main.sh", filepath.Join(dir, "link")))

	var buf bytes.Buffer
	dockerfile, err := writeBuildContext(&buf, dir, "")
	require.NoError(t, err)
	assert.Equal(t, "Dockerfile", dockerfile)
	entries := tarEntries(t, &buf)
	assert.Equal(t, []string{
		".dockerignore", "Dockerfile", // always sent, even when ignored
		"app/", "app/main.sh", "link",
		"nested/", "nested/deep/", "nested/deep/a.file",
		"tmp/keep", // brought back by the exception, without the rest of tmp
	}, sortedNames(entries))
	assert.Equal(t, 0, entries["app/main.sh"].Uid, "owned by root in the context")
	assert.Equal(t, int64(0o640), entries["app/main.sh"].Mode&0o777)
	assert.Equal(t, byte(tar.TypeSymlink), entries["link"].Typeflag)
	assert.Equal(t, "app/main.sh", entries["link"].Linkname, "symlinks are sent as links, not followed")

	// A Dockerfile given with -f, relative to the context.
	buf.Reset()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "Dockerfile.dev"), []byte("FROM x\n"), 0o644))
	dockerfile, err = writeBuildContext(&buf, dir, "app/Dockerfile.dev")
	require.NoError(t, err)
	assert.Equal(t, "app/Dockerfile.dev", dockerfile)

	// A Dockerfile outside the context travels under a random name.
	outside := filepath.Join(t.TempDir(), "Other.Dockerfile")
	require.NoError(t, os.WriteFile(outside, []byte("FROM y\n"), 0o644))
	buf.Reset()
	dockerfile, err = writeBuildContext(&buf, dir, outside)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(dockerfile, ".dockerfile."), dockerfile)
	assert.Contains(t, tarEntries(t, &buf), dockerfile)

	_, err = writeBuildContext(io.Discard, filepath.Join(dir, "nope"), "")
	assert.ErrorContains(t, err, "unable to prepare context")
	_, err = writeBuildContext(io.Discard, filepath.Join(dir, "app"), "")
	assert.Error(t, err, "no Dockerfile")
}

func TestStdinContext(t *testing.T) {
	// A Dockerfile alone becomes a context of one file.
	r, name, err := stdinContext(strings.NewReader("FROM busybox\nRUN true\n"))
	require.NoError(t, err)
	assert.Equal(t, "Dockerfile", name)
	entries := tarEntries(t, r)
	assert.Equal(t, []string{"Dockerfile"}, sortedNames(entries))

	// A tar passes through untouched.
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
	_, _ = tw.Write([]byte("FROM\n"))
	require.NoError(t, tw.Close())
	original := tarBuf.Bytes()
	r, name, err = stdinContext(bytes.NewReader(original))
	require.NoError(t, err)
	assert.Equal(t, "", name)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, original, got)
}
