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
