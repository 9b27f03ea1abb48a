package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

func (e *env) containerCount() int {
	e.t.Helper()
	list, err := e.client.ContainerList(ctxT(e.t), client.ContainerListOptions{All: true})
	require.NoError(e.t, err)
	return len(list.Items)
}

func TestMalformedJSONIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ body, contentType, want string }{
		{`{"Image":"busybox",`, "application/json", "malformed JSON"},
		{`{"Image":"busybox","Cmd":5}`, "application/json", "malformed JSON"},
		{`{"Image":"busybox"} {"Image":"busybox"}`, "application/json", "unexpected data after the JSON value"},
		{`["busybox"]`, "application/json", "malformed JSON"},
		{`{"Image":"busybox"}`, "text/plain", "must be application/json"},
	} {
		resp, body := e.do(http.MethodPost, "/v1.41/containers/create?name=never", strings.NewReader(c.body), "Content-Type", c.contentType)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, c.body)
		assert.Contains(t, message(t, resp, body), c.want, c.body)
	}
	assert.Zero(t, e.containerCount(), "no container was created")
}

func TestOversizedBodyIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	huge, err := json.Marshal(container.Config{Image: "busybox", Cmd: []string{"true"}, Env: []string{"BIG=" + strings.Repeat("x", api.DefaultMaxBodySize)}})
	require.NoError(t, err)
	resp, body := e.do(http.MethodPost, "/v1.41/containers/create?name=never", bytes.NewReader(huge), "Content-Type", "application/json")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, fmt.Sprintf("request body too large: the limit for a JSON body is %d bytes", api.DefaultMaxBodySize), message(t, resp, body))
	assert.Zero(t, e.containerCount())

	// The limit is the server's option; a body under it passes.
	small := newEnvWith(t, apitest.NewFake(), api.Options{MaxBodySize: 64})
	resp, body = small.do(http.MethodPost, "/containers/create", strings.NewReader(`{"Image":"busybox","Cmd":["true"],"Env":["A=`+strings.Repeat("a", 64)+`"]}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s", body)
	resp, body = small.do(http.MethodPost, "/containers/create", strings.NewReader(`{"Image":"busybox","Cmd":["true"]}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
}

func TestTarUploadsAreNotLimited(t *testing.T) {
	e := newEnvWith(t, apitest.NewFake(), api.Options{MaxBodySize: 1024})
	big := tarOf(t, map[string]string{"blob": strings.Repeat("z", 3<<20)})
	resp, body := e.do(http.MethodPost, "/v1.41/images/create?fromSrc=-&repo=big", bytes.NewReader(big), "Content-Type", "application/x-tar")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Contains(t, e.tags(), "big:latest")
}

// panicky is a backend with bugs.
type panicky struct{ *apitest.Fake }

func (p panicky) ContainerInspect(ctx context.Context, name string) (container.InspectResponse, error) {
	if name == "boom" {
		panic("boom")
	}
	return p.Fake.ContainerInspect(ctx, name)
}

func (p panicky) ContainerAttach(context.Context, string, api.AttachOptions) error {
	panic("attach bug")
}

func (p panicky) ImageLoad(_ context.Context, _ io.Reader, _ bool, out api.JSONStream) error {
	_ = out.Write(api.JSONMessage{Stream: "started\n"})
	panic("load bug")
}

func (p panicky) ImageSave(_ context.Context, _ []string, w io.Writer) error {
	_, _ = w.Write(bytes.Repeat([]byte("t"), 64<<10))
	panic("save bug")
}

func TestPanicInTheBackendIs500AndTheServerLives(t *testing.T) {
	e := newEnvWith(t, panicky{apitest.NewFake()}, api.Options{})
	resp, body := e.do(http.MethodGet, "/v1.41/containers/boom/json", nil)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, "internal server error: boom", message(t, resp, body))

	// A panic before the attachment was answered is still a 500.
	id := e.create("victim", container.Config{}, "echo", "x")
	_, err := e.client.ContainerAttach(ctxT(t), id, client.ContainerAttachOptions{Stream: true, Stdout: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "received 500")

	// After the first message of a stream, it is an error in band.
	resp, body = e.do(http.MethodPost, "/v1.41/images/load", strings.NewReader("x"), "Content-Type", "application/x-tar")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ms := messages(t, body)
	require.Len(t, ms, 2)
	assert.Equal(t, "started\n", ms[0].Stream)
	require.NotNil(t, ms[1].ErrorDetail)
	assert.Equal(t, "internal server error: load bug", ms[1].ErrorDetail.Message)

	// A tar has no place for an error: the answer is cut, so that the
	// client cannot take it for a complete archive.
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, "http://berth/v1.41/images/get?names=busybox", nil)
	require.NoError(t, err)
	r, err := e.http().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.StatusCode)
	_, err = io.ReadAll(r.Body)
	r.Body.Close()
	assert.Error(t, err, "a cut chunked body is an error for the client")

	v, err := e.client.ServerVersion(ctxT(t), client.ServerVersionOptions{})
	require.NoError(t, err, "the server still answers")
	assert.Equal(t, "1.41", v.APIVersion)
}

