package apitest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-project/berth/final/api"
)

// Serve serves b with the API server on a unix socket in a temporary
// directory until the test ends, and returns the socket's path. Point a
// client at it with DOCKER_HOST=Host(socket).
func Serve(t testing.TB, b api.Backend) string {
	t.Helper()
	return ServeWith(t, b, api.Options{Version: "test"})
}

// ServeWith is Serve with server options.
func ServeWith(t testing.TB, b api.Backend, opts api.Options) string {
	t.Helper()
	dir := t.TempDir()
	// A unix socket's path is limited to 108 bytes, and a test's
	// temporary directory is named after the test.
	if len(dir) > 80 {
		short, err := os.MkdirTemp("", "berth-api-")
		if err != nil {
			t.Fatalf("making a directory for the socket: %v", err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(short) })
		dir = short
	}
	socket := filepath.Join(dir, "berth.sock")
	l, err := api.ListenUnix(socket)
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	srv := api.NewServer(b, opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serving the API: %v", err)
		}
	})
	return socket
}

// Host is the DOCKER_HOST value for a socket.
func Host(socket string) string {
	return "unix://" + socket
}
