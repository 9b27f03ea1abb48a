package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

// Push an image made in the store, pull it into another store: the same
// image ID, and the pushed manifest's digest as RepoDigest on both sides.
func TestPushThenPull(t *testing.T) {
	f := newFake(t)
	src := newStore(t)
	base := makeLayer(t, "none", "oci", map[string]string{"etc/base": "base"})
	img, err := src.Import(bytes.NewReader(base.tar), image.ImportOptions{Ref: f.host + "/team/app:v1"})
	require.NoError(t, err)
	c := newClient(t, Config{})

	var log progressLog
	res, err := c.Push(ctx(t), src, f.host+"/team/app:v1", PushOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, "v1", res[0].Tag)
	d := base.diffID.Short()
	lines := log.get()
	assert.Equal(t, []string{
		"The push refers to repository [" + f.host + "/team/app]",
		d + ": Preparing",
		d + ": Pushing",
		d + ": Pushed",
		"v1: digest: " + res[0].Digest + " size: " + itoa(res[0].Size),
		"aux v1 " + res[0].Digest + " " + itoa(res[0].Size),
	}, lines)
	assert.Equal(t, 1, f.count("PATCH uploads"), "one PATCH per layer: the stream, compressed as it goes")

	// The manifest is Docker's schema 2, indented as dockerd writes it.
	resp := f.do(http.MethodGet, "/v2/team/app/manifests/v1", "", nil)
	assert.Equal(t, image.MediaTypeDockerManifest, resp.Header.Get("Content-Type"))
	assert.Equal(t, res[0].Digest, resp.Header.Get("Docker-Content-Digest"))

	pushed, err := src.Get(f.host + "/team/app:v1")
	require.NoError(t, err)
	want := []string{f.host + "/team/app@" + res[0].Digest}
	assert.Equal(t, want, pushed.RepoDigests)

	dst := newStore(t)
	pres, err := c.Pull(ctx(t), dst, f.host+"/team/app:v1", PullOptions{Auth: anon})
	require.NoError(t, err)
	assert.Equal(t, img.ID, pres[0].ID)
	assert.Equal(t, res[0].Digest, pres[0].Digest)
	pulled, err := dst.Get(f.host + "/team/app:v1")
	require.NoError(t, err)
	assert.Equal(t, want, pulled.RepoDigests)
	assert.Equal(t, "base", readLayerFile(t, dst, img.ID, "etc/base"))
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A layer the registry has is not sent again: HEAD in the same
// repository, a mount from another one of the same registry.
func TestPushSkipsAndMounts(t *testing.T) {
	f := newFake(t)
	l1 := makeLayer(t, "gzip", "docker", map[string]string{"one": "1"})
	l2 := makeLayer(t, "gzip", "docker", map[string]string{"two": "2"})
	f.putImage("library/base", "v1", "docker", "amd64", "", l1, l2)
	s := newStore(t)
	c := newClient(t, Config{})
	_, err := c.Pull(ctx(t), s, f.host+"/library/base:v1", PullOptions{Auth: anon})
	require.NoError(t, err)

	// Into another repository: both layers mounted, nothing uploaded.
	require.NoError(t, s.Tag(f.host+"/library/base:v1", f.host+"/other/app:v1"))
	f.reset()
	var log progressLog
	res, err := c.Push(ctx(t), s, f.host+"/other/app:v1", PushOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	assert.Equal(t, 2, f.count("POST mount"))
	assert.Equal(t, 0, f.count("PATCH uploads"))
	assert.Equal(t, 0, f.count("POST uploads"), "only the config could need an upload, and the registry has it")
	assert.Equal(t, []string{"Preparing", "Mounted from library/base"}, log.byID(l1.diffID.Short()))
	assert.Equal(t, []string{"Preparing", "Mounted from library/base"}, log.byID(l2.diffID.Short()))

	// The same blobs, so the same manifest as pulled (modulo format).
	var m schema2
	resp := f.do(http.MethodGet, "/v2/other/app/manifests/v1", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_ = m

	// Again into the same repository: HEAD says the layers are there.
	f.reset()
	log = progressLog{}
	res2, err := c.Push(ctx(t), s, f.host+"/other/app:v1", PushOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	assert.Equal(t, res[0].Digest, res2[0].Digest)
	assert.Equal(t, 0, f.count("POST mount"))
	assert.Equal(t, 0, f.count("PATCH uploads"))
	assert.Equal(t, 3, f.count("HEAD blobs"), "two layers and the config")
	assert.Equal(t, []string{"Preparing", "Layer already exists"}, log.byID(l1.diffID.Short()))
}

func TestPushAllTagsAndErrors(t *testing.T) {
	f := newFake(t)
	s := newStore(t)
	l := makeLayer(t, "none", "oci", map[string]string{"a": "a"})
	_, err := s.Import(bytes.NewReader(l.tar), image.ImportOptions{Ref: f.host + "/app:a"})
	require.NoError(t, err)
	l2 := makeLayer(t, "none", "oci", map[string]string{"b": "b"})
	_, err = s.Import(bytes.NewReader(l2.tar), image.ImportOptions{Ref: f.host + "/app:b"})
	require.NoError(t, err)
	require.NoError(t, s.Tag(f.host+"/app:a", f.host+"/elsewhere:a"))
	c := newClient(t, Config{})

	res, err := c.Push(ctx(t), s, f.host+"/app", PushOptions{Auth: anon, AllTags: true})
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "a", res[0].Tag)
	assert.Equal(t, "b", res[1].Tag)
	resp := f.do(http.MethodGet, "/v2/app/tags/list", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err = c.Push(ctx(t), s, f.host+"/app:nope", PushOptions{Auth: anon})
	require.ErrorIs(t, err, image.ErrNotFound)
	assert.Equal(t, "An image does not exist locally with the tag: "+f.host+"/app:nope", err.Error())
	_, err = c.Push(ctx(t), s, f.host+"/app@sha256:"+strings.Repeat("a", 64), PushOptions{Auth: anon})
	require.ErrorIs(t, err, ErrInvalidReference)

	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/v2/" {
			return false
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
		return true
	})
	_, err = c.Push(ctx(t), s, f.host+"/app:a", PushOptions{Auth: anon})
	require.ErrorIs(t, err, ErrUnauthorized)
	require.ErrorContains(t, err, "denied: requested access to the resource is denied")
}
