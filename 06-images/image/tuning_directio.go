// Engine tuning: skip on first reading; docs/performance.md tells why it
// exists. The ingest (ingest.go) and the extraction (extract.go) only
// ask for a buffer (getBuffer) and, for a big file, a directFile to
// write it through: with an ordinary *os.File and bytes.Buffer they would
// store the same bytes, more slowly.

package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Big files are written with O_DIRECT: from the process's buffer straight
// to the disk, without going through the page cache.
//
// A buffered write(2) only copies the bytes into the page cache; the disk
// sees them later, when the kernel writes them back, or when syncfs(2)
// makes it (the store syncs before a layer becomes visible: see addLayer).
// For the megabytes of a layer that is the bytes handled twice: copied
// into fresh cache pages (in a virtual machine, pages the host must first
// back with memory, which makes the copy slow and its time vary from one
// run to the next), then written out by the sync, which has to wait for
// all of it. Nobody reads those pages soon: a layer is read when a
// container runs, or at the next save. With O_DIRECT the write goes to the
// disk at once, with next to no CPU, while the other goroutines of the
// ingest hash and parse the next megabyte; the sync then has little left
// to do.
//
// Small files stay buffered: a direct write waits for the disk, and
// thousands of small waits cost more than one sync of all of them.
//
// O_DIRECT wants the buffer, the file offset and the length aligned to the
// disk's block size. The buffers are aligned (alignedBuffer), the writes
// are whole multiples of directAlign, and the tail of a file, shorter
// than a block, is written through the cache after turning O_DIRECT off.
// A file system that refuses O_DIRECT (tmpfs of older kernels, some FUSE
// file systems) gets ordinary writes.

const (
	// directAlign is a multiple of every block size in common use (512
	// and 4096 bytes).
	directAlign = 4096
	// directMin is the smallest file written with O_DIRECT.
	directMin = 512 << 10
	// ioChunk is the unit of the ingest's buffers and of direct writes.
	ioChunk = 1 << 20
)

// alignedBuffer returns n bytes whose address is a multiple of
// directAlign.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) % directAlign); r != 0 {
		off = directAlign - r
	}
	return b[off : off+n : off+n]
}

// buffers keeps ioChunk-sized aligned buffers between uses: a fresh
// megabyte costs page faults (the first touch of each page) that a reused
// one does not.
var buffers = sync.Pool{New: func() any {
	b := alignedBuffer(ioChunk)
	return &b
}}

func getBuffer() *[]byte  { return buffers.Get().(*[]byte) }
func putBuffer(b *[]byte) { buffers.Put(b) }

// fill reads into buf until it is full or r ends (io.EOF) or fails.
// Unlike io.ReadFull it keeps r's own errors apart from its end: a tar
// reader says io.ErrUnexpectedEOF for a cut archive.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// copyChunks copies r to w through buf, in writes of len(buf) bytes but
// the last: what directFile needs to keep its writes aligned.
func copyChunks(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := fill(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func isAligned(p []byte) bool {
	return len(p) > 0 && uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}

// directFile writes a file sequentially, with O_DIRECT while it can.
type directFile struct {
	f      *os.File
	direct bool
}

// newDirectFile turns O_DIRECT on for f if its file system allows it
// (fcntl F_SETFL can set it on an open file; EINVAL if the file system
// cannot do direct I/O).
func newDirectFile(f *os.File) *directFile {
	d := &directFile{f: f}
	if flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err == nil {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, flags|unix.O_DIRECT); err == nil {
			d.direct = true
		}
	}
	return d
}

// buffered turns O_DIRECT off, for the tail of the file or for good.
func (d *directFile) buffered() error {
	d.direct = false
	flags, err := unix.FcntlInt(d.f.Fd(), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(d.f.Fd(), unix.F_SETFL, flags&^unix.O_DIRECT)
	}
	if err != nil {
		return fmt.Errorf("writing %s: turning O_DIRECT off: %w", d.f.Name(), err)
	}
	return nil
}

// Write writes p at the end of what was written so far. The aligned part
// of an aligned buffer goes directly to the disk; the rest (a file's
// tail) turns O_DIRECT off, so only a file's last write may be unaligned.
func (d *directFile) Write(p []byte) (int, error) {
	done := 0
	if d.direct {
		n := len(p) &^ (directAlign - 1)
		if n > 0 && isAligned(p) {
			w, err := d.f.Write(p[:n])
			done += w
			// EINVAL: the alignment the disk wants is larger (or the
			// file system changed its mind): the cache will do.
			if err != nil && !errors.Is(err, unix.EINVAL) {
				return done, err
			}
		}
		if done < len(p) {
			if err := d.buffered(); err != nil {
				return done, err
			}
		}
	}
	if done == len(p) {
		return done, nil
	}
	w, err := d.f.Write(p[done:])
	return done + w, err
}
