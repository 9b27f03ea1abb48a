package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// dockerIDs reads testdata/IDS: what dockerd itself said the images'
// IDs, diffIDs and parent were when mkarchives.sh made the archives.
func dockerIDs(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../testdata/IDS")
	require.NoError(t, err)
	defer f.Close()
	ids := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 {
			ids[fields[0]] = fields[1:]
		}
	}
	return ids
}

func loadFile(t *testing.T, s *Store, name string) []Loaded {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	loaded, err := s.Load(f)
	require.NoError(t, err, name)
	return loaded
}

// checkBerthTestV2 checks the files of berth-test:v2, the image that
// mkarchives.sh made with dockerd, as its stacked layers show them.
func checkBerthTestV2(t *testing.T, s *Store, id Digest) {
	t.Helper()
	files := flat(t, s, id)
	assert.Equal(t, "hello\nbye\n", files["hello.txt"])
	assert.Equal(t, "hello\n", files["hello-link"], "the hard link kept the old content (overlay copied hello.txt up)")
	assert.Equal(t, "v2\n", files["data/v"])
	assert.NotContains(t, files, "data/old", "/data was replaced: an opaque whiteout hides the old files")
	assert.NotContains(t, files, "bin/vi", "deleted: a whiteout")
	assert.Contains(t, files, "bin/busybox")

	layers, err := s.Layers(id)
	require.NoError(t, err)
	require.Len(t, layers, 3)
	top := layers[2].Dir
	fi, err := os.Lstat(filepath.Join(top, "bin", "vi"))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeCharDevice, "bin/vi is an overlay whiteout in the layer directory")
	v := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(top, "data"), "trusted.overlay.opaque", v)
	require.NoError(t, err)
	assert.Equal(t, "y", string(v[:n]))
	capability := make([]byte, 64)
	n, err = unix.Lgetxattr(filepath.Join(top, "data", "xattr.txt"), "security.capability", capability)
	require.NoError(t, err, "Docker's security.capability xattr survives")
	assert.Equal(t, []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, capability[:n])
	st, err := os.Lstat(filepath.Join(top, "hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	target, err := os.Readlink(filepath.Join(layers[1].Dir, "hello-sym"))
	require.NoError(t, err)
	assert.Equal(t, "hello.txt", target)
	var sys unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(layers[1].Dir, "data", "v"), &sys))
	assert.EqualValues(t, 1000, sys.Uid, "chown 1000:1000 in berth-test:v1")
	require.NoError(t, unix.Lstat(filepath.Join(layers[1].Dir, "hello-link"), &sys))
	assert.EqualValues(t, 2, sys.Nlink, "hello-link and hello.txt are one file in berth-test:v1's layer")
}

