package registry

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/06-images/image"
)

func TestPullLayerFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		comps  []string
	}{
		{"docker schema 2, gzip", "docker", []string{"gzip", "gzip"}},
		{"OCI, gzip", "oci", []string{"gzip"}},
		{"OCI, zstd", "oci", []string{"zstd", "zstd"}},
		{"OCI, uncompressed", "oci", []string{"none"}},
		{"OCI, all three", "oci", []string{"none", "gzip", "zstd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			s := newStore(t)
			var layers []layer
			for i, c := range tc.comps {
				layers = append(layers, makeLayer(t, c, tc.format, map[string]string{"f" + strconv.Itoa(i): c + " layer " + strconv.Itoa(i), "top": strconv.Itoa(i)}))
			}
			img := f.putImage("team/app", "v1", tc.format, "amd64", "", layers...)
			c := newClient(t, Config{})
			res, err := c.Pull(ctx(t), s, f.host+"/team/app:v1", PullOptions{Auth: anon})
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, PullResult{Ref: f.host + "/team/app:v1", ID: img.id, Digest: string(img.digest)}, res[0])

			got, err := s.Get(f.host + "/team/app:v1")
			require.NoError(t, err)
			assert.Equal(t, img.id, got.ID)
			assert.Equal(t, []string{f.host + "/team/app@" + string(img.digest)}, got.RepoDigests)
			for i, c := range tc.comps {
				assert.Equal(t, c+" layer "+strconv.Itoa(i), readLayerFile(t, s, img.id, "f"+strconv.Itoa(i)))
			}
			assert.Equal(t, strconv.Itoa(len(tc.comps)-1), readLayerFile(t, s, img.id, "top"))
			// The store remembers each layer's blob for pushes.
			for _, l := range layers {
				srcs, err := s.BlobSources(l.diffID)
				require.NoError(t, err)
				assert.Equal(t, []image.BlobSource{{Digest: l.digest, MediaType: l.mediaType, Size: int64(len(l.blob)), Repository: f.host + "/team/app"}}, srcs)
			}
		})
	}
}

func TestPullPlatform(t *testing.T) {
	f := newFake(t)
	l := makeLayer(t, "gzip", "oci", map[string]string{"x": "x"})
	type entry struct{ arch, variant string }
	entries := []entry{{"amd64", ""}, {"arm64", ""}, {"arm", "v7"}, {"arm", "v6"}, {"riscv64", ""}}
	var idx image.Index
	idx.SchemaVersion, idx.MediaType = 2, image.MediaTypeOCIIndex
	ids := map[entry]image.Digest{}
	for _, e := range entries {
		img := f.putImage("multi", "", "oci", e.arch, e.variant, l)
		ids[e] = img.id
		idx.Manifests = append(idx.Manifests, image.Descriptor{MediaType: image.MediaTypeOCIManifest, Digest: img.digest, Size: int64(len(img.manifest)),
			Platform: &image.Platform{OS: "linux", Architecture: e.arch, Variant: e.variant}})
	}
	// An attestation, as buildx adds: not a platform.
	idx.Manifests = append(idx.Manifests, image.Descriptor{MediaType: image.MediaTypeOCIManifest, Digest: idx.Manifests[0].Digest, Size: idx.Manifests[0].Size,
		Platform: &image.Platform{OS: "unknown", Architecture: "unknown"}})
	raw, err := json.Marshal(idx)
	require.NoError(t, err)
	idxDigest := f.putManifest("multi", "latest", image.MediaTypeOCIIndex, raw)

	for _, tc := range []struct {
		platform string
		want     entry
		err      string
	}{
		{"", entry{"amd64", ""}, ""},
		{"linux/amd64", entry{"amd64", ""}, ""},
		{"linux/x86_64", entry{"amd64", ""}, ""},
		{"linux/arm64", entry{"arm64", ""}, ""},
		{"linux/arm64/v8", entry{"arm64", ""}, ""},
		{"linux/aarch64", entry{"arm64", ""}, ""},
		{"linux/arm/v7", entry{"arm", "v7"}, ""},
		{"linux/arm", entry{"arm", "v7"}, ""},
		{"linux/arm/v6", entry{"arm", "v6"}, ""},
		{"linux/arm/v8", entry{"arm", "v7"}, ""}, // an older variant runs
		{"linux/riscv64", entry{"riscv64", ""}, ""},
		{"linux/arm/v5", entry{}, "no matching manifest for linux/arm/v5 in the manifest list entries"},
		{"linux/s390x", entry{}, "no matching manifest for linux/s390x in the manifest list entries"},
		{"windows/amd64", entry{}, "berth runs Linux images only"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			s := newStore(t)
			c := newClient(t, Config{})
			res, err := c.Pull(ctx(t), s, f.host+"/multi", PullOptions{Auth: anon, Platform: tc.platform})
			if tc.err != "" {
				require.ErrorIs(t, err, ErrUnsupported)
				require.ErrorContains(t, err, tc.err)
				storeEmpty(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, ids[tc.want], res[0].ID)
			assert.Equal(t, string(idxDigest), res[0].Digest, "the RepoDigest is the index's, as dockerd records it")
			img, err := s.Get(f.host + "/multi@" + string(idxDigest))
			require.NoError(t, err)
			assert.Equal(t, ids[tc.want], img.ID)
		})
	}
}

