package registry

import (
	stdgzip "compress/gzip"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/06-images/registry/registrytest"
)

// BenchmarkGzipLevels measures what a push's compression costs, on two
// layer-like inputs of 64 MiB: the busybox root filesystem's tar
// (binaries, text) repeated, and random bytes (already compressed data). It reports the output's size as a share of the
// input (ratio). klauspost level 1 is what Push uses.
func BenchmarkGzipLevels(b *testing.B) {
	tarData, err := os.ReadFile(labtest.BusyboxRootfs(b) + ".tar")
	if err != nil {
		b.Fatal(err)
	}
	var text []byte
	for len(text) < 64<<20 {
		text = append(text, tarData...)
	}
	// Random bytes, as in compressed files and in registrytest's
	// layers: what a compressor must not slow down on.
	random := make([]byte, 64<<20)
	_, _ = rand.NewChaCha8([32]byte{}).Read(random)
	type writer interface {
		io.Writer
		Close() error
	}
	for _, tc := range []struct {
		name string
		make func(io.Writer) writer
	}{
		{"klauspost-1", func(w io.Writer) writer { z, _ := gzip.NewWriterLevel(w, gzip.BestSpeed); return z }},
		{"klauspost-6", func(w io.Writer) writer { z, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression); return z }},
		{"stdlib-6", func(w io.Writer) writer { z, _ := stdgzip.NewWriterLevel(w, stdgzip.DefaultCompression); return z }},
	} {
		for _, input := range []struct {
			name string
			data []byte
		}{{"busybox", text}, {"random", random}} {
			in := input.data
			b.Run(tc.name+"/"+input.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				var out countWriter
				for b.Loop() {
					out = 0
					z := tc.make(&out)
					if _, err := z.Write(in); err != nil {
						b.Fatal(err)
					}
					if err := z.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(out)/float64(len(in)), "ratio")
			})
		}
	}
}

type countWriter int64

func (c *countWriter) Write(b []byte) (int, error) { *c += countWriter(len(b)); return len(b), nil }

// benchLayers are the benchmark image: 200 MB in 4 layers of
// random bytes, gzip (so the transfer is 200 MB too).
var benchLayers = []int64{50 << 20, 50 << 20, 50 << 20, 50 << 20}

// peakMemory samples the Go runtime's total memory while f runs: what
// the process holds from the system (heap, stacks, buffers), the part of
// its RSS that a pull can make grow.
func peakMemory(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkPull200MB pulls the benchmark image from the real registry on
// loopback into an empty store, and reports the Go runtime's peak memory
// during the pull (MiB).
func BenchmarkPull200MB(b *testing.B) {
	r := registrytest.Start(b, registrytest.Options{})
	img := registrytest.NewImage(b, registrytest.ImageOptions{Layers: benchLayers, Seed: 200})
	r.Push(b, "bench/pull:1", img)
	c := newClient(b, Config{})
	var size int64
	for _, n := range benchLayers {
		size += n
	}
	b.SetBytes(size)
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		s := newStore(b)
		runtime.GC()
		b.StartTimer()
		p := peakMemory(func() {
			if _, err := c.Pull(context.Background(), s, r.Ref("bench/pull:1"), PullOptions{Auth: anon}); err != nil {
				b.Fatal(err)
			}
		})
		peak = max(peak, p)
		b.StopTimer()
		_ = os.RemoveAll(s.Dir())
		b.StartTimer()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
}

// BenchmarkRePull is the pull of an image the store has: one manifest
// request.
func BenchmarkRePull(b *testing.B) {
	r := registrytest.Start(b, registrytest.Options{})
	img := registrytest.NewImage(b, registrytest.ImageOptions{Layers: []int64{1 << 20}, Seed: 201})
	r.Push(b, "bench/repull:1", img)
	c := newClient(b, Config{})
	s := newStore(b)
	if _, err := c.Pull(context.Background(), s, r.Ref("bench/repull:1"), PullOptions{Auth: anon}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := c.Pull(context.Background(), s, r.Ref("bench/repull:1"), PullOptions{Auth: anon})
		if err != nil || !res[0].UpToDate {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkPush200MB pushes the benchmark image from the store to an
// empty registry (a new one each time: nothing to skip or mount).
func BenchmarkPush200MB(b *testing.B) {
	src := registrytest.Start(b, registrytest.Options{})
	img := registrytest.NewImage(b, registrytest.ImageOptions{Layers: benchLayers, Seed: 202})
	src.Push(b, "bench/push:1", img)
	c := newClient(b, Config{})
	s := newStore(b)
	if _, err := c.Pull(context.Background(), s, src.Ref("bench/push:1"), PullOptions{Auth: anon}); err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, n := range benchLayers {
		size += n
	}
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		dst := registrytest.Start(b, registrytest.Options{})
		ref := dst.Ref("bench/push:1")
		if err := s.Tag(src.Ref("bench/push:1"), ref); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := c.Push(context.Background(), s, ref, PushOptions{Auth: anon}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDockerd200MB is dockerd 20.10's figure for the same image and
// the same registry, to read beside BenchmarkPull200MB and
// BenchmarkPush200MB: its pull (after an rmi) and its push (to a new,
// empty registry each time).
func BenchmarkDockerd200MB(b *testing.B) {
	d := labtest.StartDockerd(b)
	r := registrytest.Start(b, registrytest.Options{})
	img := registrytest.NewImage(b, registrytest.ImageOptions{Layers: benchLayers, Seed: 203})
	ref := r.Ref("bench/dockerd:1")
	r.Push(b, "bench/dockerd:1", img)
	var size int64
	for _, n := range benchLayers {
		size += n
	}
	b.Run("pull", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			_, _ = d.Run("rmi", ref)
			b.StartTimer()
			if out, err := d.Run("pull", ref); err != nil {
				b.Fatal(err, out)
			}
		}
	})
	b.Run("push", func(b *testing.B) {
		if _, err := d.Run("pull", ref); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dst := registrytest.Start(b, registrytest.Options{})
			to := dst.Ref("bench/dockerd:1")
			if out, err := d.Run("tag", ref, to); err != nil {
				b.Fatal(err, out)
			}
			b.StartTimer()
			if out, err := d.Run("push", to); err != nil {
				b.Fatal(err, out)
			}
		}
	})
}
