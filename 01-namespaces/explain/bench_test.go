package explain

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

// What a step costs, off (nil) and on (formatted and written to a
// writer that keeps nothing): the figures behind doc.go's "off costs
// nothing worth measuring".
func BenchmarkMountStep(b *testing.B) {
	for _, bb := range []struct {
		name string
		t    *Trace
	}{{"off", nil}, {"on", New(io.Discard)}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				bb.t.Mount(System, "tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755", "")
			}
		})
	}
}
