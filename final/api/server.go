package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	// DefaultAPIVersion is the Engine API version berthd advertises. It
	// is the version of Docker 20.10, which both the 20.10 and the 28.x
	// docker clients speak: a newer client downgrades to it when it
	// pings the server.
	DefaultAPIVersion = "1.41"
	// DefaultMinAPIVersion is the oldest API version berthd accepts in a
	// request path. Below it the client would use endpoints berthd does
	// not have (1.24 is also Docker's own minimum).
	DefaultMinAPIVersion = "1.24"
	// DefaultMaxBodySize limits a JSON request body (create, exec,
	// commit, volume and network create). The largest a docker client
	// sends is a create with its environment, labels and mounts: a few
	// KiB. 1 MiB is hundreds of times that, and small enough that a
	// hundred requests at once hold 100 MiB, not the daemon's memory.
	// Tar uploads (import, load, build, cp) are not limited: an image
	// has no size limit in Docker either, and they stream to the disk,
	// not to memory. Queries (filters, build arguments) are bounded by
	// Go's header limit, 1 MiB (a 431).
	DefaultMaxBodySize = 1 << 20
	// DefaultSocket is where berthd listens unless told otherwise.
	DefaultSocket = "/run/berth/berth.sock"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Version is berth's own version, shown in the Server header as
	// "berth/<Version> (linux)". Default "dev".
	Version string
	// APIVersion is the API version advertised in every response's
	// Api-Version header and the highest accepted in a request path.
	// Default DefaultAPIVersion.
	APIVersion string
	// MinAPIVersion is the lowest API version accepted in a request path.
	// Default DefaultMinAPIVersion.
	MinAPIVersion string
	// MaxBodySize limits JSON request bodies, in bytes. Default
	// DefaultMaxBodySize.
	MaxBodySize int64
	// Logger receives one debug record per request, and errors (5xx
	// answers, recovered panics). Nil discards them.
	Logger *slog.Logger
}

// Server serves the Docker Engine API subset of berthd on top of a
// Backend. It is an http.Handler; Serve runs it on a listener.
type Server struct {
	backend Backend
	opts    Options
	handler http.Handler
	http    *http.Server
	log     *slog.Logger

	// base is the parent of every request's context. Shutdown and Close
	// cancel it, which ends the requests that would otherwise never end:
	// followed logs, waits, attachments.
	base   context.Context
	cancel context.CancelFunc

	// Hijacked connections are invisible to http.Server, which neither
	// waits for them nor closes them; the server tracks them itself.
	mu       sync.Mutex
	hijacked map[net.Conn]struct{}
}

// NewServer returns a server that answers the API with b.
func NewServer(b Backend, opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.APIVersion == "" {
		opts.APIVersion = DefaultAPIVersion
	}
	if opts.MinAPIVersion == "" {
		opts.MinAPIVersion = DefaultMinAPIVersion
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		backend:  b,
		opts:     opts,
		log:      log,
		hijacked: map[net.Conn]struct{}{},
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.handler = s.recoverPanics(s.versioned(s.routes()))
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Serve accepts connections on l until Shutdown or Close. It returns nil
// after those, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, ends the long-running requests
// (followed logs, waits, attachments) by cancelling their contexts, and
// waits until every request has returned or ctx is done. Hijacked
// connections still open then are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	err := s.http.Shutdown(ctx)
	// Like http.Server.Shutdown, poll: a stream ends when its backend
	// call has returned, which the cancelled context hastens.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.streamCount() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			s.closeHijacked()
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
	}
	return err
}

func (s *Server) streamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hijacked)
}

// Close closes the listeners and every connection, hijacked ones too, at
// once.
func (s *Server) Close() error {
	s.cancel()
	err := s.http.Close()
	s.closeHijacked()
	return err
}

func (s *Server) closeHijacked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.hijacked {
		_ = c.Close()
	}
}

func (s *Server) track(c net.Conn) {
	s.mu.Lock()
	s.hijacked[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.hijacked, c)
	s.mu.Unlock()
}

// ListenUnix listens on a unix socket at path with mode 0660, creating its
// directory. A socket left behind by a daemon that died is replaced; a
// socket some live daemon still answers on is not, so two berthds cannot
// steal each other's socket.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the socket directory of %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listening on %s: the path exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("listening on %s: another daemon is serving on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	// The socket is the daemon's front door, and whoever can write to it
	// is root on the host (they can run a privileged container): owner
	// and group only, as dockerd does with its "docker" group.
	if err := os.Chmod(path, 0o660); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	return l, nil
}
