package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/common"
)

// attachGrace is how long the server waits for a backend that does not
// call AttachOptions.Attached before it answers the upgrade anyway. The
// docker client starts the container only after the answer, so without
// this a backend that forgot the call would hang `docker run` for ever.
const attachGrace = time.Second

// hijacked is a connection the server has taken over from net/http to
// carry a container's standard streams both ways, as attach and exec do.
//
// The HTTP answer is written by hand, once: "101 UPGRADED" when the client
// asked to upgrade (docker does, with "Upgrade: tcp"), or "200 OK" with a
// body that lasts until the connection closes for clients that did not.
// Until it is written, an error can still be answered as an HTTP error.
type hijacked struct {
	s           *Server
	conn        net.Conn
	in          *bufio.Reader
	upgrade     bool
	contentType string
	header      http.Header
	cancel      context.CancelCauseFunc
	stop        func() bool

	once     sync.Once
	answered atomic.Bool
	err      error // of the answer
	mu       sync.Mutex
}

// hijack checks the upgrade the client asked for and takes the connection
// over. On error nothing was taken: answer it the ordinary way. The
// returned context ends when the server shuts down or the client can no
// longer be written to.
func (s *Server) hijack(w http.ResponseWriter, r *http.Request, contentType string) (*hijacked, context.Context, error) {
	_, upgrade := r.Header["Upgrade"]
	if upgrade && !strings.EqualFold(r.Header.Get("Upgrade"), "tcp") {
		return nil, nil, invalid(fmt.Sprintf("cannot upgrade the connection to %q: only \"tcp\" is supported", r.Header.Get("Upgrade")))
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("taking over the connection: %w", err)
	}
	// The header timeout of net/http may still be armed; a stream
	// lasts as long as the container.
	_ = conn.SetDeadline(time.Time{})
	s.track(conn)
	// Not r.Context(): net/http cancels it when a read on the connection
	// fails, and after the hijack our own reads of stdin go through
	// net/http's reader. The client's half-close at the end of its input
	// would cancel the request, and the container's last output would
	// be lost. The stream ends only when the server shuts down or the
	// client cannot be written to.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(s.base, func() { cancel(errShutdown) })
	header := w.Header().Clone()
	for _, k := range []string{"Content-Type", "Content-Length", "Connection", "Upgrade"} {
		header.Del(k)
	}
	return &hijacked{
		s:           s,
		conn:        conn,
		in:          brw.Reader,
		upgrade:     upgrade,
		contentType: contentType,
		header:      header,
		cancel:      cancel,
		stop:        stop,
	}, ctx, nil
}

// answer writes the success answer, if nothing was answered yet.
func (h *hijacked) answer() error {
	h.once.Do(func() {
		var b bytes.Buffer
		if h.upgrade {
			fmt.Fprintf(&b, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n", h.contentType)
		} else {
			fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nConnection: close\r\n", h.contentType)
		}
		_ = h.header.Write(&b)
		b.WriteString("\r\n")
		h.err = h.write(b.Bytes())
		h.answered.Store(true)
	})
	return h.err
}

// fail reports err to the client: as an HTTP error if nothing was
// answered yet, else in the stream, where the client shows it (a
// Systemerr frame, or a line of text on a terminal).
func (h *hijacked) fail(err error, tty bool) {
	answeredNow := false
	h.once.Do(func() {
		answeredNow = true
		status := HTTPStatus(err)
		body, _ := json.Marshal(common.ErrorResponse{Message: err.Error()})
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n",
			status, http.StatusText(status), len(body)+1)
		_ = h.header.Write(&b)
		b.WriteString("\r\n")
		b.Write(body)
		b.WriteString("\n")
		h.err = h.write(b.Bytes())
		h.answered.Store(true)
	})
	if answeredNow {
		return
	}
	if tty {
		_, _ = h.output().Write([]byte("Error: " + err.Error() + "\r\n"))
		return
	}
	_, _ = NewStdWriter(h.output(), Systemerr).Write([]byte(err.Error() + "\n"))
}

// write sends p to the client. A failed write means the client is gone:
// the context ends, so the backend stops streaming to nobody.
func (h *hijacked) write(p []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.conn.Write(p)
	if err != nil {
		h.cancel(fmt.Errorf("the client is gone: %w", err))
	}
	return err
}

// output is the raw stream to the client; the first byte written answers
// the request if the backend has not said it is attached yet.
func (h *hijacked) output() io.Writer { return hijackedOutput{h} }

type hijackedOutput struct{ h *hijacked }

func (o hijackedOutput) Write(p []byte) (int, error) {
	if err := o.h.answer(); err != nil {
		return 0, err
	}
	if err := o.h.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// streams returns the writers for a container's stdout and stderr: raw
// stdout for a terminal (whose stderr is the same device), stdcopy frames
// otherwise.
func (h *hijacked) streams(tty, stdout, stderr bool) (io.Writer, io.Writer) {
	var o, e io.Writer
	switch {
	case tty:
		if stdout || stderr {
			o = h.output()
		}
	default:
		if stdout {
			o = NewStdWriter(h.output(), Stdout)
		}
		if stderr {
			e = NewStdWriter(h.output(), Stderr)
		}
	}
	return o, e
}

// stdin is what the client sends after its request: the container's
// input, unframed. It ends (io.EOF) when the client half-closes the
// connection after its own input ended, and also once the server has
// closed the connection.
func (h *hijacked) stdin() io.Reader { return hijackedInput{h} }

type hijackedInput struct{ h *hijacked }

func (i hijackedInput) Read(p []byte) (int, error) {
	n, err := i.h.in.Read(p)
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

var (
	errStreamClosed = errors.New("the stream is closed")
	errShutdown     = errors.New("the server is shutting down")
)

// close ends the stream: the client sees the end of its output.
func (h *hijacked) close() {
	_ = h.answer()
	h.stop()
	h.cancel(errStreamClosed)
	_ = h.conn.Close()
	h.s.untrack(h.conn)
}

// streamType is the Content-Type of an attach, exec or logs stream.
// Docker announces the multiplexed format from API 1.42 on; before, both
// were "raw-stream" and the client knew the framing from the container's
// Tty alone (it still does).
func streamType(r *http.Request, tty bool) string {
	if !tty && compareVersions(apiVersion(r), "1.42") >= 0 {
		return types.MediaTypeMultiplexedStream
	}
	return types.MediaTypeRawStream
}
