package labtest

import (
	"archive/tar"
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadTar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		hdr  tar.Header
		body string
	}{
		{tar.Header{Typeflag: tar.TypeDir, Name: "./etc/", Mode: 0o755}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "./etc/hostname", Mode: 0o644, Size: 4}, "box\n"},
		{tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "busybox"}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "empty", Mode: 0o600}, ""},
	} {
		require.NoError(t, tw.WriteHeader(&e.hdr))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()

	entries := ReadTar(t, bytes.NewReader(data))
	require.Len(t, entries, 4)
	assert.Equal(t, "busybox", entries[2].Linkname)
	assert.Equal(t, "box\n", string(entries[1].Data))
	assert.Equal(t, []string{"./etc/", "./etc/hostname", "bin/sh", "empty"}, TarNames(t, bytes.NewReader(data)))
	assert.Equal(t, map[string]string{"etc/hostname": "box\n", "empty": ""}, TarFiles(t, bytes.NewReader(data)))
}

func TestBigTar(t *testing.T) {
	name := BigTar(t, 3, 1024)
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	files := TarFiles(t, f)
	require.Len(t, files, 3)
	assert.Equal(t, string(RandomBytes(1, 1024)), files["data/f001"])
	assert.NotEqual(t, files["data/f000"], files["data/f001"], "each file its own content")
	assert.Equal(t, RandomBytes(7, 64), RandomBytes(7, 64), "the same seed, the same bytes")
}
