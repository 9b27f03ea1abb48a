package cri

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// fakeBase is a tiny stand-in for scripts/mkrootfs's tar: a busybox file
// and a symbolic link to it.
func fakeBase(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./bin/", Mode: 0o755}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./bin/busybox", Mode: 0o755, Size: 7}))
	_, err := tw.Write([]byte("BUSYBOX"))
	require.NoError(t, err)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./bin/ls", Linkname: "/bin/busybox"}))
	require.NoError(t, tw.Close())
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

func standIn(t *testing.T, ref string) StandIn {
	t.Helper()
	for _, s := range StandIns() {
		for _, r := range s.Refs {
			if r == ref {
				return s
			}
		}
	}
	t.Fatalf("no stand-in named %s", ref)
	return StandIn{}
}

// TestStandInLayers: each image is the base layer plus its files, with
// the mode and content the specs rely on.
func TestStandInLayers(t *testing.T) {
	base := fakeBase(t)
	helper := []byte("HELPER")
	for _, tc := range []struct {
		ref   string
		files map[string]string
		modes map[string]int64
	}{
		{ref: "registry.k8s.io/e2e-test-images/busybox:1.29-2",
			files: map[string]string{"bin/ls": "BUSYBOX", "usr/bin/pgrep": "HELPER", "usr/bin/ipcs": "HELPER"},
			modes: map[string]int64{"bin/ls": 0o755}},
		{ref: "registry.k8s.io/e2e-test-images/nonewprivs:1.3",
			files: map[string]string{"usr/local/bin/nonewprivs": "HELPER"},
			modes: map[string]int64{"usr/local/bin/nonewprivs": 0o4755}},
		{ref: PauseImage, files: map[string]string{"pause": "HELPER"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			img, err := standIn(t, tc.ref).Build(base, helper)
			require.NoError(t, err)
			layers, err := img.Layers()
			require.NoError(t, err)
			require.Len(t, layers, 2)
			rc, err := layers[1].Uncompressed()
			require.NoError(t, err)
			defer rc.Close()
			entries := labtest.ReadTar(t, rc)
			got := map[string]string{}
			for _, e := range entries {
				if e.Typeflag == tar.TypeReg {
					got[e.Name] = string(e.Data)
					assert.Zero(t, e.Uid, e.Name)
					if m, ok := tc.modes[e.Name]; ok {
						assert.Equal(t, m, e.Mode, e.Name)
					}
				}
			}
			assert.Equal(t, tc.files, got)
		})
	}
}

func TestStandInConfig(t *testing.T) {
	img, err := standIn(t, "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest").Build(fakeBase(t), nil)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "1000", cf.Config.User)
	assert.Equal(t, "linux", cf.OS)
	assert.Len(t, cf.RootFS.DiffIDs, 2)

	_, err = standIn(t, PauseImage).Build(fakeBase(t), nil)
	assert.ErrorContains(t, err, "needs the standin binary")
	_, err = standIn(t, PauseImage).Build(filepath.Join(t.TempDir(), "none.tar"), []byte("x"))
	assert.ErrorContains(t, err, "none.tar")
}

// TestWriteArchive: one docker-archive with every name critest asks for.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	helper := filepath.Join(dir, "helper")
	require.NoError(t, os.WriteFile(helper, []byte("HELPER"), 0o755))
	out := filepath.Join(dir, "images.tar")
	require.NoError(t, WriteArchive(out, fakeBase(t), helper))
	for _, s := range StandIns() {
		for _, r := range s.Refs {
			tag, err := name.NewTag(r)
			require.NoError(t, err)
			_, err = tarball.ImageFromPath(out, &tag)
			assert.NoError(t, err, r)
		}
	}
}
