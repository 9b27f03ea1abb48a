package daemon

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/04-cow-layers/layer"
	"github.com/berth-project/berth/06-images/image"
)

// The speed targets of issue 5, end to end: a client's request to
// berthd's API, on the unix socket, to the answer's last byte.
//
//	go test -run '^$' -bench . -benchtime 5x ./final/daemon
//
//	commit of a 1 MB change on a 200 MB image   <= 50 ms
//	save, load, import, export of a 200 MB image <= half of dockerd's time
//	                                               here: 1.28, 1.07, 0.80, 1.01 s
//	no-change rebuild of a 10-step Dockerfile   <= 200 ms

const (
	benchFiles    = 200
	benchFileSize = 1 << 20
)

// importBig imports the tar as big:latest through the API.
func (e *imageEnv) importBigB(b *testing.B, tarFile string, ref string) string {
	b.Helper()
	f, err := os.Open(tarFile)
	require.NoError(b, err)
	defer f.Close()
	body, err := e.client.ImageImport(ctxFor(b), client.ImageImportSource{Source: f, SourceName: "-"}, ref, client.ImageImportOptions{Changes: []string{`CMD ["sh"]`}})
	require.NoError(b, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(b, err)
	require.Contains(b, string(data), `"status":"sha256:`)
	return strings.Split(strings.Split(string(data), `"status":"`)[1], `"`)[0]
}

// bigContainer makes a container of the image, the simple way: its
// writable layer, chapter 06's record and its lease.
func (e *imageEnv) bigContainerB(b *testing.B, id string) *layer.RW {
	b.Helper()
	dirs, err := e.d.images.LayerDirs(image.Digest(id))
	require.NoError(b, err)
	rw, err := layer.Create(e.root, "bench", dirs)
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(rw.Dir, "image.json"), []byte(`{"image":"`+id+`","command":["sh"]}`), 0o644))
	require.NoError(b, e.d.images.Use("bench", image.Digest(id), rw.Dir))
	return rw
}

func randomFile(b *testing.B, name string, seed uint64, size int) {
	b.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	buf := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			buf[i+k] = byte(v >> (8 * k))
		}
	}
	require.NoError(b, os.WriteFile(name, buf, 0o644))
}

func BenchmarkCommit1MBChangeOn200MBImage(b *testing.B) {
	e := newImageEnv(b)
	id := e.importBigB(b, labtest.BigTar(b, benchFiles, benchFileSize), "big")
	rw := e.bigContainerB(b, id)
	ctx := ctxFor(b)
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		randomFile(b, filepath.Join(rw.Upper(), "change"), uint64(1000+i), benchFileSize)
		b.StartTimer()
		_, err := e.client.ContainerCommit(ctx, "bench", client.ContainerCommitOptions{Reference: "big:committed"})
		require.NoError(b, err)
	}
}

func BenchmarkSave200MB(b *testing.B) {
	e := newImageEnv(b)
	e.importBigB(b, labtest.BigTar(b, benchFiles, benchFileSize), "big")
	out := filepath.Join(b.TempDir(), "saved.tar")
	ctx := ctxFor(b)
	b.SetBytes(benchFiles * benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, err := e.client.ImageSave(ctx, []string{"big"})
		require.NoError(b, err)
		f, err := os.Create(out)
		require.NoError(b, err)
		_, err = io.Copy(f, body)
		require.NoError(b, err)
		require.NoError(b, f.Close())
		body.Close()
	}
}

func BenchmarkLoad200MB(b *testing.B) {
	e := newImageEnv(b)
	e.importBigB(b, labtest.BigTar(b, benchFiles, benchFileSize), "big")
	saved := filepath.Join(b.TempDir(), "saved.tar")
	f, err := os.Create(saved)
	require.NoError(b, err)
	require.NoError(b, e.d.ImageSave(ctxFor(b), []string{"big"}, f))
	require.NoError(b, f.Close())
	b.SetBytes(benchFiles * benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fresh := newImageEnv(b)
		in, err := os.Open(saved)
		require.NoError(b, err)
		b.StartTimer()
		body, err := fresh.client.ImageLoad(ctxFor(b), in, client.ImageLoadWithQuiet(true))
		require.NoError(b, err)
		data, err := io.ReadAll(body)
		require.NoError(b, err)
		require.Contains(b, string(data), "Loaded image: big:latest")
		body.Close()
		in.Close()
	}
}

func BenchmarkImport200MB(b *testing.B) {
	tarFile := labtest.BigTar(b, benchFiles, benchFileSize)
	b.SetBytes(benchFiles * benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newImageEnv(b)
		b.StartTimer()
		e.importBigB(b, tarFile, "big")
	}
}

func BenchmarkExport200MB(b *testing.B) {
	e := newImageEnv(b)
	id := e.importBigB(b, labtest.BigTar(b, benchFiles, benchFileSize), "big")
	rw := e.bigContainerB(b, id)
	require.NoError(b, os.WriteFile(filepath.Join(rw.Upper(), "change"), []byte("x"), 0o644))
	out := filepath.Join(b.TempDir(), "export.tar")
	ctx := ctxFor(b)
	b.SetBytes(benchFiles * benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, err := e.client.ContainerExport(ctx, "bench", client.ContainerExportOptions{})
		require.NoError(b, err)
		f, err := os.Create(out)
		require.NoError(b, err)
		n, err := io.Copy(f, body)
		require.NoError(b, err)
		require.Greater(b, n, int64(benchFiles*benchFileSize))
		require.NoError(b, f.Close())
		body.Close()
	}
}

// tenSteps is a Dockerfile of ten steps: the configuration instructions,
// COPY and RUN.
const tenSteps = `FROM busybox
ARG VERSION=1
ENV APP=/app VERSION=$VERSION
WORKDIR /app
COPY src/ ./src/
RUN echo built > /app/built
COPY config.txt /etc/app.conf
LABEL org.example.app=bench
EXPOSE 8080
CMD ["cat", "/app/built"]
`

func BenchmarkRebuildOf10StepDockerfileWithNothingChanged(b *testing.B) {
	e := newImageEnv(b)
	f, err := os.Open(labtest.BusyboxRootfs(b) + ".tar")
	require.NoError(b, err)
	body, err := e.client.ImageImport(ctxFor(b), client.ImageImportSource{Source: f, SourceName: "-"}, "busybox", client.ImageImportOptions{})
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, body)
	body.Close()
	f.Close()
	files := map[string]string{"Dockerfile": tenSteps, "config.txt": "key=value\n"}
	for i := 0; i < 50; i++ {
		files[fmt.Sprintf("src/file%02d.go", i)] = strings.Repeat("package main\n", 100)
	}
	build := func() string {
		res, err := e.client.ImageBuild(ctxFor(b), contextTar(b, files), client.ImageBuildOptions{Tags: []string{"app:bench"}})
		require.NoError(b, err)
		data, err := io.ReadAll(res.Body)
		require.NoError(b, err)
		res.Body.Close()
		require.NotContains(b, string(data), `"error"`)
		return string(data)
	}
	build()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := build()
		require.Equal(b, 9, strings.Count(out, "Using cache"), out)
	}
}
