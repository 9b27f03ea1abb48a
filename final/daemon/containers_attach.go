package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	moby "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/07-logs/logs"
	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/detachkeys"
)

// A container's streams, for logs and attach.
//
// The shim writes everything the container outputs to its log (chapter
// 07), whoever is attached, so the log is the one source of output:
// `docker logs` reads it, and `docker attach` (and `run` without -d,
// which attaches before it starts) follows it from its current end,
// waking up on inotify events as the shim appends. Input goes the other
// way through the shim's stdin FIFO:
//
//	client --stdin--> daemon --FIFO--> shim --pipe/terminal--> container
//	client <-stdout-- daemon <--log--- shim <--pipe/terminal-- container
//
// Closing the FIFO's last writer closes the container's stdin (the shim
// sees end of file): that is how a client's end of input (`echo x |
// docker run -i`) reaches the container. A container that keeps its stdin
// open between clients (-i without --attach, StdinOnce false) gets a
// writer the daemon holds for the run (stdinKeeper), so that one
// client's leaving does not end it.

// ContainerLogs reads a container's log (S35): all of it or the last
// Tail lines, then, with Follow, what comes until the container stops.
func (d *Daemon) ContainerLogs(ctx context.Context, name string, opts api.LogsOptions) (api.Logs, error) {
	e, err := d.lookup(name)
	if err != nil {
		return api.Logs{}, err
	}
	ro := logs.ReadOptions{Tail: opts.Tail, Since: opts.Since, Follow: opts.Follow, Alive: e.c.Running,
		Times: opts.Timestamps || !opts.Until.IsZero()}
	if ro.Tail < 0 {
		ro.Tail = logs.All
	}
	r, err := logs.NewReader(e.c.LogPath(), ro)
	if err != nil {
		return api.Logs{}, err
	}
	ch := make(chan api.LogEntry, 16)
	go func() {
		defer close(ch)
		defer r.Close()
		b := &batcher{ctx: ctx, out: ch, join: !opts.Timestamps, until: opts.Until}
		_ = r.Read(ctx, b.record, b.flush)
		_ = b.flush()
	}()
	return api.Logs{TTY: e.rec != nil && e.rec.Config.Tty, Entries: ch}, nil
}

// errUntil stops a read at the first record after Until.
var errUntil = errors.New("past until")

// batcher turns log records into LogEntries. Without timestamps, records
// of one stream that follow each other are joined into one entry of up
// to batchSize bytes: 100 MB of short lines are then a few thousand
// entries for the server to frame and send, instead of millions. With
// timestamps each line keeps its own.
type batcher struct {
	ctx   context.Context
	out   chan<- api.LogEntry
	join  bool
	until time.Time
	cur   api.LogEntry
}

const batchSize = 64 << 10

func (b *batcher) record(r logs.Record) error {
	if r.Stream == logs.Stdin {
		return nil
	}
	if !b.until.IsZero() && r.Time.After(b.until) {
		return errUntil
	}
	stream := int(r.Stream)
	if len(b.cur.Data) > 0 && (!b.join || b.cur.Stream != stream || len(b.cur.Data)+len(r.Data)+1 > batchSize) {
		if err := b.flush(); err != nil {
			return err
		}
	}
	if len(b.cur.Data) == 0 {
		b.cur = api.LogEntry{Stream: stream, Time: r.Time, Data: make([]byte, 0, min(batchSize, len(r.Data)+1))}
		if b.join {
			b.cur.Data = make([]byte, 0, batchSize)
		}
	}
	b.cur.Data = append(b.cur.Data, r.Data...)
	if !r.Partial {
		b.cur.Data = append(b.cur.Data, '\n')
	}
	if !b.join && !r.Partial {
		return b.flush()
	}
	return nil
}

