package logs

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Stream says which of a container's standard streams a record came from.
type Stream uint8

// The streams, in the order of their file descriptors.
const (
	Stdin Stream = iota
	Stdout
	Stderr
)

// streamNames are the words the log file uses: the CRI's, plus stdin.
var streamNames = [...]string{Stdin: "stdin", Stdout: "stdout", Stderr: "stderr"}

func (s Stream) String() string {
	if int(s) < len(streamNames) {
		return streamNames[s]
	}
	return fmt.Sprintf("stream(%d)", uint8(s))
}

// The tags of a record: F ends a line (the container wrote a newline
// there, which the file does not repeat inside the record), P is part of a
// line that goes on in the next record of the same stream.
const (
	tagFull    = 'F'
	tagPartial = 'P'
)

// MaxRecord is the most bytes of output one record carries. A longer line
// is split into P records of this size. Bounding records bounds what a
// reader must hold in memory at once, whatever the container writes.
const MaxRecord = 16 << 10

// TimeLayout is how a record's timestamp is written: RFC 3339 in UTC with
// exactly nine digits of fraction. The fixed width keeps the records
// aligned for a human reader, and it is the form `docker logs -t` prints,
// so -t can copy the bytes instead of formatting them again.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// timeLen is the length of a timestamp written with TimeLayout.
const timeLen = len(TimeLayout)

// Record is one line of the log file: a piece of one stream's output.
type Record struct {
	// Time is when the container wrote it (when the shim read it).
	Time time.Time
	// Stream is stdin, stdout or stderr.
	Stream Stream
	// Partial is true when the output goes on in the next record of the
	// same stream; false when the container ended the line here.
	Partial bool
	// Data is the output, without the newline that ends a full line.
	// Any byte but '\n' can appear. Reader reuses the memory: copy Data
	// to keep it after the callback returns.
	Data []byte

	// stamp is the timestamp as the file holds it, for Output to copy.
	stamp []byte
}

// appendStamp writes t in TimeLayout. It is the hot path of the writer,
// so it formats the digits itself instead of calling t.Format.
func appendStamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	b = append4(b, year)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, min)
	b = append(b, ':')
	b = append2(b, sec)
	b = append(b, '.')
	ns := t.Nanosecond()
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	b = append(b, frac[:]...)
	return append(b, 'Z')
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000%10), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

// parseStamp reads a timestamp. The writer's fixed layout is parsed by
// hand (the reader's hot path when --since is given); anything else that
// is RFC 3339 falls back to the time package, so that a log written by
// another CRI writer (which trims trailing zeros) reads too.
func parseStamp(b []byte) (time.Time, error) {
	if len(b) == timeLen && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[29] == 'Z' {
		var v [7]int
		ok := true
		for i, f := range [][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 29}} {
			n := 0
			for _, c := range b[f[0]:f[1]] {
				if c < '0' || c > '9' {
					ok = false
				}
				n = n*10 + int(c-'0')
			}
			v[i] = n
		}
		if ok && v[1] >= 1 && v[1] <= 12 {
			return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6], time.UTC), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q", b)
	}
	return t, nil
}

// errBadRecord is returned for a line that is not a record.
var errBadRecord = errors.New("not a log record")

// parseRecord splits one line of the file (without its '\n'):
//
//	2024-05-01T09:30:00.123456789Z stdout F hello, world
//	|         timestamp          | |strm| |tag| data...
//
// The timestamp is kept as bytes; Time is filled in only if parseTime.
func parseRecord(line []byte, parseTime bool) (Record, error) {
	var r Record
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return r, errBadRecord
	}
	r.stamp, line = line[:sp], line[sp+1:]
	// The stream names are fixed, so match them directly.
	switch {
	case bytes.HasPrefix(line, []byte("stdout ")):
		r.Stream, line = Stdout, line[7:]
	case bytes.HasPrefix(line, []byte("stderr ")):
		r.Stream, line = Stderr, line[7:]
	case bytes.HasPrefix(line, []byte("stdin ")):
		r.Stream, line = Stdin, line[6:]
	default:
		return r, errBadRecord
	}
	// The tag field may in principle hold several tags joined by ':'
	// (the CRI format reserves that); only the first one matters here.
	end := bytes.IndexByte(line, ' ')
	if end < 0 {
		end = len(line) // "... stdout F" with nothing after: an empty line
	}
	if end == 0 {
		return r, errBadRecord
	}
	switch line[0] {
	case tagFull:
	case tagPartial:
		r.Partial = true
	default:
		return r, errBadRecord
	}
	if end < len(line) {
		r.Data = line[end+1:]
	} else {
		r.Data = line[end:]
	}
	if parseTime {
		t, err := parseStamp(r.stamp)
		if err != nil {
			return r, err
		}
		r.Time = t
	}
	return r, nil
}

// recordTag returns the tag byte of a line, cheaply, for the backwards
// scan of tail, or 0 if the line is not a record.
func recordTag(line []byte) byte {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 0
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || sp+1 >= len(rest) {
		return 0
	}
	switch tag := rest[sp+1]; tag {
	case tagFull, tagPartial:
		return tag
	}
	return 0
}

// appendRecords appends the records for one chunk of a stream's output,
// all stamped with the same time, to b: one F record per line the chunk
// ends, and a P record for what follows the last newline (and for each
// MaxRecord-sized piece of a longer line). before, if not nil, is called
// before each record with the records so far and the new one's size, so
// that the caller can write them out and rotate the file in between; it
// returns the buffer to go on with.
func appendRecords(b []byte, stamp []byte, s Stream, chunk []byte, before func(b []byte, size int) []byte) []byte {
	name := streamNames[s]
	for len(chunk) > 0 {
		n := bytes.IndexByte(chunk, '\n')
		tag := byte(tagFull)
		data := chunk
		switch {
		case n >= 0 && n <= MaxRecord:
			data, chunk = chunk[:n], chunk[n+1:]
		case len(chunk) > MaxRecord:
			data, chunk, tag = chunk[:MaxRecord], chunk[MaxRecord:], tagPartial
		default: // the rest of the chunk, with no newline: a partial line
			chunk, tag = nil, tagPartial
		}
		size := len(stamp) + 1 + len(name) + 3 + len(data) + 1
		if before != nil {
			b = before(b, size)
		}
		b = append(b, stamp...)
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, ' ', tag, ' ')
		b = append(b, data...)
		b = append(b, '\n')
	}
	return b
}
