package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sparse files keep their holes.
//
// A file can have holes: ranges never written, which read as zeros and
// take no disk blocks (a database's preallocated file, a VM disk image).
// A tar keeps them with a sparse map (GNU tar's old 'S' entries, or PAX
// records GNU.sparse.*): the archive holds only the data, and the map
// says where it goes. Go's tar reader hides the map and reads the holes
// as zeros, so a plain copy would write every zero: a 64 MiB file with 4
// bytes of data would take 64 MiB in the layer, and a header that claims
// a terabyte of hole would fill the disk.
//
// holeWriter seeks over every block of zeros instead of writing it, the
// way `cp --sparse=always` does. The file gets the same content (a hole
// reads as zeros) and only the blocks with data. It does this for every
// file, sparse in the tar or not: a run of zero blocks is a hole either
// way, and overlay copies a file up with its holes.
//
//	tar data:    [data][..... zeros .....][data]
//	file blocks: [data]       hole        [data]
//	                   ^ lseek(SEEK_CUR), no write
//
// Blocks are directAlign bytes at offsets that are multiples of it, so the
// writes around a hole keep directFile's alignment.

// ErrNoRoom is wrapped by the error for a file larger than the free space
// of the file system it is written to.
var ErrNoRoom = errors.New("larger than the free space of its file system")

// holeBlock is the unit of hole detection: a page, the usual file system
// block. A shorter run of zeros is written.
const holeBlock = directAlign

var zeroBlock [holeBlock]byte

// holeWriter writes a file from its start, leaving holes for zero blocks.
type holeWriter struct {
	f    *os.File  // to seek and truncate
	w    io.Writer // f, or a directFile over it
	off  int64     // bytes written or skipped so far
	hole bool      // the last block was skipped: finish must set the size
}

func newHoleWriter(f *os.File, w io.Writer) *holeWriter {
	return &holeWriter{f: f, w: w}
}

func isZeroBlock(p []byte) bool {
	return len(p) == holeBlock && bytes.Equal(p, zeroBlock[:])
}

// Write writes p, skipping its whole zero blocks. Blocks are counted from
// the start of p, which the callers keep at multiples of holeBlock in the
// file (copyChunks writes whole chunks but the last).
func (h *holeWriter) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		j := i
		zero := isZeroBlock(p[i:min(i+holeBlock, len(p))])
		for j < len(p) && isZeroBlock(p[j:min(j+holeBlock, len(p))]) == zero {
			j = min(j+holeBlock, len(p))
		}
		if zero {
			if _, err := h.f.Seek(int64(j-i), io.SeekCurrent); err != nil {
				return i, fmt.Errorf("skipping a hole in %s: %w", h.f.Name(), err)
			}
			h.hole = true
		} else {
			n, err := h.w.Write(p[i:j])
			if err != nil {
				return i + n, err
			}
			h.hole = false
		}
		h.off += int64(j - i)
		i = j
	}
	return len(p), nil
}

// finish gives a file that ends in a hole its size: seeking past the end
// does not make the file longer, only a write or a truncate does.
func (h *holeWriter) finish() error {
	if !h.hole {
		return nil
	}
	if err := h.f.Truncate(h.off); err != nil {
		return fmt.Errorf("setting the size of %s: %w", h.f.Name(), err)
	}
	return nil
}

// WriteEntry writes the content of a tar entry, size bytes read from r,
// into f, a new empty file, keeping its holes. A size larger than the
// free space of f's file system is refused before anything is read (see
// checkRoom). final/containerfs writes docker cp's files with it.
func WriteEntry(f *os.File, r io.Reader, size int64) error {
	buf := getBuffer()
	defer putBuffer(buf)
	return writeEntry(f, f, r, size, *buf)
}

// writeEntry is WriteEntry through w (f, or a directFile over it).
func writeEntry(f *os.File, w io.Writer, r io.Reader, size int64, buf []byte) error {
	if err := checkRoom(f, size); err != nil {
		return err
	}
	hw := newHoleWriter(f, w)
	if _, err := copyChunks(hw, r, buf); err != nil {
		return err
	}
	return hw.finish()
}

// checkRoom refuses a file of size bytes that its file system has no
// room for. A tar's header says how long a file is, and a sparse entry
// can claim a petabyte in a few hundred bytes: its holes cost no disk
// here, but reading them costs time (about 20 ms a GiB), so a claim of
// 2^60 bytes would keep a core busy for years. Docker writes the zeros
// and fails when the disk is full; berth refuses at once, and leaves
// the disk as it was. The cost is that a sparse file longer than the
// free space is refused though its data would fit: Docker fails on it
// too. Small files are not checked: one statfs(2) per file would cost
// more than writing them.
func checkRoom(f *os.File, size int64) error {
	if size < directMin {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("%s: free space: %w", f.Name(), err)
	}
	return room(f.Name(), size, &st)
}

// checkRoomAt is checkRoom for a file of size bytes to be written in the
// directory dir (load checks the archive's entries with it: a layer
// blob can be a sparse entry too).
func checkRoomAt(dir, name string, size int64) error {
	if size < directMin {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%s: free space: %w", dir, err)
	}
	return room(name, size, &st)
}

func room(name string, size int64, st *unix.Statfs_t) error {
	if free := uint64(st.Bavail) * uint64(st.Bsize); uint64(size) > free {
		return fmt.Errorf("%s: %d bytes: %w (%d bytes free)", name, size, ErrNoRoom, free)
	}
	return nil
}

// contentSize is the size of a layer as Docker reports it (its overlay2
// driver's DiffSize): the sum of the apparent sizes of everything in the
// unpacked layer but directories, a hard-linked file once. A sparse file
// counts its whole length, holes included, though its holes take no
// disk: that is what `docker images` shows for it (measured with dockerd
// 20.10 on a layer holding a 64 MiB file with 4 bytes of data: 67108867
// bytes for that file and a 3-byte one, while the layer tar is 20 KiB).
// Whiteouts are empty character devices: they count nothing.
func contentSize(dir string) (int64, error) {
	var size int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if fi.Size() == 0 || !ok {
			return nil
		}
		if st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		size += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measuring layer %s: %w", dir, err)
	}
	return size, nil
}

// ContentSize is contentSize for others that count as Docker counts: a
// container's writable layer and a volume in docker system df (dockerd
// measures them with the same walk as a layer's DiffSize).
func ContentSize(dir string) (int64, error) { return contentSize(dir) }
