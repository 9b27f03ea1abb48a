package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ReadOptions say which records a Reader returns.
type ReadOptions struct {
	// Tail is how many lines to return from the end of the log; All (-1)
	// returns the whole log, 0 none of what is already there (with
	// Follow: only what comes next).
	Tail int
	// Since skips records written before it. Zero keeps them all.
	Since time.Time
	// Times fills in each Record's Time. Reading a timestamp costs more
	// than the rest of a record, so a reader parses them only for Since
	// or when asked: the bytes are there for Output either way.
	Times bool
	// Follow keeps reading as the log grows, across rotations, until
	// the context is cancelled or Alive reports false.
	Follow bool
	// Alive tells a follower whether the writer may still write. Once it
	// returns false the reader reads what is left and stops. Nil means
	// "until the context is cancelled".
	Alive func() bool
	// Poll is how often a follower looks again when the kernel sent no
	// event; 0 means 250 ms. Events (inotify) wake it at once.
	Poll time.Duration
}

// All is ReadOptions.Tail for "the whole log".
const All = -1

// Reader reads a log file and the files rotated before it, in order.
type Reader struct {
	path  string
	opts  ReadOptions
	segs  []*segment // what to read, oldest first; the last is the newest
	read  int64      // bytes read from files, for BytesRead
	buf   []byte
	watch int // inotify descriptor while following, or -1
}

// segment is one file of the log, held open: a rename by the writer does
// not move what we read.
type segment struct {
	f   *os.File
	ino uint64
	off int64 // the next byte to read
}

// NewReader opens the log at path and finds where reading starts: the
// beginning of the oldest file, or, with Tail, the start of the last Tail
// lines, found by reading the files backwards from their end. The cost of
// a tail is that of the lines it returns, not of the log's size.
//
// A log that does not exist yet reads as empty (and a follower waits for
// it to appear).
func NewReader(path string, opts ReadOptions) (*Reader, error) {
	r := &Reader{path: path, opts: opts, watch: -1}
	cur, err := r.openName(0)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return r, nil
	}
	r.segs = []*segment{cur}
	if opts.Tail == 0 {
		cur.off = cur.size()
		return r, nil
	}
	t := tailState{want: opts.Tail}
	for seg := cur; ; {
		if opts.Tail > 0 {
			start, found, err := r.scanBack(seg, &t)
			if err != nil {
				r.Close()
				return nil, err
			}
			seg.off = start
			if found {
				break
			}
		}
		older, err := r.older(seg)
		if err != nil {
			r.Close()
			return nil, err
		}
		if older == nil {
			break
		}
		r.segs = append([]*segment{older}, r.segs...)
		seg = older
	}
	return r, nil
}

// openName opens the i-th file of the log, or returns nil if it does not
// exist.
func (r *Reader) openName(i int) (*segment, error) {
	f, err := os.Open(FileName(r.path, i))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("log %s: %w", f.Name(), err)
	}
	return &segment{f: f, ino: st.Ino}, nil
}

