package image

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// The one-pass ingest: files big enough to be written with O_DIRECT (and
// their unaligned tails), the blob, the diffID, all from one read.
func TestIngestKeepsEveryByteOfBigAndSmallFilesAndOfTheTar(t *testing.T) {
	labtest.Privileged(t) // layers keep their files' owners
	sizes := []int{0, 1, directAlign - 1, directMin - 1, directMin, directMin + 1, ioChunk, 3*ioChunk + 7}
	var entries []entry
	for i, n := range sizes {
		entries = append(entries, entry{Name: fmt.Sprintf("f%d", i), Body: string(labtest.RandomBytes(uint64(i+1), n))})
	}
	entries = append(entries,
		entry{Name: "big-link", Link: fmt.Sprintf("f%d", len(sizes)-1), Hard: true},
		entry{Name: "big-sym", Link: "f7"})
	data := makeTar(t, entries...)
	require.NotZero(t, len(data)%directAlign, "the tar ends in the middle of a block: the blob's tail is written through the cache")

	s := newStore(t)
	img, err := s.Import(bytes.NewReader(data), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, FromBytes(data), img.Config.RootFS.DiffIDs[0])
	blob, err := os.ReadFile(s.blobPath(FromBytes(data)))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, blob), "the blob is the tar, byte for byte")
	layers, err := s.Layers(img.ID)
	require.NoError(t, err)
	for i, n := range sizes {
		got, err := os.ReadFile(filepath.Join(layers[0].Dir, fmt.Sprintf("f%d", i)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(labtest.RandomBytes(uint64(i+1), n), got), "file of %d bytes", n)
	}
	got, err := os.ReadFile(filepath.Join(layers[0].Dir, "big-link"))
	require.NoError(t, err)
	assert.Len(t, got, 3*ioChunk+7)
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), tmpDir)), "nothing left in tmp/")
}

// failAfter gives n bytes of r, then fails.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestIngestThatCannotReadItsSourceLeavesNothing(t *testing.T) {
	s := newStore(t)
	data := makeTar(t, entry{Name: "a", Body: string(labtest.RandomBytes(1, 3*ioChunk))}, entry{Name: "b", Body: "b"})
	broken := errors.New("the client went away")
	for _, n := range []int{100, ioChunk, 2*ioChunk + 5} {
		_, err := s.Import(&failAfter{r: bytes.NewReader(data), n: n, err: broken}, ImportOptions{})
		require.ErrorIs(t, err, broken, "after %d bytes", n)
	}
	_, err := s.Import(bytes.NewReader(append(makeTar(t, entry{Name: "../out", Body: "x"}), make([]byte, 3*ioChunk)...)), ImportOptions{})
	require.ErrorIs(t, err, ErrUnsafePath)
	for _, d := range []string{tmpDir, layersDir, blobsDir} {
		assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), d)), d)
	}
}

// loadConfig is a config with the given layers.
func loadConfig(diffs ...Digest) string {
	quoted := make([]string, len(diffs))
	for i, d := range diffs {
		quoted[i] = `"` + string(d) + `"`
	}
	return `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[` + strings.Join(quoted, ",") + `]}}`
}

// The same layer content at two places: alone (image a), and on top of
// another layer (image b). It is one blob but two layer directories,
// whichever comes first in the archive, the layers or their description.
func TestLoadUnpacksALayerOnceForEachPlaceInAStack(t *testing.T) {
	labtest.Privileged(t)
	x := makeTar(t, entry{Name: "x", Body: string(labtest.RandomBytes(7, ioChunk+1))})
	y := makeTar(t, entry{Name: "y", Body: "y"})
	dx, dy := FromBytes(x), FromBytes(y)
	ca, cb := loadConfig(dx), loadConfig(dy, dx)
	ida, idb := FromBytes([]byte(ca)), FromBytes([]byte(cb))
	manifest := `[{"Config":"a.json","RepoTags":["a:1"],"Layers":["x/layer.tar"]},` +
		`{"Config":"b.json","RepoTags":["b:1"],"Layers":["y/layer.tar","x2/layer.tar"]}]`
	description := []entry{{Name: "manifest.json", Body: manifest}, {Name: "a.json", Body: ca}, {Name: "b.json", Body: cb}}
	layers := []entry{{Name: "x/layer.tar", Body: string(x)}, {Name: "y/layer.tar", Body: string(y)},
		{Name: "x2/layer.tar", Link: "../x/layer.tar"}}
	for name, order := range map[string][]entry{
		"description first": append(append([]entry{}, description...), layers...),
		"layers first":      append(append([]entry{}, layers...), description...),
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			loaded, err := s.Load(bytes.NewReader(makeTar(t, order...)))
			require.NoError(t, err)
			assert.ElementsMatch(t, []Loaded{{ID: ida, Tags: []string{"a:1"}}, {ID: idb, Tags: []string{"b:1"}}}, loaded)
			assert.Equal(t, 3, countEntries(t, filepath.Join(s.Dir(), layersDir)), "x alone, y, x on y")
			assert.Equal(t, 4, countEntries(t, filepath.Join(s.Dir(), blobsDir)), "two configs, two layers")
			for _, id := range []Digest{ida, idb} {
				files := flat(t, s, id)
				assert.Len(t, files["x"], ioChunk+1)
			}
			assert.Equal(t, "y", flat(t, s, idb)["y"])
			assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), tmpDir)), "nothing left in tmp/")
		})
	}
}

