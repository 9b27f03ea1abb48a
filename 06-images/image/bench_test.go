package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// The speed targets of the daemon (final/) are checked here, with a
// 200 MB image: go test -run XXX -bench . ./06-images/image
//
//	commit of a 1 MB change on a 200 MB image   <= 50 ms
//	save, load, import, export of 200 MB         fast: disk speed, each
//	                                             byte read and written once

const (
	bigFiles    = 200
	bigFileSize = 1 << 20
)

// bigStore is a store holding the 200 MB image as "big".
func bigStore(b *testing.B) (*Store, Image, string) {
	b.Helper()
	tarFile := labtest.BigTar(b, bigFiles, bigFileSize)
	s := newStore(b)
	f, err := os.Open(tarFile)
	require.NoError(b, err)
	defer f.Close()
	img, err := s.Import(f, ImportOptions{Ref: "big"})
	require.NoError(b, err)
	return s, img, tarFile
}

func BenchmarkCommit1MBOn200MBImage(b *testing.B) {
	s, img, _ := bigStore(b)
	b.SetBytes(bigFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		up := b.TempDir()
		require.NoError(b, os.WriteFile(filepath.Join(up, "change"), labtest.RandomBytes(uint64(1000+i), bigFileSize), 0o644))
		b.StartTimer()
		_, err := s.Commit(up, CommitOptions{Parent: img.ID})
		require.NoError(b, err)
	}
}

func BenchmarkSave200MB(b *testing.B) {
	s, _, _ := bigStore(b)
	out := filepath.Join(b.TempDir(), "saved.tar")
	b.SetBytes(bigFiles * bigFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Create(out)
		require.NoError(b, err)
		require.NoError(b, s.Save(f, []string{"big"}))
		require.NoError(b, f.Close())
	}
}

func BenchmarkLoad200MB(b *testing.B) {
	s, _, _ := bigStore(b)
	saved := filepath.Join(b.TempDir(), "saved.tar")
	f, err := os.Create(saved)
	require.NoError(b, err)
	require.NoError(b, s.Save(f, []string{"big"}))
	require.NoError(b, f.Close())
	b.SetBytes(bigFiles * bigFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fresh := newStore(b)
		in, err := os.Open(saved)
		require.NoError(b, err)
		b.StartTimer()
		_, err = fresh.Load(in)
		require.NoError(b, err)
		in.Close()
	}
}

func BenchmarkImport200MB(b *testing.B) {
	tarFile := labtest.BigTar(b, bigFiles, bigFileSize)
	b.SetBytes(bigFiles * bigFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := newStore(b)
		in, err := os.Open(tarFile)
		require.NoError(b, err)
		b.StartTimer()
		_, err = s.Import(in, ImportOptions{})
		require.NoError(b, err)
		in.Close()
	}
}

func BenchmarkExport200MB(b *testing.B) {
	s, img, _ := bigStore(b)
	dirs, err := s.LayerDirs(img.ID)
	require.NoError(b, err)
	up := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(up, "change"), []byte("x"), 0o644))
	out := filepath.Join(b.TempDir(), "export.tar")
	b.SetBytes(bigFiles * bigFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Create(out)
		require.NoError(b, err)
		require.NoError(b, Flatten(f, append(dirs, up)))
		require.NoError(b, f.Close())
	}
}

// BenchmarkExtractLayer is the unpacking alone, from memory.
func BenchmarkExtractLayer(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < 1000; i++ {
		require.NoError(b, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("d%d/f%d", i%10, i), Mode: 0o644, Size: 1024}))
		_, err := tw.Write(labtest.RandomBytes(uint64(i), 1024))
		require.NoError(b, err)
	}
	require.NoError(b, tw.Close())
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		require.NoError(b, ExtractLayer(bytes.NewReader(buf.Bytes()), dir))
	}
}