func TestS7_S21_LoadsArchivesThatRealDockerWrote(t *testing.T) {
	labtest.Privileged(t)
	ids := dockerIDs(t)
	v1, v2 := Digest(ids["berth-test:v1"][0]), Digest(ids["berth-test:v2"][0])

	t.Run("docker-20.10-save", func(t *testing.T) {
		// The legacy layout: <v1id>/layer.tar (one of them a symlink to
		// another), <config>.json, manifest.json with Parent.
		s := newStore(t)
		loaded := loadFile(t, s, "../testdata/docker-20.10.tar.gz")
		assert.ElementsMatch(t, []Loaded{{ID: v1, Tags: []string{"berth-test:v1"}}, {ID: v2, Tags: []string{"berth-test:v2"}}}, loaded)
		img, err := s.Get("berth-test:v2")
		require.NoError(t, err)
		assert.Equal(t, v2, img.ID, "the ID dockerd gave it: sha256 of the config bytes")
		assert.Equal(t, Digest(ids["parent-of-v2"][0]), img.Parent, "manifest.json's Parent becomes the parent link")
		for i, d := range img.Config.RootFS.DiffIDs {
			assert.Equal(t, Digest(ids["diff_ids"][i]), d)
		}
		checkBerthTestV2(t, s, img.ID)
		assert.Equal(t, 3, countEntries(t, filepath.Join(s.Dir(), "layers")), "layers shared by v1 and v2 unpacked once")
		steps, err := s.History("berth-test:v2")
		require.NoError(t, err)
		require.Len(t, steps, 3)
		assert.Equal(t, []Digest{v2, v1, ""}, []Digest{steps[0].ID, steps[1].ID, steps[2].ID})
	})
	t.Run("oci-layout-with-manifest.json", func(t *testing.T) {
		// containerd's exporter: oci-layout, index.json, blobs/sha256,
		// and manifest.json with blob paths, as Docker 25+ writes with
		// the containerd image store.
		s := newStore(t)
		loaded := loadFile(t, s, "../testdata/containerd-export.tar.gz")
		assert.ElementsMatch(t, []Loaded{{ID: v1, Tags: []string{"berth-test:v1"}}, {ID: v2, Tags: []string{"berth-test:v2"}}}, loaded)
		checkBerthTestV2(t, s, v2)
	})
	t.Run("plain-oci-layout-gzip-layers", func(t *testing.T) {
		// skopeo's oci-archive: no manifest.json, gzip layers, and a
		// config skopeo rewrote (so another ID, the same diffIDs).
		s := newStore(t)
		loaded := loadFile(t, s, "../testdata/skopeo-oci.tar")
		require.Len(t, loaded, 1)
		assert.Equal(t, []string{"berth-test:v2"}, loaded[0].Tags)
		img, err := s.Get("berth-test:v2")
		require.NoError(t, err)
		for i, d := range img.Config.RootFS.DiffIDs {
			assert.Equal(t, Digest(ids["diff_ids"][i]), d, "gunzipped, each layer hashes to dockerd's diffID")
		}
		checkBerthTestV2(t, s, img.ID)
	})
}

func TestS33_SaveWritesTheDocker25Layout(t *testing.T) {
	s := newStore(t)
	base := importBusybox(t, s, "busybox")
	app, err := s.Commit(containerUpper(t, map[string]string{"hello.txt": "hello"}), CommitOptions{Parent: base.ID, Ref: "app:v1"})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, s.Save(&buf, []string{"app:v1"}))

	files := labtest.TarFiles(t, bytes.NewReader(buf.Bytes()))
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, files["oci-layout"])
	var manifest []ManifestItem
	require.NoError(t, json.Unmarshal([]byte(files["manifest.json"]), &manifest))
	require.Len(t, manifest, 2, "the image and its parent")
	assert.Empty(t, manifest[0].RepoTags)
	assert.Equal(t, []string{"app:v1"}, manifest[1].RepoTags)
	assert.Equal(t, "blobs/sha256/"+app.ID.Hex(), manifest[1].Config)
	assert.Equal(t, base.ID, manifest[1].Parent)
	for i, d := range app.Config.RootFS.DiffIDs {
		assert.Equal(t, "blobs/sha256/"+d.Hex(), manifest[1].Layers[i])
		assert.Equal(t, d, FromBytes([]byte(files[manifest[1].Layers[i]])), "layers are stored uncompressed, named by diffID")
	}
	var index Index
	require.NoError(t, json.Unmarshal([]byte(files["index.json"]), &index))
	var named *Descriptor
	for i, d := range index.Manifests {
		if d.Annotations != nil {
			named = &index.Manifests[i]
		}
	}
	require.NotNil(t, named)
	assert.Equal(t, "docker.io/library/app:v1", named.Annotations[AnnotationImageName])
	assert.Equal(t, "v1", named.Annotations[AnnotationRefName])
	var m Manifest
	mraw := files["blobs/sha256/"+named.Digest.Hex()]
	require.NoError(t, json.Unmarshal([]byte(mraw), &m))
	assert.Equal(t, named.Digest, FromBytes([]byte(mraw)))
	assert.Equal(t, app.ID, m.Config.Digest)
	assert.Equal(t, MediaTypeOCILayer, m.Layers[0].MediaType)
	var repos map[string]map[string]string
	require.NoError(t, json.Unmarshal([]byte(files["repositories"]), &repos))
	assert.Equal(t, app.Config.RootFS.DiffIDs[1].Hex(), repos["app"]["v1"])

	// The same archive without manifest.json is a plain OCI layout,
	// which berth reads by index.json.
	plain := rewriteTar(t, buf.Bytes(), func(name string, body []byte) ([]byte, bool) {
		return body, name != "manifest.json" && name != "repositories"
	})
	b := newStore(t)
	loaded, err := b.Load(bytes.NewReader(plain))
	require.NoError(t, err)
	assert.Contains(t, loaded, Loaded{ID: app.ID, Tags: []string{"app:v1"}})
}

