package logs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedClock returns a clock that starts at t and ticks 1 µs per call.
func fixedClock(t time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Microsecond)
		return t
	}
}

var epoch = time.Date(2024, 5, 1, 9, 30, 0, 123456000, time.UTC)

func newLog(t testing.TB, opts Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := OpenWriter(path, opts)
	require.NoError(t, err)
	w.Now = fixedClock(epoch)
	t.Cleanup(func() { w.Close() })
	return w, path
}

// readAll reads the log like `logs` does and returns what each stream got.
func readAll(t testing.TB, path string, opts ReadOptions, timestamps bool) (stdout, stderr, stdin string) {
	t.Helper()
	var o, e, i bytes.Buffer
	require.NoError(t, Copy(context.Background(), path, opts, &Output{Stdout: &o, Stderr: &e, Stdin: &i, Timestamps: timestamps}))
	return o.String(), e.String(), i.String()
}

func TestRecordsAreCRILines(t *testing.T) {
	w, path := newLog(t, Options{})
	require.NoError(t, w.Write(Stdout, []byte("hello\nwor")))
	require.NoError(t, w.Write(Stderr, []byte("oops\n")))
	require.NoError(t, w.Write(Stdout, []byte("ld\n\n")))
	require.NoError(t, w.Write(Stdin, []byte("ls\n")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, ""+
		"2024-05-01T09:30:00.123457000Z stdout F hello\n"+
		"2024-05-01T09:30:00.123457000Z stdout P wor\n"+
		"2024-05-01T09:30:00.123458000Z stderr F oops\n"+
		"2024-05-01T09:30:00.123459000Z stdout F ld\n"+
		"2024-05-01T09:30:00.123459000Z stdout F \n"+
		"2024-05-01T09:30:00.123460000Z stdin F ls\n", string(got))
}

func TestS15_OutputComesBackExactly(t *testing.T) {
	// The four kinds of output that break naive formats, and a mix of
	// them cut into chunks at random places, as a pipe delivers them.
	long := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // a 1 MiB line
	binary := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range binary {
		binary[i] = byte(rng.IntN(256)) // NUL, '\n', '\r', invalid UTF-8...
	}
	cases := map[string][]byte{
		"partial line":   []byte("no newline at the end"),
		"empty lines":    []byte("\n\n\nx\n\n"),
		"long line":      append(append([]byte{}, long...), '\n'),
		"long unended":   long,
		"binary":         binary,
		"carriage ret":   []byte("50%\r100%\r\n"),
		"only a newline": []byte("\n"),
	}
	for name, out := range cases {
		t.Run(name, func(t *testing.T) {
			w, path := newLog(t, Options{})
			errOut := []byte("stderr between\x00\n")
			for rest := out; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(70000))
				require.NoError(t, w.Write(Stdout, rest[:n]))
				require.NoError(t, w.Write(Stderr, errOut))
				rest = rest[n:]
			}
			stdout, stderr, _ := readAll(t, path, ReadOptions{Tail: All}, false)
			assert.True(t, bytes.Equal(out, []byte(stdout)), "stdout differs: %d bytes in, %d out", len(out), len(stdout))
			assert.Equal(t, strings.Repeat(string(errOut), strings.Count(stderr, "between")), stderr)
			assert.NotEmpty(t, stderr)
		})
	}
}

func TestRecordsAreAtMostMaxRecord(t *testing.T) {
	w, path := newLog(t, Options{})
	require.NoError(t, w.Write(Stdout, bytes.Repeat([]byte("x"), 3*MaxRecord+5)))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 4)
	for _, l := range lines {
		assert.LessOrEqual(t, len(l), MaxRecord+len("2024-05-01T09:30:00.123457000Z stdout P "))
	}
}

func TestTimestampsPrefixEachLine(t *testing.T) {
	w, path := newLog(t, Options{})
	require.NoError(t, w.Write(Stdout, []byte("one\ntw")))
	require.NoError(t, w.Write(Stdout, []byte("o\n")))
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: All}, true)
	assert.Equal(t, "2024-05-01T09:30:00.123457000Z one\n2024-05-01T09:30:00.123457000Z two\n", stdout,
		"a line split over two records gets the time of its start")
	_, err := time.Parse(time.RFC3339Nano, "2024-05-01T09:30:00.123457000Z")
	require.NoError(t, err, "the prefix is RFC 3339, as docker logs -t prints it")
}

