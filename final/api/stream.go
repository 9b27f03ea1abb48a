package api

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

func jsonEncode(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// lazyBody starts the answer at the first byte of the body, so that an
// error before it can still be answered with its own status.
type lazyBody struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (b *lazyBody) start() {
	if !b.started {
		b.started = true
		b.w.Header().Set("Content-Type", b.contentType)
		b.w.WriteHeader(http.StatusOK)
	}
}

func (b *lazyBody) Write(p []byte) (int, error) {
	b.start()
	return b.w.Write(p)
}

// streamBody answers with what fill writes, a tar (export, save). An
// error after the first byte cannot change the status any more; the
// connection is cut instead, so that the client sees a broken transfer
// rather than a complete but truncated archive.
func (s *Server) streamBody(w http.ResponseWriter, r *http.Request, contentType string, fill func(io.Writer) error) error {
	body := &lazyBody{w: w, contentType: contentType}
	err := fill(body)
	if err == nil {
		body.start()
		return nil
	}
	if !body.started {
		return err
	}
	s.log.Error("stream failed after it started; cutting the connection", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

// jsonStream is the JSONStream of the load, import and build answers:
// newline-delimited JSONMessages, each flushed at once so the client can
// show progress. The Content-Type must be exactly application/json, or
// the docker client prints the body raw instead of decoding it.
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	err     error
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	return &jsonStream{w: w, rc: http.NewResponseController(w)}
}

// Write sends msg. After the client has gone it returns the write error,
// so a backend can stop working for nobody.
func (j *jsonStream) Write(msg JSONMessage) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if !j.started {
		j.started = true
		j.w.Header().Set("Content-Type", "application/json")
		j.w.WriteHeader(http.StatusOK)
	}
	if err := jsonEncode(j.w, msg); err != nil {
		j.err = err
		return err
	}
	if err := j.rc.Flush(); err != nil {
		j.err = err
		return err
	}
	return nil
}

// readWhileWriting lets a handler write its answer (progress messages)
// while it still reads the request's body (the archive of a load, an
// import, a build), which Go's HTTP/1 server refuses unless asked: by
// default the first write ends the body. The returned function must be
// called, deferred, when the handler is done with the body: it reads
// what the backend left of it (a tar's padding, after its end-of-archive
// blocks), up to a bound.
//
// Why: with full duplex, a body that first reaches its end in the
// server's own clean-up after the handler has returned starts a
// background read on the connection (to notice a client that goes away)
// that nothing stops, and the server's read of the next request on a
// kept-alive connection then panics, "invalid concurrent Body.Read call".
// Reaching the end inside the handler lets the server stop that read
// itself. A remainder above the bound is not read: then the server
// closes the connection rather than reach the end.
func readWhileWriting(w http.ResponseWriter, r *http.Request) (done func()) {
	_ = http.NewResponseController(w).EnableFullDuplex()
	return func() { _, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)) }
}

// finish ends the stream after the backend returned err. Before the first
// message an error is an ordinary HTTP error; after it, the status is
// long gone, and the error travels in band, as Docker does: the client
// prints errorDetail.message and exits non-zero.
func (s *Server) finish(w http.ResponseWriter, j *jsonStream, err error) error {
	j.mu.Lock()
	started := j.started
	j.mu.Unlock()
	switch {
	case err == nil && !started:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return nil
	case err == nil:
		return nil
	case !started:
		return err
	}
	_ = j.Write(JSONMessage{Error: err.Error(), ErrorDetail: &ErrorDetail{Message: err.Error()}})
	return nil
}