func TestHTTPStatusOfErrorKinds(t *testing.T) {
	for err, status := range map[error]int{
		errdefs.ErrNotFound:         404,
		errdefs.ErrInvalidArgument:  400,
		errdefs.ErrConflict:         409,
		errdefs.ErrAlreadyExists:    409,
		errdefs.ErrNotModified:      304,
		errdefs.ErrUnavailable:      503,
		errdefs.ErrPermissionDenied: 403,
		errdefs.ErrNotImplemented:   501,
		errdefs.ErrInternal:         500,
		io.EOF:                      500,
	} {
		assert.Equal(t, status, api.HTTPStatus(fmt.Errorf("wrapped twice: %w", fmt.Errorf("once: %w", err))), "%v", err)
	}
}

func TestShutdownEndsStreamsAndCloseCutsHijackedConnections(t *testing.T) {
	fake := apitest.NewFake()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := api.ListenUnix(sock)
	require.NoError(t, err)
	srv := api.NewServer(fake, api.Options{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := client.New(client.WithHost(apitest.Host(sock)))
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxT(t)
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"sleep", "infinity"}}})
	require.NoError(t, err)
	hj, err := c.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true})
	require.NoError(t, err)
	defer hj.Close()
	_, err = c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	require.NoError(t, err)
	logs, err := c.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	require.NoError(t, err)
	defer logs.Close()
	wait := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{})

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, srv.Shutdown(shutdownCtx), "every open request ends")
	assert.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, <-served)

	_, err = io.ReadAll(hj.Reader)
	assert.NoError(t, err, "the attachment ended")
	_, _ = io.ReadAll(logs) // the follow ended
	select {
	case <-wait.Error:
	case <-wait.Result:
		t.Fatal("the container did not exit")
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end")
	}
}

func TestListenUnixRefusesALiveSocketAndReplacesAStaleOne(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "berth.sock")
	l, err := api.ListenUnix(sock)
	require.NoError(t, err)
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())

	_, err = api.ListenUnix(sock)
	assert.ErrorContains(t, err, "another daemon is serving on it")

	// A daemon that died leaves its socket behind.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	_, err = os.Stat(sock)
	require.NoError(t, err, "the stale socket is there")
	l2, err := api.ListenUnix(sock)
	require.NoError(t, err)
	require.NoError(t, l2.Close())

	plain := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(plain, nil, 0o600))
	_, err = api.ListenUnix(plain)
	assert.ErrorContains(t, err, "not a socket")
}

// Every endpoint that takes a JSON body refuses a malformed one, or one
// of the wrong types, with a 400 and a message (never a 500), and one
// over the limit with a 413; see apitest.MalformedRequests. (final/daemon
// runs the same requests against berthd.)
func TestMalformedInputIsA4xxOnEveryEndpoint(t *testing.T) {
	e := newEnv(t)
	id := e.create("target", container.Config{}, "sleep", "1000")
	for _, m := range apitest.MalformedRequests(id) {
		resp, body := e.do(m.Method, m.Path, strings.NewReader(m.Body), "Content-Type", "application/json")
		what := fmt.Sprintf("%s %.60s %.40s", m.Method, m.Path, m.Body)
		assert.Equal(t, m.Want, resp.StatusCode, "%s: %.200s", what, body)
		if m.Want != http.StatusRequestHeaderFieldsTooLarge { // Go's server answers that one in plain text
			assert.NotEmpty(t, message(t, resp, body), what)
		}
	}
	assert.Equal(t, 1, e.containerCount(), "nothing was created")
}
