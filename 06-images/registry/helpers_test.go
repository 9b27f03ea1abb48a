package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/image"
)

// fake is go-containerregistry's in-memory registry on 127.0.0.1, behind
// a handler that counts requests by kind and lets a test step in.
type fake struct {
	t     testing.TB
	srv   *httptest.Server
	host  string
	inner http.Handler

	mu     sync.Mutex
	counts map[string]int
	// hook, when set, sees every request first; true means it answered.
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func newFake(t testing.TB) *fake {
	t.Helper()
	f := &fake{t: t, inner: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))), counts: map[string]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	f.host = strings.TrimPrefix(f.srv.URL, "http://")
	return f
}

// kind names a request: "GET manifests", "HEAD blobs", "POST mount",
// "PATCH uploads"...
func kind(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return r.Method + " ping"
	case strings.Contains(p, "/manifests/"):
		return r.Method + " manifests"
	case strings.Contains(p, "/blobs/uploads"):
		if r.URL.Query().Get("mount") != "" {
			return r.Method + " mount"
		}
		return r.Method + " uploads"
	case strings.Contains(p, "/blobs/"):
		return r.Method + " blobs"
	case strings.HasSuffix(p, "/tags/list"):
		return r.Method + " tags"
	}
	return r.Method + " " + p
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.counts[kind(r)]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	// Cross-repository mount, which the fake does not do: its blobs are
	// shared by all repositories, so a mount is a check that the blob
	// is there.
	if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
		d := r.URL.Query().Get("mount")
		rec := httptest.NewRecorder()
		f.inner.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/v2/"+r.URL.Query().Get("from")+"/blobs/"+d, nil))
		if rec.Code == http.StatusOK {
			repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads/")
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusCreated)
			return
		}
	}
	f.inner.ServeHTTP(w, r)
}

func (f *fake) count(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[k]
}

func (f *fake) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = map[string]int{}
}

func (f *fake) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// do sends one request to the registry directly.
func (f *fake) do(method, path, contentType string, body []byte) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	require.NoError(f.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	resp.Body.Close()
	return resp
}

// putBlob uploads data in one piece (POST, then PUT ?digest=).
func (f *fake) putBlob(repo string, data []byte) image.Digest {
	f.t.Helper()
	d := image.FromBytes(data)
	resp := f.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", nil)
	require.Equal(f.t, http.StatusAccepted, resp.StatusCode)
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	loc = strings.TrimPrefix(loc, f.srv.URL)
	resp = f.do(http.MethodPut, loc+sep+"digest="+string(d), "application/octet-stream", data)
	require.Equal(f.t, http.StatusCreated, resp.StatusCode)
	return d
}

func (f *fake) putManifest(repo, ref, mediaType string, data []byte) image.Digest {
	f.t.Helper()
	resp := f.do(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, mediaType, data)
	require.Equal(f.t, http.StatusCreated, resp.StatusCode, "PUT manifest %s:%s", repo, ref)
	return image.FromBytes(data)
}

// layer is a test layer: its tar and its blob as a registry serves it.
type layer struct {
	tar       []byte
	blob      []byte
	mediaType string
	diffID    image.Digest
	digest    image.Digest
}

