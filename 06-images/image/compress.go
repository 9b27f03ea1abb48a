package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how a layer or an archive is compressed.
type Compression int

// The compressions that image archives and registry layers use. berth
// reads gzip and zstd with klauspost/compress (its gzip is a drop-in for
// the standard library's, about twice as fast to decompress; zstd is
// what registries serve for "application/vnd.oci.image.layer.v1.tar+zstd"
// layers) and bzip2 with the standard library; xz is recognised and
// refused with a clear error.
const (
	Uncompressed Compression = iota
	Gzip
	Bzip2
	Xz
	Zstd
)

func (c Compression) String() string {
	return [...]string{"uncompressed", "gzip", "bzip2", "xz", "zstd"}[c]
}

// magic numbers at the start of each kind of stream.
var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b, 0x08}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// DetectCompression looks at the first bytes of a stream. The media type
// or the file name of a layer may say otherwise; the bytes are what count
// (Docker archives name gzip layers "layer.tar", too).
func DetectCompression(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return Uncompressed
}

// maxZstdWindow bounds the memory a zstd stream may ask the decoder for:
// the zstd command line's default limit for decompression (8 MiB is what
// compressors use up to level 19), with room to spare.
const maxZstdWindow = 64 << 20

// Decompress returns the uncompressed content of r, whatever of the
// supported compressions r uses, and which one it was.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("detecting compression: %w", err)
	}
	c := DetectCompression(head)
	switch c {
	case Uncompressed:
		return io.NopCloser(br), c, nil
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", err)
		}
		return zr, c, nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), c, nil
	case Zstd:
		// One goroutine and a bounded window: several layers decompress
		// at once during a pull, and the decoder's default (a goroutine
		// and buffers per core) would multiply the memory a layer needs.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	}
	return nil, c, fmt.Errorf("%s-compressed data is not supported (recompress it with gzip, or not at all)", c)
}
