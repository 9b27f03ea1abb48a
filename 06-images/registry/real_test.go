package registry

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// The same steps against the real registry (distribution 2.8), in each of
// its modes: pull an image go-containerregistry pushed, push it back
// under another name (a mount), push an image made in the store (an
// upload), pull that into a fresh store: same image ID, same digest.
func TestRealRegistryRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts registrytest.Options
	}{
		{"plain", registrytest.Options{CountRequests: true}},
		{"TLS and htpasswd", registrytest.Options{TLS: true, Auth: registrytest.AuthBasic, CountRequests: true}},
		{"token", registrytest.Options{Auth: registrytest.AuthToken, CountRequests: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			r := registrytest.Start(t, tc.opts)
			var auth *AuthConfig = anon
			if tc.opts.Auth != registrytest.AuthNone {
				auth = &AuthConfig{Username: r.Username(), Password: r.Password()}
			}
			certs := []string{t.TempDir()}
			if tc.opts.TLS {
				certs = []string{r.CertsDir()}
			}
			c := newClient(t, Config{CertsDirs: certs})

			img := registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{300 << 10, 100 << 10}, Seed: 7, Compression: registrytest.Gzip})
			digest := r.Push(t, "team/base:1", img)
			cfgName, err := img.ConfigName()
			require.NoError(t, err)

			res, err := c.Pull(ctx(t), s, r.Ref("team/base:1"), PullOptions{Auth: auth})
			require.NoError(t, err)
			assert.Equal(t, image.Digest(cfgName.String()), res[0].ID)
			assert.Equal(t, digest, res[0].Digest)

			// A re-pull: one manifest request, no blob.
			m := r.Mark(t)
			res, err = c.Pull(ctx(t), s, r.Ref("team/base:1"), PullOptions{Auth: auth})
			require.NoError(t, err)
			assert.True(t, res[0].UpToDate)
			var manifests, blobs int
			for _, q := range r.RequestsSince(t, m) {
				manifests += b2i(q.IsManifest())
				blobs += b2i(q.IsBlob())
			}
			assert.Equal(t, 1, manifests)
			assert.Equal(t, 0, blobs)

			// To another repository of the registry: mounted.
			require.NoError(t, s.Tag(r.Ref("team/base:1"), r.Ref("team/copy:1")))
			var log progressLog
			_, err = c.Push(ctx(t), s, r.Ref("team/copy:1"), PushOptions{Auth: auth, Progress: log.fn})
			require.NoError(t, err)
			assert.Contains(t, log.get(), firstLayerID(t, s, res[0].ID)+": Mounted from team/base")

			// Made here, pushed, pulled into another store.
			l := makeLayer(t, "none", "oci", map[string]string{"made/here": "yes"})
			made, err := s.Import(strings.NewReader(string(l.tar)), image.ImportOptions{Ref: r.Ref("team/made:v1")})
			require.NoError(t, err)
			pushed, err := c.Push(ctx(t), s, r.Ref("team/made:v1"), PushOptions{Auth: auth})
			require.NoError(t, err)
			fresh := newStore(t)
			res, err = c.Pull(ctx(t), fresh, r.Ref("team/made:v1"), PullOptions{Auth: auth})
			require.NoError(t, err)
			assert.Equal(t, made.ID, res[0].ID)
			assert.Equal(t, pushed[0].Digest, res[0].Digest)
			got, err := fresh.Get(r.Ref("team/made:v1"))
			require.NoError(t, err)
			assert.Equal(t, []string{r.Ref("team/made@" + pushed[0].Digest)}, got.RepoDigests)
			assert.Equal(t, "yes", readLayerFile(t, fresh, made.ID, "made/here"))

			if tc.opts.Auth != registrytest.AuthNone {
				_, err := c.Pull(ctx(t), newStore(t), r.Ref("team/made:v1"), PullOptions{Auth: anon})
				require.ErrorIs(t, err, ErrUnauthorized)
				require.ErrorContains(t, err, "pull access denied for "+r.Ref("team/made")+", repository does not exist or may require 'docker login'")
				_, err = c.Login(ctx(t), AuthConfig{ServerAddress: r.Host(), Username: r.Username(), Password: "wrong"})
				require.ErrorIs(t, err, ErrUnauthorized)
				if tc.opts.Auth == registrytest.AuthToken {
					assert.Equal(t, "login to "+r.Host()+": unauthorized: incorrect username or password", err.Error())
				} else {
					assert.Equal(t, "login attempt to https://"+r.Host()+"/v2/ failed with status: 401 Unauthorized", err.Error())
				}
				_, err = c.Login(ctx(t), AuthConfig{ServerAddress: r.Host(), Username: r.Username(), Password: r.Password()})
				require.NoError(t, err)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// firstLayerID is the progress ID of an image's bottom layer on push:
// its diffID, short.
func firstLayerID(t *testing.T, s *image.Store, id image.Digest) string {
	img, err := s.Get(string(id))
	require.NoError(t, err)
	return img.Config.RootFS.DiffIDs[0].Short()
}

// The real registry's index, zstd and uncompressed layers, foreign layer
// and a corrupted blob.
func TestRealRegistryFormats(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{})
	c := newClient(t, Config{})
	for _, tc := range []struct {
		name string
		opts registrytest.ImageOptions
	}{
		{"zstd OCI", registrytest.ImageOptions{Layers: []int64{64 << 10}, Seed: 1, Compression: registrytest.Zstd, Kind: registrytest.OCI}},
		{"uncompressed OCI", registrytest.ImageOptions{Layers: []int64{64 << 10}, Seed: 2, Compression: registrytest.Uncompressed, Kind: registrytest.OCI}},
		{"gzip docker", registrytest.ImageOptions{Layers: []int64{64 << 10, 1 << 10}, Seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := registrytest.NewImage(t, tc.opts)
			digest := r.Push(t, "fmt/"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))+":1", img)
			s := newStore(t)
			res, err := c.Pull(ctx(t), s, r.Ref("fmt/"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))+":1"), PullOptions{Auth: anon})
			require.NoError(t, err)
			cfgName, _ := img.ConfigName()
			assert.Equal(t, cfgName.String(), string(res[0].ID))
			assert.Equal(t, digest, res[0].Digest)
			// By digest, into another store.
			s2 := newStore(t)
			_, err = c.Pull(ctx(t), s2, r.Ref("fmt/"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))+"@"+digest), PullOptions{Auth: anon})
			require.NoError(t, err)
		})
	}
	t.Run("index", func(t *testing.T) {
		idx := registrytest.NewIndex(t, registrytest.ImageOptions{Layers: []int64{1 << 10}, Seed: 4, Kind: registrytest.OCI})
		r.PushIndex(t, "multi:1", idx)
		for _, p := range registrytest.Platforms {
			s := newStore(t)
			res, err := c.Pull(ctx(t), s, r.Ref("multi:1"), PullOptions{Auth: anon, Platform: p})
			require.NoError(t, err)
			assert.Equal(t, p+"\n", readLayerFile(t, s, res[0].ID, "platform"))
		}
		d, err := c.Inspect(ctx(t), r.Ref("multi:1"), anon)
		require.NoError(t, err)
		assert.Len(t, d.Platforms, len(registrytest.Platforms))
	})
	t.Run("foreign layer", func(t *testing.T) {
		img := registrytest.WithForeignLayer(t, registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{1 << 10}, Seed: 5}))
		r.Push(t, "foreign:1", img)
		s := newStore(t)
		_, err := c.Pull(ctx(t), s, r.Ref("foreign:1"), PullOptions{Auth: anon})
		require.ErrorIs(t, err, ErrUnsupported)
		require.ErrorContains(t, err, "foreign (non-distributable) layer")
		storeEmpty(t, s)
	})
	t.Run("corrupted blob", func(t *testing.T) {
		img := registrytest.NewImage(t, registrytest.ImageOptions{Layers: []int64{256 << 10}, Seed: 6})
		r.Push(t, "corrupt:1", img)
		layers, err := img.Layers()
		require.NoError(t, err)
		d, err := layers[0].Digest()
		require.NoError(t, err)
		p := r.BlobPath(d.String())
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		data[len(data)/2] ^= 0xff
		require.NoError(t, os.WriteFile(p, data, 0o644))
		s := newStore(t)
		_, err = c.Pull(ctx(t), s, r.Ref("corrupt:1"), PullOptions{Auth: anon})
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "filesystem layer verification failed for digest "+d.String())
		storeEmpty(t, s)
	})
}