// makeLayer makes a layer of files, compressed as comp says ("gzip",
// "zstd", "none"), with the media type of format ("docker", "oci").
func makeLayer(t testing.TB, comp, format string, files map[string]string) layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
		_, err := tw.Write([]byte(files[n]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	l := layer{tar: buf.Bytes(), diffID: image.FromBytes(buf.Bytes())}
	switch comp {
	case "gzip":
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, err := zw.Write(l.tar)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		l.blob = z.Bytes()
		l.mediaType = mediaOCILayerGzip
		if format == "docker" {
			l.mediaType = mediaDockerLayer
		}
	case "zstd":
		zw, err := zstd.NewWriter(nil)
		require.NoError(t, err)
		l.blob = zw.EncodeAll(l.tar, nil)
		l.mediaType = mediaOCILayerZstd
	default:
		l.blob = l.tar
		l.mediaType = image.MediaTypeOCILayer
	}
	l.digest = image.FromBytes(l.blob)
	return l
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// testImage is an image put into the fake.
type testImage struct {
	config   []byte
	id       image.Digest
	manifest []byte
	digest   image.Digest // of the manifest
	layers   []layer
}

// putImage uploads layers and a config for arch[/variant] and a manifest
// (Docker schema 2 or OCI by format), tagged ref ("" for none).
func (f *fake) putImage(repo, ref, format, arch, variant string, layers ...layer) testImage {
	f.t.Helper()
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, string(l.diffID))
		f.putBlob(repo, l.blob)
	}
	cfg := map[string]any{
		"architecture": arch, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}, "Env": []string{"A=" + repo + ref + arch + variant}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	if variant != "" {
		cfg["variant"] = variant
	}
	raw, err := json.Marshal(cfg)
	require.NoError(f.t, err)
	img := testImage{config: raw, id: f.putBlob(repo, raw), layers: layers}
	mt, cmt := image.MediaTypeOCIManifest, image.MediaTypeOCIConfig
	if format == "docker" {
		mt, cmt = image.MediaTypeDockerManifest, mediaDockerConfig
	}
	m := image.Manifest{SchemaVersion: 2, MediaType: mt, Config: image.Descriptor{MediaType: cmt, Digest: img.id, Size: int64(len(raw))}}
	for _, l := range layers {
		m.Layers = append(m.Layers, image.Descriptor{MediaType: l.mediaType, Digest: l.digest, Size: int64(len(l.blob))})
	}
	img.manifest, err = json.Marshal(m)
	require.NoError(f.t, err)
	if ref == "" {
		ref = string(image.FromBytes(img.manifest))
	}
	img.digest = f.putManifest(repo, ref, mt, img.manifest)
	return img
}

// client is a Client for tests: no certs directories of the machine, no
// docker config (anonymous unless auth says).
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.CertsDirs == nil {
		cfg.CertsDirs = []string{t.TempDir()}
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

var anon = &AuthConfig{}

func newStore(t testing.TB) *image.Store {
	t.Helper()
	labtest.Privileged(t) // layers keep their files' owners
	s, err := image.Open(filepath.Join(t.TempDir(), "images"))
	require.NoError(t, err)
	return s
}

// storeEmpty checks that a store holds no image, no layer, no blob and
// nothing in tmp/.
func storeEmpty(t testing.TB, s *image.Store) {
	t.Helper()
	imgs, err := s.Images()
	require.NoError(t, err)
	require.Empty(t, imgs)
	for _, d := range []string{"layers", "blobs/sha256", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(s.Dir(), d))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		require.Empty(t, names, "%s/%s", s.Dir(), d)
	}
}

// readLayerFile reads a file from the image's stacked layers (top wins).
func readLayerFile(t testing.TB, s *image.Store, id image.Digest, name string) string {
	t.Helper()
	dirs, err := s.LayerDirs(id)
	require.NoError(t, err)
	for i := len(dirs) - 1; i >= 0; i-- {
		if data, err := os.ReadFile(filepath.Join(dirs[i], name)); err == nil {
			return string(data)
		}
	}
	t.Fatalf("%s: not in image %s", name, id)
	return ""
}

// progressLog collects progress lines as "ID: Status", Downloading and
// Pushing lines once per layer in a row (their number depends on speed).
type progressLog struct {
	mu    sync.Mutex
	lines []string
	all   []Progress
}

func (p *progressLog) fn(pr Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = append(p.all, pr)
	line := pr.Status
	if pr.ID != "" {
		line = pr.ID + ": " + pr.Status
	}
	if pr.Aux != nil {
		line = fmt.Sprintf("aux %s %s %d", pr.Aux.Tag, pr.Aux.Digest, pr.Aux.Size)
	}
	if (pr.Status == "Downloading" || pr.Status == "Pushing") && len(p.lines) > 0 && p.lines[len(p.lines)-1] == line {
		return
	}
	p.lines = append(p.lines, line)
}

func (p *progressLog) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.lines...)
}

// byID keeps the lines of one layer.
func (p *progressLog) byID(id string) []string {
	var out []string
	for _, l := range p.get() {
		if strings.HasPrefix(l, id+": ") {
			out = append(out, strings.TrimPrefix(l, id+": "))
		}
	}
	return out
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
