package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// pullConfig is an image config for layer tars.
func pullConfig(t *testing.T, tars ...[]byte) []byte {
	t.Helper()
	cfg := newConfig(testTime)
	for _, tr := range tars {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, FromBytes(tr))
	}
	raw, err := cfg.marshal()
	require.NoError(t, err)
	return raw
}

var testTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zst(t *testing.T, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	return w.EncodeAll(b, nil)
}

// storeIsEmpty: no image, no layer, no blob, nothing in tmp/, no lease.
func storeIsEmpty(t *testing.T, s *Store) {
	t.Helper()
	for _, d := range []string{layersDir, blobsDir, tmpDir, recordsDir, leasesDir, distDir} {
		assert.Equal(t, 0, countEntries(t, filepath.Join(s.dir, d)), d)
	}
}

func TestPullAddsLayersAsTheyComeAndTheImageLast(t *testing.T) {
	labtest.Privileged(t) // layers keep their files' owners
	s := newStore(t)
	l1 := makeTar(t, entry{Name: "etc/"}, entry{Name: "etc/one", Body: "1"})
	l2 := makeTar(t, entry{Name: "two", Body: "2"})
	l3 := makeTar(t, entry{Name: "three", Body: "3"})
	raw := pullConfig(t, l1, l2, l3)
	p, err := s.NewPull(raw)
	require.NoError(t, err)
	defer p.Close()
	// In any order, and in any compression.
	for _, tc := range []struct {
		i    int
		blob []byte
		c    Compression
	}{{2, zst(t, l3), Zstd}, {0, gz(t, l1), Gzip}, {1, l2, Uncompressed}} {
		c, err := p.AddLayer(tc.i, bytes.NewReader(tc.blob))
		require.NoError(t, err)
		assert.Equal(t, tc.c, c)
	}
	imgs, err := s.Images()
	require.NoError(t, err)
	assert.Empty(t, imgs, "no image before Commit")
	have, err := p.Have(1)
	require.NoError(t, err)
	assert.True(t, have)

	rd := RepoDigest{Name: "127.0.0.1:5000/app", Digest: FromBytes([]byte("manifest"))}
	src := BlobSource{Digest: FromBytes(gz(t, l1)), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 10, Repository: "127.0.0.1:5000/app"}
	img, changed, err := p.Commit(PullCommit{Tag: "127.0.0.1:5000/app:v1", RepoDigest: rd, Sources: map[Digest]BlobSource{FromBytes(l1): src}})
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, FromBytes(raw), img.ID)
	assert.Equal(t, []string{"127.0.0.1:5000/app:v1"}, img.Tags)
	assert.Equal(t, []string{rd.String()}, img.RepoDigests)
	assert.Equal(t, map[string]string{"etc/one": "1", "two": "2", "three": "3"}, flat(t, s, img.ID))
	srcs, err := s.BlobSources(FromBytes(l1))
	require.NoError(t, err)
	assert.Equal(t, []BlobSource{src}, srcs)
	p.Close()
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.dir, tmpDir)))
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.dir, leasesDir)))

	// The same pull again changes nothing.
	changed, err = s.SetPulled(img.ID, "127.0.0.1:5000/app:v1", rd)
	require.NoError(t, err)
	assert.False(t, changed)
}

func TestPullFailureLeavesNothing(t *testing.T) {
	labtest.Privileged(t)
	good := makeTar(t, entry{Name: "good", Body: "g"})
	other := makeTar(t, entry{Name: "other", Body: "o"})
	for _, tc := range []struct {
		name string
		blob io.Reader
		want string
	}{
		{"not the diffID", bytes.NewReader(good), "does not match its diffID"},
		{"the blob's reader fails at its end", io.MultiReader(bytes.NewReader(gz(t, other)), errReader{}), "bad bytes"},
		{"not a tar", bytes.NewReader([]byte("this is not a tar archive, not at all, and it goes on for a while to fill a header block")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			p, err := s.NewPull(pullConfig(t, good, other))
			require.NoError(t, err)
			_, err = p.AddLayer(0, bytes.NewReader(good))
			require.NoError(t, err)
			_, err = p.AddLayer(1, tc.blob)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
			p.Close()
			storeIsEmpty(t, s)
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("bad bytes") }

// A pull killed in the middle leaves layers and a session's lease; the
// next start's Recover collects them, and the store is as before.
func TestPullCutShortIsRecovered(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	keep := importBusybox(t, s, "busybox:latest")
	l1 := makeTar(t, entry{Name: "one", Body: "1"})
	l2 := makeTar(t, entry{Name: "two", Body: "2"})
	p, err := s.NewPull(pullConfig(t, l1, l2))
	require.NoError(t, err)
	_, err = p.AddLayer(0, bytes.NewReader(l1))
	require.NoError(t, err)
	// No Commit, no Close: the process died here.
	require.NoError(t, s.Recover())
	imgs, err := s.Images()
	require.NoError(t, err)
	require.Len(t, imgs, 1)
	assert.Equal(t, keep.ID, imgs[0].ID)
	assert.Equal(t, 1, countEntries(t, filepath.Join(s.dir, layersDir)))
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.dir, tmpDir)))
	assert.Equal(t, 0, countEntries(t, filepath.Join(s.dir, leasesDir)))
}

