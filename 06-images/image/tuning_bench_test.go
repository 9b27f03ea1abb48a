package image

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// BenchmarkWriteLayerFiles is what the engine tuning of
// tuning_directio.go saves an ingest: 64 files of 1 MB written as the
// extractor writes them (copyChunks, through the pooled 1 MB buffers),
// then the one syncfs(2) that makes a layer durable before it becomes
// visible, buffered and with O_DIRECT (directFile). Each iteration writes
// new files, as an ingest does. Beside the time it reports the CPU the
// process used (cpu-ms/op): what the writes take from the goroutines
// that hash and decompress beside them in a real ingest. TMPDIR must be on the disk to measure: a
// tmpfs refuses O_DIRECT, and both would be buffered.
//
//	go test -run X -bench WriteLayerFiles -benchtime 10x ./06-images/image
func BenchmarkWriteLayerFiles(b *testing.B) {
	const files, size = 64, 1 << 20
	content := labtest.RandomBytes(9, size)
	for _, direct := range []bool{false, true} {
		name := "buffered"
		if direct {
			name = "O_DIRECT"
		}
		b.Run(name, func(b *testing.B) {
			root := b.TempDir()
			b.SetBytes(files * size)
			var cpu int64
			for i := 0; i < b.N; i++ {
				cpu0 := cpuTime(b)
				dir := filepath.Join(root, strconv.Itoa(i))
				require.NoError(b, os.Mkdir(dir, 0o755))
				var last *os.File
				for j := 0; j < files; j++ {
					f, err := os.Create(filepath.Join(dir, strconv.Itoa(j)))
					require.NoError(b, err)
					var w io.Writer = f
					if direct {
						d := newDirectFile(f)
						require.True(b, d.direct, "this filesystem refuses O_DIRECT")
						w = d
					}
					buf := getBuffer()
					_, err = copyChunks(w, bytes.NewReader(content), *buf)
					putBuffer(buf)
					require.NoError(b, err)
					if last != nil {
						require.NoError(b, last.Close())
					}
					last = f
				}
				require.NoError(b, unix.Syncfs(int(last.Fd())))
				require.NoError(b, last.Close())
				cpu += cpuTime(b) - cpu0
				b.StopTimer()
				require.NoError(b, os.RemoveAll(dir))
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the CPU time this process used so far, in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	require.NoError(b, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return ru.Utime.Nano() + ru.Stime.Nano()
}