func TestStdinIsShownOnlyWhenAsked(t *testing.T) {
	w, path := newLog(t, Options{})
	require.NoError(t, w.Write(Stdin, []byte("echo hi\n")))
	require.NoError(t, w.Write(Stdout, []byte("hi\n")))
	var out bytes.Buffer
	require.NoError(t, Copy(context.Background(), path, ReadOptions{Tail: All}, &Output{Stdout: &out}))
	assert.Equal(t, "hi\n", out.String())
	_, _, stdin := readAll(t, path, ReadOptions{Tail: All}, false)
	assert.Equal(t, "echo hi\n", stdin)
}

// writeLines logs "line 0\n" ... "line n-1\n" in chunks of up to 7 lines.
func writeLines(t testing.TB, w *Writer, from, n int) {
	t.Helper()
	var chunk []byte
	for i := from; i < from+n; i++ {
		chunk = fmt.Appendf(chunk, "line %d\n", i)
		if i%7 == 6 || i == from+n-1 {
			require.NoError(t, w.Write(Stdout, chunk))
			chunk = chunk[:0]
		}
	}
}

func lines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestS35_TailReturnsTheLastLines(t *testing.T) {
	w, path := newLog(t, Options{})
	writeLines(t, w, 0, 100)
	for _, tc := range []struct {
		tail int
		want string
	}{
		{All, lines(0, 100)},
		{0, ""},
		{1, lines(99, 100)},
		{10, lines(90, 100)},
		{100, lines(0, 100)},
		{1000, lines(0, 100)},
	} {
		stdout, _, _ := readAll(t, path, ReadOptions{Tail: tc.tail}, false)
		assert.Equal(t, tc.want, stdout, "tail %d", tc.tail)
	}

	// An unfinished last line counts as a line.
	require.NoError(t, w.Write(Stdout, []byte("unfinished")))
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: 2}, false)
	assert.Equal(t, "line 99\nunfinished", stdout)
	// A long line split into P records is one line.
	require.NoError(t, w.Write(Stdout, append(bytes.Repeat([]byte("y"), 3*MaxRecord), '\n')))
	stdout, _, _ = readAll(t, path, ReadOptions{Tail: 1}, false)
	assert.Equal(t, "unfinished"+strings.Repeat("y", 3*MaxRecord)+"\n", stdout)
}

func TestS35_TailReadsOnlyTheEnd(t *testing.T) {
	// Two logs whose ends are the same, one 1 KB and one 32 MB: a tail
	// must read the same number of bytes from both.
	small, smallPath := newLog(t, Options{})
	big, bigPath := newLog(t, Options{})
	writeLines(t, small, 0, 20)
	filler := bytes.Repeat([]byte("filler line of some length, as programs write them\n"), 20000)
	for written := 0; written < 32<<20; written += len(filler) {
		require.NoError(t, big.Write(Stdout, filler))
	}
	writeLines(t, big, 0, 20)
	fi, err := os.Stat(bigPath)
	require.NoError(t, err)
	require.Greater(t, fi.Size(), int64(32<<20))

	cost := func(path string) (int64, string) {
		r, err := NewReader(path, ReadOptions{Tail: 10})
		require.NoError(t, err)
		defer r.Close()
		var out bytes.Buffer
		o := &Output{Stdout: &out}
		require.NoError(t, r.Read(context.Background(), o.Write, nil))
		require.NoError(t, o.Flush())
		return r.BytesRead(), out.String()
	}
	smallCost, smallOut := cost(smallPath)
	bigCost, bigOut := cost(bigPath)
	assert.Equal(t, lines(10, 20), smallOut)
	assert.Equal(t, lines(10, 20), bigOut)
	smallFI, err := os.Stat(smallPath)
	require.NoError(t, err)
	t.Logf("tail 10: read %d bytes of a %d-byte log, %d bytes of a %d-byte log", smallCost, smallFI.Size(), bigCost, fi.Size())
	assert.LessOrEqual(t, bigCost, int64(2*64<<10), "tail reads a block or two from the end, not the log")
	assert.LessOrEqual(t, smallCost, 2*smallFI.Size(), "the small log: scanned once backwards, its tail once forwards")
}