func TestPullRefused(t *testing.T) {
	f := newFake(t)
	l := makeLayer(t, "gzip", "docker", map[string]string{"x": "x"})
	f.putBlob("r", l.blob)
	cfg := f.putImage("r", "ok", "docker", "amd64", "", l)

	manifest := func(configType, layerType string) []byte {
		m := image.Manifest{SchemaVersion: 2, MediaType: image.MediaTypeDockerManifest,
			Config: image.Descriptor{MediaType: configType, Digest: cfg.id, Size: int64(len(cfg.config))},
			Layers: []image.Descriptor{{MediaType: layerType, Digest: l.digest, Size: int64(len(l.blob))}}}
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		return raw
	}
	f.putManifest("r", "schema1", "application/vnd.docker.distribution.manifest.v1+prettyjws",
		[]byte(`{"schemaVersion":1,"name":"r","tag":"schema1","architecture":"amd64","fsLayers":[],"history":[]}`))
	f.putManifest("r", "foreign", image.MediaTypeDockerManifest, manifest(mediaDockerConfig, mediaDockerForeign))
	f.putManifest("r", "nondistributable", image.MediaTypeDockerManifest, manifest(mediaDockerConfig, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"))
	f.putManifest("r", "helm", image.MediaTypeDockerManifest, manifest("application/vnd.cncf.helm.config.v1+json", mediaDockerLayer))
	f.putManifest("r", "weird", image.MediaTypeDockerManifest, manifest(mediaDockerConfig, "application/x-whatever"))

	for _, tc := range []struct {
		tag, want string
		is        error
	}{
		{"schema1", "schema 1", ErrUnsupported},
		{"foreign", "layer " + string(l.digest) + " is a foreign (non-distributable) layer", ErrUnsupported},
		{"nondistributable", "layer " + string(l.digest) + " is a foreign (non-distributable) layer", ErrUnsupported},
		{"helm", `config media type "application/vnd.cncf.helm.config.v1+json"`, ErrUnsupported},
		{"weird", `has media type "application/x-whatever"`, ErrUnsupported},
		{"nope", "manifest for " + f.host + "/r:nope not found: manifest unknown: ", ErrNotFound},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			s := newStore(t)
			_, err := newClient(t, Config{}).Pull(ctx(t), s, f.host+"/r:"+tc.tag, PullOptions{Auth: anon})
			require.ErrorIs(t, err, tc.is)
			require.ErrorContains(t, err, tc.want)
			storeEmpty(t, s)
		})
	}
	t.Run("repository unknown", func(t *testing.T) {
		s := newStore(t)
		_, err := newClient(t, Config{}).Pull(ctx(t), s, f.host+"/nosuch/repo", PullOptions{Auth: anon})
		require.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("invalid reference", func(t *testing.T) {
		_, err := newClient(t, Config{}).Pull(ctx(t), newStore(t), "UPPER/case", PullOptions{Auth: anon})
		require.ErrorIs(t, err, ErrInvalidReference)
	})
}

func TestPullByDigestAndAllTags(t *testing.T) {
	f := newFake(t)
	a := f.putImage("app", "v1", "docker", "amd64", "", makeLayer(t, "gzip", "docker", map[string]string{"v": "1"}))
	b := f.putImage("app", "v2", "oci", "amd64", "", makeLayer(t, "zstd", "oci", map[string]string{"v": "2"}))
	f.putManifest("app", "also-v1", image.MediaTypeDockerManifest, a.manifest)

	t.Run("by digest", func(t *testing.T) {
		s := newStore(t)
		ref := f.host + "/app@" + string(b.digest)
		res, err := newClient(t, Config{}).Pull(ctx(t), s, ref, PullOptions{Auth: anon})
		require.NoError(t, err)
		assert.Equal(t, ref, res[0].Ref)
		img, err := s.Get(ref)
		require.NoError(t, err)
		assert.Equal(t, b.id, img.ID)
		assert.Empty(t, img.Tags, "a pull by digest sets no tag")
		assert.Equal(t, []string{ref}, img.RepoDigests)
	})
	t.Run("all tags", func(t *testing.T) {
		s := newStore(t)
		var log progressLog
		res, err := newClient(t, Config{}).Pull(ctx(t), s, f.host+"/app", PullOptions{Auth: anon, AllTags: true, Progress: log.fn})
		require.NoError(t, err)
		require.Len(t, res, 3)
		imgs, err := s.Images()
		require.NoError(t, err)
		require.Len(t, imgs, 2)
		va, err := s.Get(f.host + "/app:also-v1")
		require.NoError(t, err)
		assert.Equal(t, a.id, va.ID)
		assert.Equal(t, []string{f.host + "/app:also-v1", f.host + "/app:v1"}, va.Tags)
		lines := log.get()
		assert.Equal(t, "Status: Downloaded newer image for "+f.host+"/app", lines[len(lines)-1])
		_, err = newClient(t, Config{}).Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon, AllTags: true})
		require.ErrorIs(t, err, ErrInvalidReference)
	})
}

