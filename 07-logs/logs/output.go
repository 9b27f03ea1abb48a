package logs

import (
	"bufio"
	"context"
	"io"
)

// Output writes records back as the container wrote them, the way
// `docker logs` shows a log: each stream to its own writer, in the order
// the records were written, optionally with each line prefixed by its
// timestamp. A nil writer hides that stream (docker logs shows stdout and
// stderr; stdin only when asked).
type Output struct {
	Stdout, Stderr, Stdin io.Writer
	// Timestamps prefixes each line with its time in TimeLayout and a
	// space, as docker logs -t does. A line split over several records
	// gets the time of its first one.
	Timestamps bool

	bufs    [3]*bufio.Writer
	midLine [3]bool // the stream's last record was partial
}

// Write writes one record. Output buffers: call Flush when the reader
// has caught up.
func (o *Output) Write(r Record) error {
	s := int(r.Stream)
	if s >= len(o.bufs) {
		return nil
	}
	if o.bufs[s] == nil {
		w := [3]io.Writer{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}[s]
		if w == nil {
			return nil
		}
		o.bufs[s] = bufio.NewWriterSize(w, 64<<10)
	}
	b := o.bufs[s]
	if o.Timestamps && !o.midLine[s] {
		b.Write(r.stamp)
		b.WriteByte(' ')
	}
	b.Write(r.Data)
	o.midLine[s] = r.Partial
	if r.Partial {
		return nil
	}
	return b.WriteByte('\n') // a bufio.Writer keeps the first error; Flush returns it
}

// Flush writes out what Output has buffered.
func (o *Output) Flush() error {
	for _, b := range o.bufs {
		if b != nil {
			if err := b.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Copy writes the log at path to out, as opts select: the body of
// `logs`.
func Copy(ctx context.Context, path string, opts ReadOptions, out *Output) error {
	r, err := NewReader(path, opts)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Read(ctx, out.Write, out.Flush); err != nil {
		return err
	}
	return out.Flush()
}