// Save puts the description first, so that a load knows what each layer
// is when it comes: a layer the store has is then not read at all (here:
// it is broken, and the load does not notice), one it lacks is checked.
func TestLoadOfBerthsArchiveSkipsTheLayersTheStoreHas(t *testing.T) {
	labtest.Privileged(t)
	src := newStore(t)
	base := importBusybox(t, src, "busybox")
	// A big new layer: the test sees it being written.
	app, err := src.Commit(containerUpper(t, map[string]string{"hello.txt": "hello", "big": string(labtest.RandomBytes(5, 2*ioChunk))}),
		CommitOptions{Parent: base.ID, Ref: "app:v1"})
	require.NoError(t, err)
	var saved bytes.Buffer
	require.NoError(t, src.Save(&saved, []string{"app:v1"}))

	names := labtest.TarNames(t, bytes.NewReader(saved.Bytes()))
	first := len(names)
	for i, n := range names {
		for _, d := range app.Config.RootFS.DiffIDs {
			if n == "blobs/sha256/"+d.Hex() && i < first {
				first = i
			}
		}
	}
	assert.Subset(t, names[:first], []string{"manifest.json", "index.json", "blobs/sha256/" + app.ID.Hex(), "blobs/sha256/" + base.ID.Hex()},
		"the description comes before the layers")

	baseLayer := "blobs/sha256/" + base.Config.RootFS.DiffIDs[0].Hex()
	broken := rewriteTar(t, saved.Bytes(), func(name string, body []byte) ([]byte, bool) {
		if name == baseLayer {
			body = append([]byte{}, body...)
			body[len(body)-1] ^= 1
		}
		return body, true
	})
	has := newStore(t)
	importBusybox(t, has, "busybox")
	watch := &tmpWatcher{r: bytes.NewReader(broken), dir: filepath.Join(has.Dir(), tmpDir), seen: map[string]bool{}}
	loaded, err := has.Load(watch)
	require.NoError(t, err, "the base layer is not read")
	assert.Len(t, watch.seen, 1, "one layer was unpacked: the new one")
	assert.Contains(t, loaded, Loaded{ID: app.ID, Tags: []string{"app:v1"}})
	assert.Equal(t, "hello", flat(t, has, app.ID)["hello.txt"])

	fresh := newStore(t)
	_, err = fresh.Load(bytes.NewReader(broken))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not match its diffID")
	assert.Zero(t, countEntries(t, filepath.Join(fresh.Dir(), layersDir)), "no layer left behind")
	assert.Zero(t, countEntries(t, filepath.Join(fresh.Dir(), tmpDir)), "no work left behind")
}

// tmpWatcher notes the blobs being written in the store's tmp/ while an
// archive is read.
type tmpWatcher struct {
	r    io.Reader
	dir  string
	seen map[string]bool
}

func (w *tmpWatcher) Read(p []byte) (int, error) {
	entries, _ := os.ReadDir(w.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "blob-") {
			w.seen[e.Name()] = true
		}
	}
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	return w.r.Read(p)
}

// Files that look like layers but that no image uses (another platform's,
// an attestation) are unpacked on speculation when they come before the
// description, and thrown away; symlinks among the archive's files
// resolve inside it only.
func TestLoadThrowsAwayWhatNoImageUsesAndRefusesLinksOut(t *testing.T) {
	labtest.Privileged(t)
	x := makeTar(t, entry{Name: "x", Body: "x"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(makeTar(t, entry{Name: "other", Body: "other"}))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	cfg := loadConfig(FromBytes(x))
	s := newStore(t)
	_, err = s.Load(bytes.NewReader(makeTar(t,
		entry{Name: "unused.tar.gz", Body: gz.String()},
		entry{Name: "x.tar", Body: string(x)},
		entry{Name: "c.json", Body: cfg},
		entry{Name: "manifest.json", Body: `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["x.tar"]}]`})))
	require.NoError(t, err)
	assert.Equal(t, 1, countEntries(t, filepath.Join(s.Dir(), layersDir)))
	assert.Equal(t, 2, countEntries(t, filepath.Join(s.Dir(), blobsDir)), "the config and the layer")
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), tmpDir)))

	// Checked at the end, when the description comes last.
	s = newStore(t)
	_, err = s.Load(bytes.NewReader(makeTar(t,
		entry{Name: "y.tar", Body: string(makeTar(t, entry{Name: "y", Body: "not x"}))},
		entry{Name: "c.json", Body: cfg},
		entry{Name: "manifest.json", Body: `[{"Config":"c.json","RepoTags":["y:1"],"Layers":["y.tar"]}]`})))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not match its diffID")
	assert.Zero(t, countEntries(t, filepath.Join(s.Dir(), tmpDir)))

	for _, link := range []string{"../../x.tar", "/x.tar", "a/../../../x.tar"} {
		_, err = newStore(t).Load(bytes.NewReader(makeTar(t,
			entry{Name: "x.tar", Body: string(x)},
			entry{Name: "l/layer.tar", Link: link},
			entry{Name: "c.json", Body: cfg},
			entry{Name: "manifest.json", Body: `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]`})))
		require.ErrorIs(t, err, ErrUnsafePath, link)
	}
}

func TestDirectFileWritesAnyBufferAndSize(t *testing.T) {
	buf := alignedBuffer(3 * directAlign)
	copy(buf, labtest.RandomBytes(3, len(buf)))
	name := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(name)
	require.NoError(t, err)
	d := newDirectFile(f)
	for _, p := range [][]byte{buf[:2*directAlign], buf[2*directAlign : 2*directAlign+10], buf[2*directAlign+10:]} {
		n, err := d.Write(p)
		require.NoError(t, err)
		require.Equal(t, len(p), n)
	}
	assert.False(t, d.direct, "after an unaligned write, the cache")
	require.NoError(t, f.Close())
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(buf, got))
}
