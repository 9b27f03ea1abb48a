package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// env is a server on a fake engine, with both kinds of client.
type env struct {
	t      *testing.T
	fake   *apitest.Fake
	sock   string
	client *client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, apitest.NewFake(), api.Options{Version: "test"})
}

func newEnvWith(t *testing.T, b api.Backend, opts api.Options) *env {
	t.Helper()
	fake, _ := b.(*apitest.Fake)
	e := &env{t: t, fake: fake, sock: apitest.ServeWith(t, b, opts)}
	c, err := client.New(client.WithHost(apitest.Host(e.sock)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	e.client = c
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// http is a plain HTTP client on the socket, for what the official
// client hides (headers, exact statuses, malformed requests).
func (e *env) http() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", e.sock)
		},
	}}
}

// do sends one request and returns the answer with its body read.
func (e *env) do(method, path string, body io.Reader, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctxT(e.t), method, "http://berth"+path, body)
	require.NoError(e.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.http().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, data
}

// message decodes an error answer, which must be JSON.
func message(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "an error is JSON: %s", body)
	var m struct{ Message string }
	require.NoError(t, json.Unmarshal(body, &m), "error body %s", body)
	require.NotEmpty(t, m.Message)
	return m.Message
}

// create makes a container of busybox running cmd.
func (e *env) create(name string, cfg container.Config, cmd ...string) string {
	e.t.Helper()
	cfg.Image = "busybox"
	if len(cmd) > 0 {
		cfg.Cmd = cmd
	}
	res, err := e.client.ContainerCreate(ctxT(e.t), client.ContainerCreateOptions{Config: &cfg, Name: name})
	require.NoError(e.t, err)
	return res.ID
}

func (e *env) start(id string) {
	e.t.Helper()
	_, err := e.client.ContainerStart(ctxT(e.t), id, client.ContainerStartOptions{})
	require.NoError(e.t, err)
}

// wait waits for the container to exit and returns its status.
func (e *env) wait(id string) int64 {
	e.t.Helper()
	res := e.client.ContainerWait(ctxT(e.t), id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		return r.StatusCode
	case err := <-res.Error:
		e.t.Fatalf("waiting for %s: %v", id, err)
	}
	return -1
}

// demux splits a stdcopy stream with moby's own demultiplexer, an
// implementation independent of the server's.
func demux(t *testing.T, r io.Reader) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	_, err := stdcopy.StdCopy(&out, &errOut, r)
	require.NoError(t, err)
	return out.String(), errOut.String()
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// demuxTo copies both streams of a stdcopy stream to w.
func demuxTo(w io.Writer, r io.Reader) (int64, error) {
	return stdcopy.StdCopy(w, w, r)
}