func TestRotationBySize(t *testing.T) {
	w, path := newLog(t, Options{MaxSize: 4 << 10, MaxFiles: 3})
	writeLines(t, w, 0, 2000) // about 100 KB of records: many rotations
	var files []string
	for i := 0; ; i++ {
		fi, err := os.Stat(FileName(path, i))
		if err != nil {
			break
		}
		files = append(files, filepath.Base(FileName(path, i)))
		assert.LessOrEqual(t, fi.Size(), int64(4<<10), "%s is over max-size", FileName(path, i))
		if i > 0 {
			assert.Greater(t, fi.Size(), int64(3<<10), "%s was rotated early", FileName(path, i))
		}
	}
	assert.Equal(t, []string{"container.log", "container.log.1", "container.log.2"}, files, "max-file=3 keeps three files")

	// What is left is the newest records, in order, ending with the last.
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: All}, false)
	got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.NotEmpty(t, got)
	first := 0
	_, err := fmt.Sscanf(got[0], "line %d", &first)
	require.NoError(t, err)
	assert.Equal(t, lines(first, 2000), stdout)
	assert.Greater(t, first, 1000, "the oldest files were deleted")

	// Tail across the files: more lines than the current file holds.
	stdout, _, _ = readAll(t, path, ReadOptions{Tail: 150}, false)
	assert.Equal(t, lines(1850, 2000), stdout)
}

func TestMaxFileOneReplacesTheFile(t *testing.T) {
	w, path := newLog(t, Options{MaxSize: 1 << 10, MaxFiles: 1})
	writeLines(t, w, 0, 200)
	_, err := os.Stat(FileName(path, 1))
	assert.ErrorIs(t, err, os.ErrNotExist)
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: All}, false)
	assert.True(t, strings.HasSuffix(stdout, lines(190, 200)))
	assert.Less(t, len(stdout), 1<<10)
}

func TestFollowSeesNewOutputAndRotations(t *testing.T) {
	w, path := newLog(t, Options{MaxSize: 2 << 10, MaxFiles: 50})
	writeLines(t, w, 0, 10)

	var mu sync.Mutex
	done := false
	alive := func() bool { mu.Lock(); defer mu.Unlock(); return !done }
	r, err := NewReader(path, ReadOptions{Tail: 5, Follow: true, Alive: alive, Poll: 20 * time.Millisecond})
	require.NoError(t, err)
	defer r.Close()

	var out bytes.Buffer
	o := &Output{Stdout: &out}
	finished := make(chan error, 1)
	go func() { finished <- r.Read(context.Background(), o.Write, o.Flush) }()

	// Write in bursts, with pauses so that the follower catches up and
	// waits in between: about 30 rotations happen while it follows.
	for i := 10; i < 1000; i += 90 {
		writeLines(t, w, i, 90)
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, w.Close())
	mu.Lock()
	done = true
	mu.Unlock()
	select {
	case err := <-finished:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not stop after the writer was done")
	}
	assert.Equal(t, lines(5, 1000), out.String(), "every line once, in order, across the rotations")
}

func TestFollowStopsWhenCancelled(t *testing.T) {
	_, path := newLog(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan error, 1)
	go func() {
		finished <- Copy(ctx, path, ReadOptions{Tail: All, Follow: true}, &Output{Stdout: &bytes.Buffer{}})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-finished:
		assert.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("follow did not stop")
	}
}

func TestFollowWaitsForALogThatDoesNotExistYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	var out bytes.Buffer
	var mu sync.Mutex
	done := false
	finished := make(chan error, 1)
	go func() {
		finished <- Copy(context.Background(), path, ReadOptions{Tail: 0, Follow: true, Poll: 20 * time.Millisecond,
			Alive: func() bool { mu.Lock(); defer mu.Unlock(); return !done }}, &Output{Stdout: &out})
	}()
	time.Sleep(30 * time.Millisecond)
	w, err := OpenWriter(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Write(Stdout, []byte("first\n")))
	require.NoError(t, w.Close())
	mu.Lock()
	done = true
	mu.Unlock()
	require.NoError(t, <-finished)
	assert.Equal(t, "first\n", out.String())
}

