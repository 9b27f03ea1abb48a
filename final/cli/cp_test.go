package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitCpArg(t *testing.T) {
	for _, tc := range []struct{ in, ctr, path string }{
		{"web:/etc/hosts", "web", "/etc/hosts"},
		{"web:etc", "web", "etc"},
		{"/abs/with:colon", "", "/abs/with:colon"},
		{"./rel:colon", "", "./rel:colon"},
		{"plain", "", "plain"},
		{"-", "", "-"},
	} {
		ctr, p := splitCpArg(tc.in)
		assert.Equal(t, [2]string{tc.ctr, tc.path}, [2]string{ctr, p}, tc.in)
	}
}

// Docker's table of where a copy goes.
func TestPlaceCopy(t *testing.T) {
	for _, tc := range []struct {
		what             string
		srcIsDir, dotted bool
		d                dest
		dst              string
		dir, rename, err string
	}{
		{what: "file to a new name", d: dest{}, dst: "/a/new", dir: "/a", rename: "new"},
		{what: "file to a missing directory", d: dest{}, dst: "/a/new/", err: "must exist"},
		{what: "file over a file", d: dest{exists: true}, dst: "/a/f", dir: "/a", rename: "f"},
		{what: "file into a directory", d: dest{exists: true, isDir: true}, dst: "/a", dir: "/a", rename: "src"},
		{what: "directory to a new name", srcIsDir: true, dst: "/a/new", dir: "/a", rename: "new"},
		{what: "directory over a file", srcIsDir: true, d: dest{exists: true}, dst: "/a/f", err: "cannot copy a directory to a file"},
		{what: "directory into a directory", srcIsDir: true, d: dest{exists: true, isDir: true}, dst: "/a", dir: "/a", rename: "src"},
		{what: "contents into a directory", srcIsDir: true, dotted: true, d: dest{exists: true, isDir: true}, dst: "/a", dir: "/a"},
	} {
		dir, rename, err := placeCopy(tc.srcIsDir, tc.dotted, "src", tc.d, tc.dst)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.what)
			continue
		}
		require.NoError(t, err, tc.what)
		assert.Equal(t, [2]string{tc.dir, tc.rename}, [2]string{dir, rename}, tc.what)
	}
}

func TestRenamed(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"src", "src", "dst", "dst"},
		{"src/", "src", "dst", "dst/"},
		{"src/a/b", "src", "dst", "dst/a/b"},
		{"srcother", "src", "dst", "srcother"},
		{"./", ".", "dst", "dst/"},
		{"a", ".", "dst", "dst/a"},
		{"./a/", ".", "dst", "dst/a/"},
	} {
		assert.Equal(t, tc.want, renamed(tc.name, tc.from, tc.to), "%s %s->%s", tc.name, tc.from, tc.to)
	}
}

// berth cp against the fake engine: both ways, and a tar on stdout.
func TestCpThroughTheAPI(t *testing.T) {
	e := newEngine(t)
	e.ok(t, "run", "--name", "box", "busybox", "touch", "/made")
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tree", "sub", "f"), []byte("deep"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), []byte("flat"), 0o644))

	e.ok(t, "cp", filepath.Join(dir, "tree"), "box:/")
	e.ok(t, "cp", filepath.Join(dir, "file"), "box:/renamed")
	out := t.TempDir()
	e.ok(t, "cp", "box:/tree", filepath.Join(out, "copy"))
	data, err := os.ReadFile(filepath.Join(out, "copy", "sub", "f"))
	require.NoError(t, err)
	assert.Equal(t, "deep", string(data))
	e.ok(t, "cp", "box:/renamed", out)
	data, err = os.ReadFile(filepath.Join(out, "renamed"))
	require.NoError(t, err)
	assert.Equal(t, "flat", string(data))

	tarOut := e.ok(t, "cp", "box:/tree", "-")
	assert.Contains(t, tarOut, "tree/sub/f")

	_, errOut, code := e.berth(t, "", "cp", "box:/no/such", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Could not find the file /no/such in container box")
	_, errOut, code = e.berth(t, "", "cp", "-a", "box:/tree", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "-a (--archive)")
}
