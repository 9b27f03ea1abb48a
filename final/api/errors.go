package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"
)

// HTTPStatus is the status the server answers err with. The kind of the
// error, set with github.com/containerd/errdefs anywhere in its chain,
// decides; an error without a kind is the server's fault (500).
//
// The docker client acts on some of these: 404 makes `run` pull the image
// and `inspect` try the next kind of object; 304 on start and stop means
// "already so" and is not an error at all.
func HTTPStatus(err error) int {
	var tooLarge errBodyTooLarge
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err):
		return http.StatusConflict
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err's status and {"message": err}, the only
// error shape the docker client reads. 304 has no body by definition.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := HTTPStatus(err)
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, common.ErrorResponse{Message: err.Error()})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errBodyTooLarge is answered to a JSON body over the limit. 413 is the
// exact status; the docker client shows the message whatever the status.
type errBodyTooLarge struct{ limit int64 }

func (e errBodyTooLarge) Error() string {
	return fmt.Sprintf("request body too large: the limit for a JSON body is %d bytes", e.limit)
}

// decodeJSON reads r's body, of at most the server's limit, into v. It
// reports whether there was a body at all: some endpoints take an empty
// body or "null" as "no configuration". Nothing is done on a request
// whose body is not exactly one JSON value: the error is returned before
// the backend is called.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) (bool, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return false, invalid(fmt.Sprintf("Content-Type %q of the request body must be application/json", ct))
		}
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodySize)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return false, errBodyTooLarge{limit: tooLarge.Limit}
		}
		return false, fmt.Errorf("reading the request body: %w", err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return false, invalid("malformed JSON in the request body: " + err.Error())
	}
	if dec.InputOffset() != int64(len(data)) {
		return false, invalid("malformed JSON in the request body: unexpected data after the JSON value")
	}
	return true, nil
}