func TestSinceSkipsOlderRecords(t *testing.T) {
	w, path := newLog(t, Options{})
	start := epoch
	w.Now = func() time.Time { return start }
	require.NoError(t, w.Write(Stdout, []byte("old\n")))
	start = epoch.Add(time.Hour)
	require.NoError(t, w.Write(Stdout, []byte("new\n")))
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: All, Since: epoch.Add(time.Minute)}, false)
	assert.Equal(t, "new\n", stdout)
}

// A record's Time is read only when asked (Times), or for Since.
func TestTimesAreReadWhenAsked(t *testing.T) {
	w, path := newLog(t, Options{})
	w.Now = func() time.Time { return epoch }
	require.NoError(t, w.Write(Stdout, []byte("a\n")))
	for _, opts := range []ReadOptions{{Tail: All, Times: true}, {Tail: All, Since: epoch.Add(-time.Second)}} {
		r, err := NewReader(path, opts)
		require.NoError(t, err)
		var got []time.Time
		require.NoError(t, r.Read(context.Background(), func(rec Record) error {
			got = append(got, rec.Time)
			return nil
		}, nil))
		r.Close()
		assert.Equal(t, []time.Time{epoch}, got, "%+v", opts)
	}
}

func TestATornRecordIsEndedAndSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	// A writer killed in the middle of a write left half a record.
	require.NoError(t, os.WriteFile(path, []byte("2024-05-01T09:30:00.000000000Z stdout F whole\n2024-05-01T09:30"), 0o640))
	w, err := OpenWriter(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Write(Stdout, []byte("next\n")))
	require.NoError(t, w.Close())
	stdout, _, _ := readAll(t, path, ReadOptions{Tail: All}, false)
	assert.Equal(t, "whole\nnext\n", stdout)
	stdout, _, _ = readAll(t, path, ReadOptions{Tail: 1}, false)
	assert.Equal(t, "next\n", stdout)
}

func TestCRILogsFromOtherWritersRead(t *testing.T) {
	// kubelet's writers trim trailing zeros from the fraction.
	r, err := parseRecord([]byte("2016-10-06T00:17:09.6697942Z stdout F log content 1"), true)
	require.NoError(t, err)
	assert.Equal(t, "log content 1", string(r.Data))
	assert.Equal(t, 669794200, r.Time.Nanosecond())
	_, err = parseRecord([]byte("garbage"), false)
	assert.Error(t, err)
	_, err = parseRecord([]byte("2016-10-06T00:17:09Z stdmid F x"), false)
	assert.Error(t, err)
}

func TestOptionsParse(t *testing.T) {
	var o Options
	require.NoError(t, o.Set("max-size=10m"))
	require.NoError(t, o.Set("max-file=3"))
	require.NoError(t, o.Set("stdin=false"))
	assert.Equal(t, Options{MaxSize: 10 << 20, MaxFiles: 3, NoStdin: true}, o)
	require.NoError(t, o.Validate())
	for _, bad := range []string{"max-size=0", "max-size=ten", "max-file=0", "stdin=maybe", "color=red", "max-size"} {
		assert.Error(t, new(Options).Set(bad), bad)
	}
	assert.Error(t, Options{MaxFiles: 3}.Validate(), "max-file needs max-size")
	n, err := ParseSize("512k")
	require.NoError(t, err)
	assert.Equal(t, int64(512<<10), n)
}

func TestConcurrentStreamsNeverInterleaveRecords(t *testing.T) {
	w, path := newLog(t, Options{MaxSize: 64 << 10, MaxFiles: 1000})
	var wg sync.WaitGroup
	for _, s := range []Stream{Stdout, Stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				_, _ = w.Stream(s).Write(fmt.Appendf(nil, "%s %d\n", s, i))
			}
		}()
	}
	wg.Wait()
	stdout, stderr, _ := readAll(t, path, ReadOptions{Tail: All}, false)
	var wantOut, wantErr strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&wantOut, "stdout %d\n", i)
		fmt.Fprintf(&wantErr, "stderr %d\n", i)
	}
	assert.Equal(t, wantOut.String(), stdout)
	assert.Equal(t, wantErr.String(), stderr)
}
