package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// FileName returns the name of the i-th file of the log at path: path
// itself for the current file (i = 0), path.1 for the one rotated last,
// path.2 before it, and so on.
func FileName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// Writer appends records to a log file and rotates it by size. It is safe
// for concurrent use: a shim writes stdout and stderr from two goroutines,
// and each Write becomes whole records, never interleaved with another's.
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File
	size int64  // bytes in the current file
	buf  []byte // records being assembled, reused
	err  error  // the first write error; the log is broken after it
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// OpenWriter opens the log at path for appending, creating it if needed.
// A container started again appends to the log of its earlier runs.
func OpenWriter(path string, opts Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	w := &Writer{path: path, opts: opts, Now: time.Now}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// open opens the current file. A file that does not end in a newline
// was cut in the middle of a record (its writer was killed during a
// write): a newline ends that torn record, so that the next one starts on
// a line of its own.
func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log %s: %w", w.path, err)
	}
	w.f, w.size = f, fi.Size()
	if w.size > 0 {
		last := make([]byte, 1)
		r, err := os.Open(w.path)
		if err == nil {
			_, err = r.ReadAt(last, w.size-1)
			r.Close()
		}
		if err != nil {
			return fmt.Errorf("log %s: reading its end: %w", w.path, err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return fmt.Errorf("log %s: %w", w.path, err)
			}
			w.size++
		}
	}
	return nil
}

// Write logs one chunk of output of stream s, as the container wrote it:
// one F record per newline in chunk, and a P record for the bytes after
// the last newline. All the records of a chunk get the same timestamp and
// reach the file in one write(2) (unless the file rotates in between).
func (w *Writer) Write(s Stream, chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	var stamp [timeLen]byte
	w.buf = appendRecords(w.buf[:0], appendStamp(stamp[:0], w.Now()), s, chunk, w.beforeRecord)
	w.flush()
	return w.err
}

// beforeRecord rotates the file if the next record (of size bytes) would
// make it larger than MaxSize. It writes out the records assembled so far
// first, so that they land in the old file. A file never holds less than
// one record, so a record larger than MaxSize gets a file of its own.
func (w *Writer) beforeRecord(b []byte, size int) []byte {
	if w.opts.MaxSize == 0 || w.err != nil || w.size+int64(len(b)+size) <= w.opts.MaxSize {
		return b
	}
	w.buf = b
	w.flush()
	if w.size > 0 && w.err == nil {
		w.rotate()
	}
	return w.buf[:0]
}

// flush writes w.buf to the current file.
func (w *Writer) flush() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("writing log %s: %w", w.path, err)
	}
	w.buf = w.buf[:0]
}

// rotate moves the current file aside and starts a new one:
//
//	container.log.1 -> container.log.2   (with max-file=3, .2 is replaced: the oldest goes)
//	container.log   -> container.log.1
//	(new)              container.log
//
// A reader following the log holds the old file open, so it can finish
// reading it after the rename, then find the new one (see Reader).
func (w *Writer) rotate() {
	if err := w.f.Close(); err != nil {
		w.err = fmt.Errorf("closing log %s: %w", w.path, err)
		return
	}
	if w.opts.Files() == 1 {
		// Nothing to keep: a new file replaces the old one. Unlinking,
		// rather than truncating, lets a reader tell the files apart.
		if err := os.Remove(w.path); err != nil {
			w.err = fmt.Errorf("rotating log: %w", err)
			return
		}
	}
	for i := w.opts.Files() - 1; i >= 1; i-- {
		err := os.Rename(FileName(w.path, i-1), FileName(w.path, i))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.err = fmt.Errorf("rotating log: %w", err)
			return
		}
	}
	if err := w.open(); err != nil {
		w.err = err
	}
}

// Stream returns an io.Writer whose every Write is logged as stream s.
func (w *Writer) Stream(s Stream) io.Writer { return streamWriter{w, s} }

type streamWriter struct {
	w *Writer
	s Stream
}

func (sw streamWriter) Write(p []byte) (int, error) {
	if err := sw.w.Write(sw.s, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = errors.New("log writer closed")
	}
	if err != nil {
		return fmt.Errorf("closing log %s: %w", w.path, err)
	}
	return nil
}
