package api

import (
	"encoding/binary"
	"io"
)

// StdStream names the stream a frame of a multiplexed stream belongs to.
type StdStream byte

// The streams of the stdcopy format. Systemerr carries an error of the
// daemon itself; the client's demultiplexer returns it as an error.
const (
	Stdin     StdStream = 0
	Stdout    StdStream = 1
	Stderr    StdStream = 2
	Systemerr StdStream = 3
)

// maxFrame bounds one frame's payload. The format allows 4 GiB, but a
// client reads a whole frame into memory before it writes any of it:
// smaller frames keep its buffer small and the output flowing.
const maxFrame = 1 << 20

// StdWriter multiplexes one stream of a container without a terminal onto
// a connection that carries both stdout and stderr (the "stdcopy" format
// of attach, exec and logs). Every Write becomes one or more frames:
//
//	+--------+---+---+---+-------------------+------------------+
//	| stream | 0 | 0 | 0 | size (uint32, BE) | size bytes of    |
//	| 1 byte |   padding |     4 bytes       | payload          |
//	+--------+---+---+---+-------------------+------------------+
//
// Each frame goes to the underlying writer in a single Write, so frames of
// two StdWriters on the same goroutine-safe writer (a net.Conn) never
// interleave.
type StdWriter struct {
	w      io.Writer
	stream StdStream
}

// NewStdWriter returns a writer that frames what is written as stream s.
func NewStdWriter(w io.Writer, s StdStream) *StdWriter {
	return &StdWriter{w: w, stream: s}
}

// Write frames p. It returns len(p) when every frame was written, and
// otherwise the number of payload bytes (not header bytes) that were.
func (sw *StdWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > maxFrame {
			chunk = chunk[:maxFrame]
		}
		frame := make([]byte, 8+len(chunk))
		frame[0] = byte(sw.stream)
		binary.BigEndian.PutUint32(frame[4:8], uint32(len(chunk)))
		copy(frame[8:], chunk)
		n, err := sw.w.Write(frame)
		if n > 8 {
			written += n - 8
		}
		if err != nil {
			return written, err
		}
		if n < len(frame) {
			return written, io.ErrShortWrite
		}
		p = p[len(chunk):]
	}
	return written, nil
}
