package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

type ctxKey int

const versionKey ctxKey = iota

// versionPrefix matches the "/v1.41" that clients put before every path
// once they have negotiated a version.
var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// versioned strips the optional version prefix, checks the version, and
// sets the headers every answer carries. The routes below it see only
// unversioned paths, so each endpoint is declared once and served as both
// /v1.41/containers/json and /containers/json.
func (s *Server) versioned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", s.opts.APIVersion)
		h.Set("Ostype", "linux")
		h.Set("Server", "berth/"+s.opts.Version+" (linux)")
		h.Set("Docker-Experimental", "false")

		// An unversioned path means "the server's version", as with
		// dockerd.
		version := s.opts.APIVersion
		if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
			version = m[1]
			u := *r.URL
			u.Path = m[2]
			u.RawPath = ""
			if raw := versionPrefix.FindStringSubmatch(r.URL.RawPath); raw != nil {
				u.RawPath = raw[2]
			}
			r = r.WithContext(r.Context()) // a copy, to change its URL
			r.URL = &u
			if compareVersions(version, s.opts.MinAPIVersion) < 0 {
				s.writeError(w, r, invalid(fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, s.opts.MinAPIVersion)))
				return
			}
			if compareVersions(version, s.opts.APIVersion) > 0 {
				s.writeError(w, r, invalid(fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, s.opts.APIVersion)))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), versionKey, version)))
	})
}

// apiVersion is the version the client asked for in the path.
func apiVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey).(string); ok {
		return v
	}
	return DefaultAPIVersion
}

// compareVersions compares dotted API versions numerically ("1.9" is
// older than "1.41").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// recoverPanics is the last line of defence: a panic in a handler or in
// the backend must cost one request, never the daemon and its
// containers. It also logs each request.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &trackingWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == http.ErrAbortHandler {
				// The handler's way to cut a stream short; net/http
				// closes the connection without a stack trace.
				panic(p)
			}
			if p != nil {
				s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				switch {
				case rw.conn != nil:
					// Hijacked: there is no HTTP left to answer with.
					_ = rw.conn.Close()
				case rw.status != 0:
					// Too late for a status: cut the answer, so the
					// client sees a broken stream, not a complete one.
					panic(http.ErrAbortHandler)
				default:
					s.writeError(rw, r, fmt.Errorf("internal server error: %v", p))
				}
			}
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
				"duration", time.Since(start))
		}()
		next.ServeHTTP(rw, r)
	})
}

// trackingWriter remembers what the handler did with the answer: the
// status it sent, and the connection if it took the connection over.
type trackingWriter struct {
	http.ResponseWriter
	status int
	conn   net.Conn
}

func (w *trackingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *trackingWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.conn = c
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the server's writer for the
// methods not declared here (EnableFullDuplex, deadlines).
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// invalid is an InvalidArgument error (400) with its own message.
func invalid(msg string) error {
	return errdefs.ErrInvalidArgument.WithMessage(msg)
}

// notFound is a NotFound error (404) with its own message.
func notFound(msg string) error {
	return errdefs.ErrNotFound.WithMessage(msg)
}

// protect runs a backend call that streams, turning a panic into an
// error. Once a stream has started, recoverPanics could only cut it; as an
// error, the panic reaches the client the way the stream reports errors
// (in band, or as an HTTP error if nothing was answered yet).
func (s *Server) protect(r *http.Request, call func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("internal server error: %v", p)
		}
	}()
	return call()
}
