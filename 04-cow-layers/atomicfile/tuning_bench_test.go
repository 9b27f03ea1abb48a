package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReplaceFile is what tuning_exchange.go saves: replacing a small
// record (a shim's state.json's size) by a rename over the old file, and
// by an exchange with it and an unlink (swapIn). The difference is
// ext4's, and shows most on a disk mounted with discard: TMPDIR must be
// on the disk to measure (a tmpfs shows none).
//
//	TMPDIR=/var/tmp go test -run X -bench ReplaceFile ./04-cow-layers/atomicfile
func BenchmarkReplaceFile(b *testing.B) {
	data := make([]byte, 300)
	for _, exchange := range []bool{false, true} {
		name := "rename over"
		if exchange {
			name = "exchange and unlink"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			path, tmp := filepath.Join(dir, "state.json"), filepath.Join(dir, "state.json.tmp")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := os.WriteFile(tmp, data, 0o644); err != nil {
					b.Fatal(err)
				}
				if err := replace(tmp, path, exchange); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
