package registrytest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readLayers reads every layer's blob and checks it against its digest
// (go-containerregistry verifies while reading and fails at EOF).
func readLayers(t *testing.T, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	for _, l := range layers {
		rc, err := l.Compressed()
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
	}
}

func assertStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	require.Error(t, err, what)
	var terr *transport.Error
	require.True(t, errors.As(err, &terr), "%s: %v", what, err)
	assert.Equal(t, status, terr.StatusCode, "%s: %v", what, err)
}

func TestModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      Options
		challenge string // the start of /v2/'s WWW-Authenticate
	}{
		{"plain", Options{}, ""},
		{"tls", Options{TLS: true}, ""},
		{"basic", Options{Auth: AuthBasic}, `Basic realm="registrytest"`},
		{"tls-basic", Options{TLS: true, Auth: AuthBasic}, `Basic realm="registrytest"`},
		{"token", Options{Auth: AuthToken}, `Bearer realm="http://localhost:`},
		{"tls-token", Options{TLS: true, Auth: AuthToken, CountRequests: true}, `Bearer realm="https://localhost:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Start(t, tc.opts)
			assert.True(t, strings.HasPrefix(r.URL(), map[bool]string{true: "https://", false: "http://"}[tc.opts.TLS]))

			resp, err := r.HTTPClient().Get(r.URL() + "/v2/")
			require.NoError(t, err)
			resp.Body.Close()
			if tc.challenge == "" {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tc.challenge), resp.Header.Get("WWW-Authenticate"))
			}

			img := NewImage(t, ImageOptions{Layers: []int64{1000, 70000}, Seed: 1})
			want, err := img.Digest()
			require.NoError(t, err)
			got := r.Push(t, "team/app:1", img)
			assert.Equal(t, want.String(), got)

			back := r.Pull(t, "team/app:1")
			d, err := back.Digest()
			require.NoError(t, err)
			assert.Equal(t, want, d)
			readLayers(t, back)

			if tc.opts.Auth == AuthNone {
				return
			}
			ref, err := name.ParseReference(r.Ref("team/app:1"))
			require.NoError(t, err)
			opts := r.RemoteOptions(context.Background())
			// Refused by the registry (basic) or by the token server
			// (token): 401 either way.
			_, err = remote.Get(ref, append(opts, remote.WithAuth(authn.Anonymous))...)
			assertStatus(t, err, http.StatusUnauthorized, "anonymous pull")
			wrong := authn.FromConfig(authn.AuthConfig{Username: r.Username(), Password: r.Password() + "x"})
			_, err = remote.Get(ref, append(opts, remote.WithAuth(wrong))...)
			assertStatus(t, err, http.StatusUnauthorized, "pull with a wrong password")

			if tc.opts.Auth == AuthToken {
				var users []string
				for _, q := range r.TokenRequests() {
					if q.Status == http.StatusOK {
						users = append(users, q.User)
					}
				}
				assert.Contains(t, users, r.Username())
			}
			if tc.opts.CountRequests {
				var manifests int
				for _, q := range r.Requests(t) {
					if q.IsManifest() && q.Method == http.MethodPut {
						manifests++
						assert.Equal(t, http.StatusCreated, q.Status, q.Path)
					}
				}
				assert.Equal(t, 1, manifests, "manifest PUTs")
			}
		})
	}
}

func TestImageKinds(t *testing.T) {
	t.Parallel()
	r := Start(t, Options{})
	for _, tc := range []struct {
		kind     Kind
		comp     Compression
		manifest types.MediaType
		layer    types.MediaType
	}{
		{Docker, Gzip, types.DockerManifestSchema2, types.DockerLayer},
		{Docker, Uncompressed, types.DockerManifestSchema2, types.DockerUncompressedLayer},
		{Docker, Zstd, types.DockerManifestSchema2, types.OCILayerZStd},
		{OCI, Gzip, types.OCIManifestSchema1, types.OCILayer},
		{OCI, Zstd, types.OCIManifestSchema1, types.OCILayerZStd},
		{OCI, Uncompressed, types.OCIManifestSchema1, types.OCIUncompressedLayer},
	} {
		t.Run(tc.kind.String()+"-"+tc.comp.String(), func(t *testing.T) {
			opts := ImageOptions{Layers: []int64{0, 5000, maxFile + 1}, Seed: 7, Kind: tc.kind, Compression: tc.comp}
			img := NewImage(t, opts)
			again := NewImage(t, opts)
			d1, err := img.Digest()
			require.NoError(t, err)
			d2, err := again.Digest()
			require.NoError(t, err)
			assert.Equal(t, d1, d2, "the same options make the same image")

			repo := "kinds/" + tc.kind.String() + "-" + tc.comp.String() + ":x"
			r.Push(t, repo, img)
			back := r.Pull(t, repo)
			m, err := back.Manifest()
			require.NoError(t, err)
			assert.Equal(t, tc.manifest, m.MediaType)
			require.Len(t, m.Layers, 3)
			for _, l := range m.Layers {
				assert.Equal(t, tc.layer, l.MediaType)
			}
			readLayers(t, back)

			// The diffIDs are those of the tars, whatever the compression.
			cf, err := back.ConfigFile()
			require.NoError(t, err)
			h := sha256.New()
			require.NoError(t, layerTar(h, 7, 1, 5000))
			assert.Equal(t, fmt.Sprintf("sha256:%x", h.Sum(nil)), cf.RootFS.DiffIDs[1].String())
		})
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	r := Start(t, Options{})
	for _, kind := range []Kind{Docker, OCI} {
		idx := NewIndex(t, ImageOptions{Layers: []int64{100}, Seed: 3, Kind: kind})
		repo := "multi/" + kind.String() + ":1"
		digest := r.PushIndex(t, repo, idx)

		ref, err := name.ParseReference(r.Ref(repo))
		require.NoError(t, err)
		desc, err := remote.Get(ref, r.RemoteOptions(context.Background())...)
		require.NoError(t, err)
		assert.Equal(t, digest, desc.Digest.String())
		want := map[Kind]types.MediaType{Docker: types.DockerManifestList, OCI: types.OCIImageIndex}[kind]
		assert.Equal(t, want, desc.MediaType)
		back, err := desc.ImageIndex()
		require.NoError(t, err)
		im, err := back.IndexManifest()
		require.NoError(t, err)
		require.Len(t, im.Manifests, len(Platforms))
		configs := map[string]bool{}
		for i, m := range im.Manifests {
			require.NotNil(t, m.Platform)
			assert.Equal(t, Platforms[i], m.Platform.String())
			img, err := back.Image(m.Digest)
			require.NoError(t, err)
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, m.Platform.Architecture, cf.Architecture)
			assert.Equal(t, m.Platform.Variant, cf.Variant)
			cd, err := img.ConfigName()
			require.NoError(t, err)
			configs[cd.String()] = true
		}
		assert.Len(t, configs, len(Platforms), "each platform has a config of its own")
	}
}

func TestForeignLayer(t *testing.T) {
	t.Parallel()
	r := Start(t, Options{})
	img := WithForeignLayer(t, NewImage(t, ImageOptions{Layers: []int64{10}, Seed: 4}))
	r.Push(t, "foreign:1", img)
	m, err := r.Pull(t, "foreign:1").Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 2)
	top := m.Layers[1]
	assert.Equal(t, types.DockerForeignLayer, top.MediaType)
	assert.Equal(t, []string{ForeignURL}, top.URLs)
	// Not uploaded: the registry does not have the blob.
	resp, err := r.HTTPClient().Head(r.URL() + "/v2/foreign/blobs/" + top.Digest.String())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestCorruptBlob(t *testing.T) {
	t.Parallel()
	r := Start(t, Options{CountRequests: true})
	img := NewImage(t, ImageOptions{Layers: []int64{4096}, Seed: 5})
	r.Push(t, "corrupt:1", img)
	layers, err := img.Layers()
	require.NoError(t, err)
	d, err := layers[0].Digest()
	require.NoError(t, err)
	path := r.BlobPath(d.String())
	require.FileExists(t, path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o644))

	mark := r.Mark(t)
	back := r.Pull(t, "corrupt:1")
	bl, err := back.Layers()
	require.NoError(t, err)
	rc, err := bl[0].Compressed()
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	require.Error(t, err, "a corrupted blob must fail verification")
	assert.Contains(t, err.Error(), d.String())

	var blobGets int
	for _, q := range r.RequestsSince(t, mark) {
		if q.IsBlob() && q.Method == http.MethodGet && strings.Contains(q.Path, d.String()) {
			blobGets++
			assert.Equal(t, http.StatusOK, q.Status, "the registry serves the corrupted file as it is")
		}
	}
	assert.Equal(t, 1, blobGets)
}

func TestBusyboxImage(t *testing.T) {
	t.Parallel()
	img := NewImage(t, ImageOptions{Busybox: true, Layers: []int64{10}, Seed: 6, Kind: OCI})
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh"}, cf.Config.Cmd)
	require.Len(t, cf.RootFS.DiffIDs, 2)
	// The bottom layer is the course's rootfs tar, byte for byte.
	f, err := os.Open(busyboxTar(t))
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("sha256:%x", h.Sum(nil)), cf.RootFS.DiffIDs[0].String())
}

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want accessEntry
		err  bool
	}{
		{"repository:team/app:pull,push", accessEntry{"repository", "team/app", []string{"pull", "push"}}, false},
		{"repository(plugin):p:pull", accessEntry{"repository", "p", []string{"pull"}}, false},
		{"registry:catalog:*", accessEntry{"registry", "catalog", []string{"*"}}, false},
		{"repository:app", accessEntry{}, true},
		{"nothing", accessEntry{}, true},
	} {
		got, err := parseScope(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

// TestStartRetriesWhenThePortIsTaken makes the race that Start guards
// against happen: the first port it picks is held by another listener
// (as if taken between the pick and the registry's bind). The registry
// exits with "address already in use" and Start tries another port.
func TestStartRetriesWhenThePortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	picks := 0
	pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return takenPort, nil
		}
		return freePort()
	}
	t.Cleanup(func() { pickPort = freePort })

	r := Start(t, Options{})
	assert.Equal(t, 2, picks)
	assert.NotEqual(t, "127.0.0.1:"+strconv.Itoa(takenPort), r.Host())
	resp, err := r.HTTPClient().Get(r.URL() + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	log, err := os.ReadFile(r.LogFile())
	require.NoError(t, err)
	assert.Contains(t, string(log), "address already in use", "the first start lost the race")
}