// A second pull of an image the store has costs one manifest request.
func TestRePullIsOneManifestRequest(t *testing.T) {
	f := newFake(t)
	img := f.putImage("app", "v1", "docker", "amd64", "", makeLayer(t, "gzip", "docker", map[string]string{"a": "a"}), makeLayer(t, "gzip", "docker", map[string]string{"b": "b"}))
	s := newStore(t)
	c := newClient(t, Config{})
	_, err := c.Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon})
	require.NoError(t, err)
	f.reset()
	var log progressLog
	res, err := c.Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	assert.True(t, res[0].UpToDate)
	assert.Equal(t, map[string]int{"GET manifests": 1}, f.counts)
	assert.Equal(t, []string{"v1: Pulling from app", "Digest: " + string(img.digest), "Status: Image is up to date for " + f.host + "/app:v1"}, log.get())

	// A moved tag is news: the pull puts it back, still without blobs.
	require.NoError(t, s.Tag(string(img.id), f.host+"/app:v1"))
	other, err := s.Import(strings.NewReader(string(makeLayer(t, "none", "oci", map[string]string{"o": "o"}).tar)), image.ImportOptions{Ref: f.host + "/app:v1"})
	require.NoError(t, err)
	f.reset()
	res, err = c.Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon})
	require.NoError(t, err)
	assert.False(t, res[0].UpToDate)
	assert.Equal(t, map[string]int{"GET manifests": 1}, f.counts)
	moved, err := s.Get(string(other.ID))
	require.NoError(t, err)
	assert.Empty(t, moved.Tags)
}

func TestPullCorruptBlobLeavesNothing(t *testing.T) {
	good := makeLayer(t, "gzip", "docker", map[string]string{"good": strings.Repeat("g", 100000)})
	bad := makeLayer(t, "gzip", "docker", map[string]string{"bad": strings.Repeat("b", 300000)})
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter, blob []byte)
		want  string
	}{
		{"a flipped byte", func(w http.ResponseWriter, blob []byte) {
			c := append([]byte{}, blob...)
			c[len(c)/2] ^= 0xff
			w.Write(c)
		}, "filesystem layer verification failed for digest " + string(bad.digest)},
		{"truncated", func(w http.ResponseWriter, blob []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
			w.Write(blob[:len(blob)/2])
		}, string(bad.digest)},
		{"ends early, no length", func(w http.ResponseWriter, blob []byte) {
			w.Write(blob[:len(blob)-10])
		}, "filesystem layer verification failed for digest " + string(bad.digest)},
		{"too long", func(w http.ResponseWriter, blob []byte) {
			w.Write(append(append([]byte{}, blob...), blob...))
		}, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.putImage("app", "v1", "docker", "amd64", "", good, bad)
			f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+string(bad.digest)) {
					tc.serve(w, bad.blob)
					return true
				}
				return false
			})
			s := newStore(t)
			_, err := newClient(t, Config{}).Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon})
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
			if tc.name != "truncated" {
				require.ErrorIs(t, err, ErrCorrupt)
			}
			storeEmpty(t, s)
		})
	}
}