// flush sends what is batched; the reader calls it whenever it has
// caught up with the log.
func (b *batcher) flush() error {
	if len(b.cur.Data) == 0 {
		return nil
	}
	select {
	case b.out <- b.cur:
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	b.cur = api.LogEntry{}
	return nil
}

// ContainerAttach connects a client to a container's streams: its output
// from now on (or from the log's start, with Logs), until the run it
// attached to ends, and its stdin if the client sends one. It may attach
// before the container starts (docker run, docker start -a): it then
// streams the next run. With a terminal, the detach keys (ctrl-p ctrl-q by
// default) end the attachment and leave the container running, as does
// the client's end of input.
func (d *Daemon) ContainerAttach(ctx context.Context, name string, opts api.AttachOptions) error {
	e, err := d.lookup(name)
	if err != nil {
		return err
	}
	tty := e.rec != nil && e.rec.Config.Tty
	var keys []byte
	if opts.Stdin != nil && tty {
		if keys, err = parseDetachKeys(opts.DetachKeys); err != nil {
			return err
		}
	}
	a := d.newAttachment(e)
	// Counted until the last line is read: a removal waits for it.
	d.live.attach(e)
	defer d.live.detach(e)
	ro := logs.ReadOptions{Tail: 0, Follow: opts.Stream, Alive: a.alive}
	if opts.Logs {
		ro.Tail = logs.All
	}
	r, err := logs.NewReader(e.c.LogPath(), ro)
	if err != nil {
		return err
	}
	defer r.Close()
	// Positioned: whatever the container writes from now on is ours.
	// The event goes before the client's answer: the client starts
	// the container only after it (docker run), and the attach is
	// before the start in docker events.
	d.emitContainer(e, moby.ActionAttach, nil)
	if opts.Attached != nil {
		opts.Attached()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go a.stopOnFailedStart(ctx, cancel)
	if opts.Stdin != nil && e.rec != nil && e.rec.Config.OpenStdin && opts.Stream {
		go func() {
			if err := d.feedStdin(ctx, a, opts.Stdin, tty, keys); err != nil {
				cancel(err) // detached, or the client's input ended (-t)
			}
		}()
	}
	out := newDemux(opts.Stdout, opts.Stderr)
	err = r.Read(ctx, out.record, out.flush)
	if ferr := out.flush(); err == nil {
		err = ferr
	}
	if cause := context.Cause(ctx); errors.Is(cause, api.ErrDetached) {
		d.emitContainer(e, moby.ActionDetach, nil)
		return api.ErrDetached
	}
	return err
}

// attachment follows one run of a container: the one running at the
// attach, or the next one to start.
type attachment struct {
	d       *Daemon
	e       *entry
	running bool       // a run was on at the attach
	started time.Time  // StartedAt of the state at the attach
	exits   int        // e.exits at the attach
	failed  chan error // a failed start of the next run
}

func (d *Daemon) newAttachment(e *entry) *attachment {
	st, _ := e.c.State()
	d.live.mu.Lock()
	defer d.live.mu.Unlock()
	return &attachment{d: d, e: e, running: st.Status == shim.Running, started: st.StartedAt, exits: e.exits}
}

// alive tells the log reader whether the run may still write: the run
// has not started yet, or has not ended. It reads the shim's files, not
// the daemon's memory: the reader wakes on the same events as the
// daemon's watch, and must not depend on which of the two looks first.
func (a *attachment) alive() bool {
	a.d.live.mu.Lock()
	gone := a.e.removed
	a.d.live.mu.Unlock()
	if gone {
		return false
	}
	if _, err := os.Stat(a.e.c.Dir()); err != nil {
		return false
	}
	st, err := a.e.c.State()
	if err != nil {
		return false
	}
	if st.Status == shim.Running {
		return true
	}
	if a.running {
		return false // the run of the attach has ended
	}
	return !st.StartedAt.After(a.started) // not started yet; or started and ended
}

// failedStart reports whether a run ended (a start failed, or the run
// started and ended) without any run starting since the attachment.
func (a *attachment) failedStart() bool {
	if a.running {
		return false // attached to a run that had started
	}
	st, err := a.e.c.State()
	return err != nil || (st.Status != shim.Running && !st.StartedAt.After(a.started))
}

// stopOnFailedStart ends an attachment to a run that never starts: its
// start failed, which leaves no event for the log reader to wake on (and
// alive, which sees no run yet, would wait for one). A run that started
// and ended is left to the log reader, which reads the run's last output
// before it stops: cancelling it here could cut that short.
func (a *attachment) stopOnFailedStart(ctx context.Context, cancel context.CancelCauseFunc) {
	l := a.d.live
	for {
		l.mu.Lock()
		changed, exits, removed := a.e.changed, a.e.exits, a.e.removed
		l.mu.Unlock()
		if removed || (exits > a.exits && a.failedStart()) {
			cancel(nil)
			return
		}
		if exits > a.exits {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// demux writes records to the client's stdout and stderr, buffered, in
// the order they were written: a change of stream first flushes the
// other one.
type demux struct {
	w    [3]*bufio.Writer
	last int
}

func newDemux(stdout, stderr io.Writer) *demux {
	m := &demux{}
	if stdout != nil {
		m.w[logs.Stdout] = bufio.NewWriterSize(stdout, 32<<10)
	}
	if stderr != nil {
		m.w[logs.Stderr] = bufio.NewWriterSize(stderr, 32<<10)
	}
	return m
}

func (m *demux) record(r logs.Record) error {
	s := int(r.Stream)
	if s >= len(m.w) || m.w[s] == nil {
		return nil
	}
	if m.last != s && m.last != 0 {
		if err := m.w[m.last].Flush(); err != nil {
			return err
		}
	}
	m.last = s
	w := m.w[s]
	w.Write(r.Data)
	if !r.Partial {
		w.WriteByte('\n')
	}
	if w.Buffered() == 0 {
		// bufio wrote through: the client may be gone.
		return w.Flush()
	}
	return nil
}

func (m *demux) flush() error {
	for _, w := range m.w {
		if w != nil {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// feedStdin copies the client's input to the container's stdin FIFO, for
// the run of the attachment. It returns api.ErrDetached when the client
// typed the detach keys (with a terminal), or, with a terminal, the end of
// the client's input (which ends the attachment and leaves the container
// running, as dockerd does). Without a terminal the end of input closes
// the container's stdin if the container was created with StdinOnce (run
// -i), and is nothing more otherwise.
func (d *Daemon) feedStdin(ctx context.Context, a *attachment, in io.Reader, tty bool, keys []byte) error {
	e := a.e
	once := e.rec.Config.StdinOnce
	var ch chan []byte
	errc := make(chan error, 1)
	ch = make(chan []byte, 4)
	// Read the client in a goroutine: its input may come before the
	// container has a stdin to write it to.
	go func() {
		esc := detachkeys.NewReader(in, keys, api.ErrDetached)
		for {
			buf := make([]byte, 32<<10)
			n, err := esc.Read(buf)
			if n > 0 {
				select {
				case ch <- buf[:n]:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				errc <- err
				close(ch)
				return
			}
		}
	}()
	var w *stdinKeeper
	defer func() {
		if w != nil && !once {
			w.release() // the next client's
		}
	}()
	for {
		select {
		case data, ok := <-ch:
			if !ok {
				err := <-errc
				if errors.Is(err, api.ErrDetached) {
					return err
				}
				if w == nil && !tty && once {
					// Input ended before the run started: the
					// container's stdin must still end.
					w, _ = d.stdinFor(ctx, a)
				}
				if w != nil && once && !tty {
					w.closeFor(e, d)
					w = nil
				}
				if tty {
					return api.ErrDetached
				}
				return nil
			}
			if w == nil {
				var err error
				if w, err = d.stdinFor(ctx, a); err != nil {
					return nil // the run ended, or never began
				}
			}
			if err := w.write(data); err != nil {
				return nil // the container closed its stdin
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// stdinKeeper is a writer of a container's stdin FIFO, shared by the
// clients attached to one run.
type stdinKeeper struct {
	mu      sync.Mutex
	f       *os.File
	started time.Time // the run it belongs to
	users   int
}

func (k *stdinKeeper) write(p []byte) error {
	k.mu.Lock()
	f := k.f
	k.mu.Unlock()
	if f == nil {
		return os.ErrClosed
	}
	_, err := f.Write(p)
	return err
}

func (k *stdinKeeper) release() {
	k.mu.Lock()
	k.users--
	k.mu.Unlock()
}

func (k *stdinKeeper) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.f != nil {
		k.f.Close()
		k.f = nil
	}
}

// closeFor closes the container's stdin (StdinOnce): the FIFO's last
// writer goes.
func (k *stdinKeeper) closeFor(e *entry, d *Daemon) {
	d.live.mu.Lock()
	if e.stdin == k {
		e.stdin = nil
	}
	d.live.mu.Unlock()
	k.close()
}

// stdinFor waits until the attachment's run has started and its shim
// reads the FIFO, and returns the writer for it.
func (d *Daemon) stdinFor(ctx context.Context, a *attachment) (*stdinKeeper, error) {
	e := a.e
	l := d.live
	for {
		st, err := e.c.State()
		if err != nil {
			return nil, err
		}
		if st.Status == shim.Running && (a.running || st.StartedAt.After(a.started)) {
			l.mu.Lock()
			k := e.stdin
			if k != nil && k.started.Equal(st.StartedAt) {
				k.mu.Lock()
				k.users++
				k.mu.Unlock()
				l.mu.Unlock()
				return k, nil
			}
			l.mu.Unlock()
			f, err := openFIFO(ctx, e.c)
			if err != nil {
				return nil, err
			}
			k = &stdinKeeper{f: f, started: st.StartedAt, users: 1}
			l.mu.Lock()
			if old := e.stdin; old != nil {
				old.close() // a FIFO of an earlier run
			}
			e.stdin = k
			l.mu.Unlock()
			return k, nil
		}
		if !a.alive() {
			return nil, errors.New("the run has ended")
		}
		l.mu.Lock()
		changed := e.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// openFIFO opens the container's stdin FIFO for writing, once the shim
// has it open for reading. The shim opens it just after the start is
// reported; a non-blocking open fails (ENXIO) until then, where a
// blocking one could wait for ever for a container that is gone.
func openFIFO(ctx context.Context, c *shim.Container) (*os.File, error) {
	path := filepath.Join(c.Dir(), "stdin")
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			// Writes block again: a container that reads slowly
			// slows its client down instead of losing input.
			if err := unix.SetNonblock(fd, false); err != nil {
				unix.Close(fd)
				return nil, err
			}
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, unix.ENXIO) || !c.Running() {
			return nil, fmt.Errorf("container %s: stdin: %w", c.Name(), err)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// parseDetachKeys reads a detach key sequence as Docker writes it
// (detachkeys.Parse), with dockerd's 400 for a bad one. Empty is the
// default, ctrl-p,ctrl-q.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = detachkeys.Default
	}
	keys, err := detachkeys.Parse(s)
	if err != nil {
		return nil, invalid("Invalid detach keys (%s) provided", s)
	}
	return keys, nil
}
