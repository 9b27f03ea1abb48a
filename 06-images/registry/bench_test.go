package registry

import (
	stdgzip "compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/berth-project/berth/01-namespaces/labtest"
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