// Up to Concurrency layers are in flight, never more.
func TestPullConcurrency(t *testing.T) {
	f := newFake(t)
	var layers []layer
	for i := range 6 {
		layers = append(layers, makeLayer(t, "gzip", "docker", map[string]string{"f": strconv.Itoa(i)}))
	}
	f.putImage("app", "v1", "docker", "amd64", "", layers...)
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || strings.HasSuffix(r.URL.Path, "/uploads/") {
			return false
		}
		for _, l := range layers {
			if strings.HasSuffix(r.URL.Path, string(l.digest)) {
				n := inFlight.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				if n == 3 {
					once.Do(func() { close(release) })
				}
				<-release
				f.inner.ServeHTTP(w, r)
				inFlight.Add(-1)
				return true
			}
		}
		return false
	})
	s := newStore(t)
	var log progressLog
	_, err := newClient(t, Config{}).Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	assert.Equal(t, int32(3), most.Load())
	// The layers past the first three waited, and said so.
	for i, l := range layers {
		assert.Equal(t, i >= 3, contains(log.byID(l.digest.Short()), "Waiting"), "layer %d", i)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPullProgressLikeDockerd(t *testing.T) {
	f := newFake(t)
	base := makeLayer(t, "gzip", "docker", map[string]string{"base": "b"})
	top := makeLayer(t, "gzip", "docker", map[string]string{"top": "t"})
	f.putImage("app", "base", "docker", "amd64", "", base)
	img := f.putImage("app", "v1", "docker", "amd64", "", base, top)
	s := newStore(t)
	c := newClient(t, Config{})
	_, err := c.Pull(ctx(t), s, f.host+"/app:base", PullOptions{Auth: anon})
	require.NoError(t, err)
	var log progressLog
	_, err = c.Pull(ctx(t), s, f.host+"/app:v1", PullOptions{Auth: anon, Progress: log.fn})
	require.NoError(t, err)
	b, tp := base.digest.Short(), top.digest.Short()
	assert.Equal(t, []string{
		"v1: Pulling from app",
		b + ": Already exists",
		tp + ": Pulling fs layer",
		tp + ": Downloading",
		tp + ": Verifying Checksum",
		tp + ": Download complete",
		tp + ": Extracting",
		tp + ": Pull complete",
		"Digest: " + string(img.digest),
		"Status: Downloaded newer image for " + f.host + "/app:v1",
	}, log.get())
	for _, p := range log.all {
		if p.Status == "Downloading" || p.Status == "Extracting" {
			assert.Equal(t, int64(len(top.blob)), p.Total)
			assert.LessOrEqual(t, p.Current, p.Total)
		}
	}
}

func TestPullAuth(t *testing.T) {
	f := newFake(t)
	f.putImage("private/app", "v1", "docker", "amd64", "", makeLayer(t, "gzip", "docker", map[string]string{"a": "a"}))
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "alice" && p == "s3cret" {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		return true
	})
	var verbose strings.Builder
	c := newClient(t, Config{Verbose: &syncWriter{w: &verbose}})

	s := newStore(t)
	_, err := c.Pull(ctx(t), s, f.host+"/private/app:v1", PullOptions{Auth: anon})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Equal(t, "pull access denied for "+f.host+"/private/app, repository does not exist or may require 'docker login': unauthorized: authentication required", err.Error())
	_, err = c.Pull(ctx(t), s, f.host+"/private/app:v1", PullOptions{Auth: &AuthConfig{Username: "alice", Password: "wrong"}})
	require.ErrorIs(t, err, ErrUnauthorized)
	storeEmpty(t, s)

	res, err := c.Pull(ctx(t), s, f.host+"/private/app:v1", PullOptions{Auth: &AuthConfig{Username: "alice", Password: "s3cret"}})
	require.NoError(t, err)
	require.Len(t, res, 1)

	_, err = c.Login(ctx(t), AuthConfig{ServerAddress: f.host, Username: "alice", Password: "wrong"})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Equal(t, "login attempt to http://"+f.host+"/v2/ failed with status: 401 Unauthorized", err.Error())
	tok, err := c.Login(ctx(t), AuthConfig{ServerAddress: "http://" + f.host, Username: "alice", Password: "s3cret"})
	require.NoError(t, err)
	assert.Empty(t, tok, "a Basic registry issues no identity token")

	out := verbose.String()
	assert.Contains(t, out, "> GET http://"+f.host+"/v2/")
	assert.Contains(t, out, "< 401 Unauthorized  GET http://"+f.host+"/v2/")
	assert.Contains(t, out, `WWW-Authenticate: Basic realm="test"`)
	assert.Contains(t, out, "Authorization: Basic …")
	assert.Contains(t, out, "Docker-Content-Digest: sha256:")
	assert.NotContains(t, out, "s3cret")
	assert.NotContains(t, out, "YWxpY2U6czNjcmV0", "base64 of alice:s3cret")
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func TestInspect(t *testing.T) {
	f := newFake(t)
	l := makeLayer(t, "gzip", "oci", map[string]string{"x": "x"})
	a := f.putImage("one", "v1", "oci", "arm64", "v8", l)
	var idx image.Index
	idx.SchemaVersion, idx.MediaType = 2, image.MediaTypeOCIIndex
	idx.Manifests = append(idx.Manifests, image.Descriptor{MediaType: image.MediaTypeOCIManifest, Digest: a.digest, Size: int64(len(a.manifest)), Platform: &image.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}})
	raw, err := json.Marshal(idx)
	require.NoError(t, err)
	f.putManifest("one", "multi", image.MediaTypeOCIIndex, raw)
	c := newClient(t, Config{})

	d, err := c.Inspect(ctx(t), f.host+"/one:v1", anon)
	require.NoError(t, err)
	assert.Equal(t, image.MediaTypeOCIManifest, d.Descriptor.MediaType)
	assert.Equal(t, string(a.digest), d.Descriptor.Digest)
	assert.Equal(t, int64(len(a.manifest)), d.Descriptor.Size)
	assert.Equal(t, []Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}}, d.Platforms)

	d, err = c.Inspect(ctx(t), f.host+"/one:multi", anon)
	require.NoError(t, err)
	assert.Equal(t, image.MediaTypeOCIIndex, d.Descriptor.MediaType)
	assert.Equal(t, []Platform{{OS: "linux", Architecture: "arm64", Variant: "v8"}}, d.Platforms)

	_, err = c.Inspect(ctx(t), f.host+"/one:nope", anon)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestPlatformRules(t *testing.T) {
	for _, tc := range []struct {
		want, offered string
		ok            bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/amd64", "linux/amd64/v3", true}, // amd64 has no variant that counts
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm/v7", "linux/arm/v6", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/arm64", "linux/arm/v7", false},
		{"linux/amd64", "linux/386", false},
	} {
		w, err := parsePlatform(tc.want)
		require.NoError(t, err)
		o, err := parsePlatform(tc.offered)
		require.NoError(t, err)
		assert.Equal(t, tc.ok, rank(w, o) > 0, "%s on %s", tc.offered, tc.want)
	}
}