func (s *segment) size() int64 {
	fi, err := s.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// index returns where the file of seg is now: 0 for path, i for path.i,
// or -1 if it is gone (rotated out and deleted).
func (r *Reader) index(seg *segment) int {
	for i := 0; ; i++ {
		var st unix.Stat_t
		err := unix.Stat(FileName(r.path, i), &st)
		if err != nil {
			if i == 0 {
				continue // between the writer's rename and its create
			}
			return -1
		}
		if st.Ino == seg.ino {
			return i
		}
	}
}

// older opens the file that was rotated just before seg, or returns nil
// if there is none. The writer may rotate meanwhile, renaming every file:
// finding seg's place again after opening its neighbour shows whether the
// neighbour was the right one.
func (r *Reader) older(seg *segment) (*segment, error) {
	for {
		i := r.index(seg)
		if i < 0 {
			return nil, nil
		}
		next, err := r.openName(i + 1)
		if err != nil || next == nil {
			return nil, err
		}
		if r.index(seg) == i && next.ino != seg.ino {
			return next, nil
		}
		next.f.Close()
	}
}

// newer opens the file the writer started after seg, or returns nil if
// seg is still the current file or the next one does not exist yet.
func (r *Reader) newer(seg *segment) (*segment, error) {
	for {
		i := r.index(seg)
		if i == 0 {
			return nil, nil
		}
		j := i - 1
		if i < 0 {
			// seg was deleted: every file left is newer. Go on
			// with the oldest.
			for j = 0; ; j++ {
				if _, err := os.Stat(FileName(r.path, j+1)); err != nil {
					break
				}
			}
		}
		next, err := r.openName(j)
		if err != nil || next == nil {
			return nil, err
		}
		if next.ino != seg.ino && r.index(seg) == i {
			return next, nil
		}
		next.f.Close()
	}
}

// tailState counts lines while scanning backwards for a tail.
type tailState struct {
	want  int  // lines wanted
	lines int  // lines found so far
	seen  bool // a record was seen (the newest one decides if the log ends in a partial line)
}

// scanBack reads seg backwards from its end, a block at a time, counting
// the lines that records end. It returns the offset where the last
// t.want lines begin, with found, or the start of the file, without, if
// the file holds fewer lines (the rest are in the older files).
//
// A line ends at an F record. If the newest record is a P record, the
// line it belongs to is unfinished; it still counts as the last line.
// Scanning backwards, the boundary is the F record just before the lines
// wanted: the tail starts right after it.
func (r *Reader) scanBack(seg *segment, t *tailState) (start int64, found bool, err error) {
	const block = 64 << 10
	end := seg.size()
	var carry []byte // the start of a line that began before pos, and the bytes after it
	first := true    // bytes after the last newline are an unfinished write: skip them
	pos := end
	for pos > 0 {
		n := min(block, pos)
		pos -= n
		data := make([]byte, int(n)+len(carry))
		if _, err := seg.f.ReadAt(data[:n], pos); err != nil && err != io.EOF {
			return 0, false, fmt.Errorf("reading log %s: %w", seg.f.Name(), err)
		}
		r.read += n
		copy(data[n:], carry)
		j := len(data)
		if first {
			k := bytes.LastIndexByte(data, '\n')
			if k < 0 {
				carry = data
				continue
			}
			j, first = k+1, false
		}
		for j > 0 {
			i := bytes.LastIndexByte(data[:j-1], '\n')
			if i < 0 {
				break
			}
			if t.count(data[i+1 : j-1]) {
				return pos + int64(j), true, nil
			}
			j = i + 1
		}
		carry = data[:j]
	}
	if !first && len(carry) > 0 && t.count(carry[:len(carry)-1]) {
		return int64(len(carry)), true, nil
	}
	return 0, false, nil
}

// count takes one line, newest first, and reports whether the lines
// wanted are complete before it: then the tail starts after this line.
func (t *tailState) count(line []byte) bool {
	tag := recordTag(line)
	if tag == 0 {
		return false // not a record: skipped
	}
	if !t.seen {
		t.seen = true
		if tag == tagPartial {
			t.lines = 1 // the unfinished last line
			return false
		}
	}
	if tag == tagFull {
		if t.lines == t.want {
			return true
		}
		t.lines++
	}
	return false
}

// BytesRead is how many bytes the reader has read from the log files so
// far. It shows what a tail costs.
func (r *Reader) BytesRead() int64 { return r.read }

// Read calls emit for every record from the starting point on, in the
// order they were written. Without Follow it stops at the end of the log.
// With Follow it calls idle (if not nil) whenever it has caught up, then
// waits for more, until ctx is done (it returns nil then) or Alive
// reports false. Data in a Record is only valid during the call to emit.
func (r *Reader) Read(ctx context.Context, emit func(Record) error, idle func() error) error {
	if r.opts.Follow {
		if err := r.startWatch(); err != nil {
			return err
		}
	}
	// The files before the newest are finished: the writer has moved on.
	for len(r.segs) > 1 {
		if err := r.readSegment(r.segs[0], emit, true); err != nil {
			return err
		}
		r.segs[0].f.Close()
		r.segs = r.segs[1:]
	}
	for {
		if len(r.segs) == 0 {
			// No log yet (or we lost it): wait for the current file.
			seg, err := r.openName(0)
			if err != nil {
				return err
			}
			if seg != nil {
				r.segs = []*segment{seg}
			}
		}
		if len(r.segs) == 1 {
			if err := r.readSegment(r.segs[0], emit, false); err != nil {
				return err
			}
			// Rotated while we read? Finish the old file (nothing
			// more will be written to it) and go on with the new.
			next, err := r.newer(r.segs[0])
			if err != nil {
				return err
			}
			if next != nil {
				if err := r.readSegment(r.segs[0], emit, true); err != nil {
					return err
				}
				r.segs[0].f.Close()
				r.segs[0] = next
				continue
			}
		}
		if !r.opts.Follow {
			return nil
		}
		if idle != nil {
			if err := idle(); err != nil {
				return err
			}
		}
		if r.opts.Alive != nil && !r.opts.Alive() {
			// The writer is done. What it wrote before it stopped is
			// on disk: read once more to the end, through any last
			// rotation, and stop.
			return r.drain(emit, idle)
		}
		if err := r.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// drain reads what is left after the writer has stopped.
func (r *Reader) drain(emit func(Record) error, idle func() error) error {
	for {
		if len(r.segs) == 0 {
			seg, err := r.openName(0)
			if err != nil || seg == nil {
				return err
			}
			r.segs = []*segment{seg}
		}
		seg := r.segs[0]
		if err := r.readSegment(seg, emit, false); err != nil {
			return err
		}
		next, err := r.newer(seg)
		if err != nil {
			return err
		}
		if next == nil {
			break
		}
		if err := r.readSegment(seg, emit, true); err != nil {
			return err
		}
		seg.f.Close()
		r.segs[0] = next
	}
	if idle != nil {
		return idle()
	}
	return nil
}

// readSegment reads seg from its offset to its end and emits each
// record. A last line without its newline is left for later, unless
// final says the file is finished (then it was torn, and is dropped).
func (r *Reader) readSegment(seg *segment, emit func(Record) error, final bool) error {
	if r.buf == nil {
		// Small for a tail; grown below for a long read.
		r.buf = make([]byte, 64<<10)
	}
	pending := 0 // bytes at the start of r.buf that are the start of a line
	for {
		if pending == len(r.buf) {
			// A line longer than the buffer: not written by Writer,
			// whose records are at most MaxRecord. Grow rather than fail.
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		n, err := seg.f.ReadAt(r.buf[pending:], seg.off+int64(pending))
		r.read += int64(n)
		filled := n == len(r.buf)-pending
		if n == 0 {
			if err != nil && err != io.EOF {
				return fmt.Errorf("reading log %s: %w", seg.f.Name(), err)
			}
			if final {
				seg.off += int64(pending)
			}
			return nil
		}
		data := r.buf[:pending+n]
		start := 0
		for {
			nl := bytes.IndexByte(data[start:], '\n')
			if nl < 0 {
				break
			}
			line := data[start : start+nl]
			start += nl + 1
			if err := r.emit(line, emit); err != nil {
				seg.off += int64(start)
				return err
			}
		}
		seg.off += int64(start)
		pending = copy(r.buf, data[start:])
		if filled && len(r.buf) < 1<<20 {
			// A full buffer: there is a lot to read. Fewer, larger
			// reads from now on.
			r.buf = append(r.buf[:pending], make([]byte, 1<<20-pending)...)
		}
	}
}

// emit parses one line and passes it on if the options keep it. Lines
// that are not records (damage) are skipped.
func (r *Reader) emit(line []byte, emit func(Record) error) error {
	rec, err := parseRecord(line, r.opts.Times || !r.opts.Since.IsZero())
	if err != nil {
		return nil
	}
	if !r.opts.Since.IsZero() && rec.Time.Before(r.opts.Since) {
		return nil
	}
	return emit(rec)
}

// startWatch asks the kernel (inotify) to report changes in the log's
// directory: writes to the log, the writer's renames and creates, and the
// state files a container keeps beside its log, so that Alive is asked
// again as soon as the container's state changes.
func (r *Reader) startWatch() error {
	if r.watch >= 0 {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("following log: inotify: %w", err)
	}
	dir := filepath.Dir(r.path)
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return fmt.Errorf("following log: watching %s: %w", dir, err)
	}
	r.watch = fd
	return nil
}

// wait blocks until the directory changes, the poll interval passes or
// ctx is done.
func (r *Reader) wait(ctx context.Context) error {
	interval := r.opts.Poll
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	deadline := time.Now().Add(interval)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Wake up now and then to notice a cancelled context.
		step := min(time.Until(deadline), 50*time.Millisecond)
		if step <= 0 {
			return nil
		}
		fds := []unix.PollFd{{Fd: int32(r.watch), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(step/time.Millisecond)+1)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("following log: %w", err)
		}
		if n > 0 {
			// Empty the event queue; which file changed does not
			// matter, we look at all of them again.
			var buf [4096]byte
			for {
				if _, err := unix.Read(r.watch, buf[:]); err != nil {
					break
				}
			}
			return nil
		}
	}
}

// Close releases the files.
func (r *Reader) Close() error {
	for _, s := range r.segs {
		s.f.Close()
	}
	r.segs = nil
	if r.watch >= 0 {
		unix.Close(r.watch)
		r.watch = -1
	}
	return nil
}