func TestRepoDigests(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	a := importBusybox(t, s, "127.0.0.1:5000/app:v1")
	b, err := s.Import(bytes.NewReader(makeTar(t, entry{Name: "b", Body: "b"})), ImportOptions{Ref: "other:1"})
	require.NoError(t, err)
	d1 := RepoDigest{Name: "127.0.0.1:5000/app", Digest: FromBytes([]byte("m1"))}
	require.NoError(t, s.AddRepoDigest(a.ID, d1))

	// Found by NAME@digest, in any spelling of the name.
	for _, ref := range []string{d1.String(), "127.0.0.1:5000/app:v1@" + string(d1.Digest)} {
		got, err := s.Get(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, a.ID, got.ID)
	}
	hub := RepoDigest{Name: "busybox", Digest: FromBytes([]byte("m2"))}
	require.NoError(t, s.AddRepoDigest(a.ID, hub))
	got, err := s.Get("docker.io/library/busybox@" + string(hub.Digest))
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	assert.Equal(t, []string{d1.String(), hub.String()}, got.RepoDigests)
	_, err = s.Get("busybox@" + string(FromBytes([]byte("none"))))
	require.ErrorIs(t, err, ErrNotFound)

	// Kept when tags move, and after reopening the store.
	require.NoError(t, s.Tag(string(b.ID), "127.0.0.1:5000/app:v1"))
	s2, err := Open(s.dir)
	require.NoError(t, err)
	got, err = s2.Get(string(a.ID))
	require.NoError(t, err)
	assert.Equal(t, []string{d1.String(), hub.String()}, got.RepoDigests)

	// A NAME@digest names one image: given to another, it moves.
	require.NoError(t, s.AddRepoDigest(b.ID, d1))
	got, err = s.Get(string(a.ID))
	require.NoError(t, err)
	assert.Equal(t, []string{hub.String()}, got.RepoDigests)
	got, err = s.Get(d1.String())
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID)

	// Gone with the image.
	_, err = s.Remove(string(b.ID), true)
	require.NoError(t, err)
	_, err = s.Get(d1.String())
	require.ErrorIs(t, err, ErrNotFound)
}

func TestBlobSources(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	img := importBusybox(t, s, "busybox:latest")
	diff := img.Config.RootFS.DiffIDs[0]
	src := func(repo, data string) BlobSource {
		return BlobSource{Digest: FromBytes([]byte(data)), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Size: int64(len(data)), Repository: repo}
	}
	require.NoError(t, s.AddBlobSources(diff, src("docker.io/library/busybox", "a")))
	require.NoError(t, s.AddBlobSources(diff, src("127.0.0.1:5000/team/app", "b")))
	require.NoError(t, s.AddBlobSources(diff, src("docker.io/library/busybox", "a")))
	list, err := s.BlobSources(diff)
	require.NoError(t, err)
	assert.Equal(t, []BlobSource{src("docker.io/library/busybox", "a"), src("127.0.0.1:5000/team/app", "b")}, list, "newest first, no duplicates")
	raw, err := os.ReadFile(s.distPath(diff))
	require.NoError(t, err)
	require.True(t, json.Valid(raw))

	// Collected with the layer.
	_, err = s.Remove("busybox:latest", false)
	require.NoError(t, err)
	_, err = os.Stat(s.distPath(diff))
	require.ErrorIs(t, err, os.ErrNotExist)
	// And not written for a layer the store does not have.
	require.NoError(t, s.AddBlobSources(diff, src("x/y", "c")))
	list, err = s.BlobSources(diff)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestDecompressZstd(t *testing.T) {
	data := bytes.Repeat([]byte("zstd layer "), 10000)
	r, c, err := Decompress(bytes.NewReader(zst(t, data)))
	require.NoError(t, err)
	assert.Equal(t, Zstd, c)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, data, got)
}

// rmi NAME@digest removes that name; the last name takes the image.
func TestRemoveByRepoDigest(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	img := importBusybox(t, s, "127.0.0.1:5000/app:v1")
	rd := RepoDigest{Name: "127.0.0.1:5000/app", Digest: FromBytes([]byte("m"))}
	require.NoError(t, s.AddRepoDigest(img.ID, rd))
	done, err := s.Remove(rd.String(), false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: " + rd.String()}, done)
	got, err := s.Get("127.0.0.1:5000/app:v1")
	require.NoError(t, err)
	assert.Empty(t, got.RepoDigests)

	// The last tag takes the image, and its digests with it.
	require.NoError(t, s.AddRepoDigest(img.ID, rd))
	done, err = s.Remove("127.0.0.1:5000/app:v1", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: 127.0.0.1:5000/app:v1", "Untagged: " + rd.String(), "Deleted: " + string(img.ID)}, done)
	storeIsEmpty(t, s)

	// And the last name may be a digest (a pull by digest sets no tag).
	img = importBusybox(t, s, "")
	require.NoError(t, s.AddRepoDigest(img.ID, rd))
	done, err = s.Remove(rd.String(), false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: " + rd.String(), "Deleted: " + string(img.ID)}, done)
	storeIsEmpty(t, s)
}