func TestInsecureRules(t *testing.T) {
	c := newClient(t, Config{Insecure: []string{"reg.example:5000", "10.1.0.0/16"}})
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.3.2.1": true, "[::1]:5000": true, "localhost:5000": true,
		"reg.example:5000": true, "10.1.2.3:443": true, "10.2.0.1": false, "192.168.1.1:5000": false,
	} {
		assert.Equal(t, want, c.isInsecure(host), host)
	}
	_, err := New(Config{Insecure: []string{"10.0.0.0/99"}})
	require.Error(t, err)
	_, err = New(Config{Mirrors: []string{"mirror.example"}})
	require.Error(t, err)
	// A guard stops plain HTTP to a registry that is not insecure.
	g := &guard{inner: http.DefaultTransport, host: "192.168.1.1:5000"}
	req, _ := http.NewRequest(http.MethodGet, "http://192.168.1.1:5000/v2/", nil)
	_, err = g.RoundTrip(req)
	require.ErrorContains(t, err, "refusing plain HTTP")
}

// Docker Hub names go to the mirrors first: one that fails is skipped,
// the next one that has the image serves the whole pull, and the hub
// (here a closed port on loopback) is never asked.
func TestPullThroughMirrors(t *testing.T) {
	broken := newFake(t)
	broken.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			return false
		}
		http.Error(w, "mirror out of order", http.StatusInternalServerError)
		return true
	})
	good := newFake(t)
	img := good.putImage("library/app", "latest", "docker", "amd64", "", makeLayer(t, "gzip", "docker", map[string]string{"m": "mirrored"}))
	c := newClient(t, Config{Mirrors: []string{"http://" + broken.host, "http://" + good.host}})
	c.hub = "127.0.0.1:1"
	s := newStore(t)
	res, err := c.Pull(ctx(t), s, "app", PullOptions{Auth: anon})
	require.NoError(t, err)
	assert.Equal(t, PullResult{Ref: "app:latest", ID: img.id, Digest: string(img.digest)}, res[0])
	got, err := s.Get("docker.io/library/app:latest")
	require.NoError(t, err)
	assert.Equal(t, []string{"app@" + string(img.digest)}, got.RepoDigests)
	assert.Equal(t, 1, broken.count("GET manifests"))
	assert.Equal(t, 1, good.count("GET manifests"))
	srcs, err := s.BlobSources(img.layers[0].diffID)
	require.NoError(t, err)
	assert.Equal(t, "docker.io/library/app", srcs[0].Repository, "the layer is the hub's repository's, wherever it came from")

	// Without a mirror that has it, the error is the hub's.
	c2 := newClient(t, Config{Mirrors: []string{"http://" + broken.host}})
	c2.hub = "127.0.0.1:1"
	_, err = c2.Pull(ctx(t), newStore(t), "app", PullOptions{Auth: anon})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
}