// rewriteTar copies a tar, letting edit change or drop (false) entries.
func rewriteTar(t *testing.T, data []byte, edit func(name string, body []byte) ([]byte, bool)) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		body, keep := edit(hdr.Name, body)
		if !keep {
			continue
		}
		hdr.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return out.Bytes()
}

func TestLoadRefusesBadArchivesAndChangesNothing(t *testing.T) {
	src := newStore(t)
	base := importBusybox(t, src, "busybox")
	var saved bytes.Buffer
	require.NoError(t, src.Save(&saved, []string{"busybox"}))
	layerPath := "blobs/sha256/" + base.Config.RootFS.DiffIDs[0].Hex()

	manifestWith := func(m string) []byte {
		return rewriteTar(t, saved.Bytes(), func(name string, body []byte) ([]byte, bool) {
			if name == "manifest.json" {
				return []byte(m), true
			}
			return body, true
		})
	}
	cfg := "blobs/sha256/" + base.ID.Hex()
	cases := map[string]struct {
		archive []byte
		want    string
	}{
		"a layer that does not match its diffID": {
			archive: rewriteTar(t, saved.Bytes(), func(name string, body []byte) ([]byte, bool) {
				if name == layerPath {
					body = append([]byte{}, body...)
					body[len(body)-1] ^= 1 // the padding: still a valid tar
				}
				return body, true
			}),
			want: "does not match its diffID",
		},
		"a config path that climbs out": {
			archive: manifestWith(`[{"Config":"../../etc/passwd","RepoTags":["x:y"],"Layers":["` + layerPath + `"]}]`),
			want:    "leads outside",
		},
		"a layer path that climbs out": {
			archive: manifestWith(`[{"Config":"` + cfg + `","RepoTags":["x:y"],"Layers":["../x/layer.tar"]}]`),
			want:    "leads outside",
		},
		"fewer layers than diff_ids": {
			archive: manifestWith(`[{"Config":"` + cfg + `","RepoTags":["x:y"],"Layers":[]}]`),
			want:    "0 layers, but the config has 1 diff_ids",
		},
		"a RepoTags entry without a tag": {
			archive: manifestWith(`[{"Config":"` + cfg + `","RepoTags":["x"],"Layers":["` + layerPath + `"]}]`),
			want:    "not NAME:TAG",
		},
		"a missing layer": {
			archive: rewriteTar(t, saved.Bytes(), func(name string, body []byte) ([]byte, bool) {
				return body, name != layerPath
			}),
			want: "no such file",
		},
		"not an archive of images": {
			archive: makeTar(t, entry{Name: "hello.txt", Body: "hi"}),
			want:    "no manifest.json, no index.json",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Load(bytes.NewReader(tc.archive))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assertStoreEmpty(t, s)
		})
	}
}

func TestImportReadsCompressedTars(t *testing.T) {
	s := newStore(t)
	rootfs := labtest.BusyboxRootfs(t)
	plain, err := os.ReadFile(rootfs + ".tar")
	require.NoError(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	a, err := s.Import(bytes.NewReader(plain), ImportOptions{})
	require.NoError(t, err)
	b, err := s.Import(bytes.NewReader(gz.Bytes()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, FromBytes(plain), a.Config.RootFS.DiffIDs[0], "the diffID is the sha256 of the uncompressed tar")
	assert.Equal(t, a.Config.RootFS.DiffIDs, b.Config.RootFS.DiffIDs, "compressed or not, the same layer")
	assert.Equal(t, 1, countEntries(t, filepath.Join(s.Dir(), "layers")), "and unpacked once")
}
