package logs

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fillLog writes about size bytes of 100-byte lines to a new log.
func fillLog(b *testing.B, path string, size int64) {
	b.Helper()
	w, err := OpenWriter(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	chunk := bytes.Repeat(line, 640) // 64 KB, as a pipe delivers it
	for written := int64(0); written < size; written += int64(len(chunk)) {
		if size < int64(len(chunk)) {
			chunk = chunk[:size/100*100]
		}
		if err := w.Write(Stdout, chunk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTail10 shows that `logs --tail 10` costs the same whatever
// the size of the log: compare ns/op and B-read/op of 1KB and 1GB.
func BenchmarkTail10(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []struct {
		name string
		n    int64
	}{{"1KB", 1 << 10}, {"1MB", 1 << 20}, {"1GB", 1 << 30}} {
		path := filepath.Join(dir, size.name+".log")
		fillLog(b, path, size.n)
		b.Run(size.name, func(b *testing.B) {
			var read int64
			for b.Loop() {
				r, err := NewReader(path, ReadOptions{Tail: 10})
				if err != nil {
					b.Fatal(err)
				}
				o := &Output{Stdout: io.Discard}
				if err := r.Read(context.Background(), o.Write, nil); err != nil {
					b.Fatal(err)
				}
				read = r.BytesRead()
				r.Close()
			}
			b.ReportMetric(float64(read), "B-read/op")
		})
		os.Remove(path)
	}
}

// BenchmarkReadAll100MB is `logs` of a container that wrote 100 MB: the
// target is under a second.
func BenchmarkReadAll100MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "container.log")
	fillLog(b, path, 100<<20)
	b.SetBytes(100 << 20)
	for b.Loop() {
		if err := Copy(context.Background(), path, ReadOptions{Tail: All}, &Output{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite100MB is the shim's side: 100 MB of output into records.
func BenchmarkWrite100MB(b *testing.B) {
	dir := b.TempDir()
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	chunk := bytes.Repeat(line, 640)
	b.SetBytes(100 << 20)
	for b.Loop() {
		path := filepath.Join(dir, "container.log")
		w, err := OpenWriter(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for written := 0; written < 100<<20; written += len(chunk) {
			if err := w.Write(Stdout, chunk); err != nil {
				b.Fatal(err)
			}
		}
		w.Close()
		os.Remove(path)
	}
}