// A re-pull through an index is one request too: the index's digest is
// the image's RepoDigest, and the image is for the platform asked.
func TestRePullThroughAnIndex(t *testing.T) {
	f := newFake(t)
	l := makeLayer(t, "gzip", "oci", map[string]string{"x": "x"})
	var idx image.Index
	idx.SchemaVersion, idx.MediaType = 2, image.MediaTypeOCIIndex
	for _, arch := range []string{"amd64", "arm64"} {
		img := f.putImage("multi", "", "oci", arch, "", l)
		idx.Manifests = append(idx.Manifests, image.Descriptor{MediaType: image.MediaTypeOCIManifest, Digest: img.digest, Size: int64(len(img.manifest)),
			Platform: &image.Platform{OS: "linux", Architecture: arch}})
	}
	raw, err := json.Marshal(idx)
	require.NoError(t, err)
	f.putManifest("multi", "latest", image.MediaTypeOCIIndex, raw)
	s := newStore(t)
	c := newClient(t, Config{})
	_, err = c.Pull(ctx(t), s, f.host+"/multi", PullOptions{Auth: anon})
	require.NoError(t, err)
	f.reset()
	res, err := c.Pull(ctx(t), s, f.host+"/multi", PullOptions{Auth: anon})
	require.NoError(t, err)
	assert.True(t, res[0].UpToDate)
	assert.Equal(t, map[string]int{"GET manifests": 1}, f.counts)

	// Another platform is another image: its manifest and config come,
	// its layer (the same bytes) is there already.
	f.reset()
	var log progressLog
	res, err = c.Pull(ctx(t), s, f.host+"/multi", PullOptions{Auth: anon, Platform: "linux/arm64", Progress: log.fn})
	require.NoError(t, err)
	assert.False(t, res[0].UpToDate)
	assert.Equal(t, map[string]int{"GET manifests": 2, "GET blobs": 1}, f.counts)
	assert.Equal(t, []string{"Already exists"}, log.byID(l.digest.Short()))
}
