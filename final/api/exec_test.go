package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// running starts a container that runs until stopped.
func (e *env) running(name string) string {
	e.t.Helper()
	id := e.create(name, container.Config{}, "sleep", "infinity")
	e.start(id)
	return id
}

// exec runs cmd in the container as `docker exec` does: create, start
// hijacked, read to the end, then ask for the exit code.
func (e *env) exec(id string, opts client.ExecCreateOptions, stdin string) (string, string, int) {
	e.t.Helper()
	created, err := e.client.ExecCreate(ctxT(e.t), id, opts)
	require.NoError(e.t, err)
	hj, err := e.client.ExecAttach(ctxT(e.t), created.ID, client.ExecAttachOptions{TTY: opts.TTY})
	require.NoError(e.t, err)
	defer hj.Close()
	if opts.AttachStdin {
		_, err := io.WriteString(hj.Conn, stdin)
		require.NoError(e.t, err)
	}
	require.NoError(e.t, hj.CloseWrite())
	var out, errOut string
	if opts.TTY {
		data, err := io.ReadAll(hj.Reader)
		require.NoError(e.t, err)
		out = string(data)
	} else {
		out, errOut = demux(e.t, hj.Reader)
	}
	info, err := e.client.ExecInspect(ctxT(e.t), created.ID, client.ExecInspectOptions{})
	require.NoError(e.t, err)
	assert.False(e.t, info.Running)
	return out, errOut, info.ExitCode
}

func TestS37_ExecRunsAProcessInARunningContainer(t *testing.T) {
	e := newEnv(t)
	id := e.running("host")
	all := client.ExecCreateOptions{AttachStdout: true, AttachStderr: true}

	all.Cmd = []string{"sh", "-c", "echo hello; echo oops >&2; exit 5"}
	out, errOut, code := e.exec(id, all, "")
	assert.Equal(t, "hello\n", out)
	assert.Equal(t, "oops\n", errOut)
	assert.Equal(t, 5, code, "the exit code is there as soon as the stream ends")

	withStdin := all
	withStdin.AttachStdin = true
	withStdin.Cmd = []string{"cat"}
	out, _, code = e.exec(id, withStdin, "piped in\n")
	assert.Equal(t, "piped in\n", out, "stdin ends with the client's half-close")
	assert.Equal(t, 0, code)

	tty := all
	tty.TTY = true
	tty.Cmd = []string{"sh", "-c", "echo a; echo b >&2"}
	out, _, _ = e.exec(id, tty, "")
	assert.Equal(t, "a\nb\n", out, "a terminal is raw and merges stderr")
}

func TestExecDetachedRunsInTheBackground(t *testing.T) {
	e := newEnv(t)
	id := e.running("bg")
	created, err := e.client.ExecCreate(ctxT(t), id, client.ExecCreateOptions{Cmd: []string{"touch", "/detached"}})
	require.NoError(t, err)
	_, err = e.client.ExecStart(ctxT(t), created.ID, client.ExecStartOptions{Detach: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		diff, err := e.client.ContainerDiff(ctxT(t), id, client.ContainerDiffOptions{})
		return err == nil && len(diff.Changes) == 1 && diff.Changes[0].Path == "/detached"
	}, 5*time.Second, 10*time.Millisecond)
}

func TestExecErrors(t *testing.T) {
	e := newEnv(t)
	stopped := e.create("stopped", container.Config{}, "true")
	_, err := e.client.ExecCreate(ctxT(t), stopped, client.ExecCreateOptions{Cmd: []string{"echo"}})
	assert.True(t, errdefs.IsConflict(err), "exec in a stopped container: %v", err)
	_, err = e.client.ExecCreate(ctxT(t), "nosuch", client.ExecCreateOptions{Cmd: []string{"echo"}})
	assert.True(t, errdefs.IsNotFound(err), "exec in no container: %v", err)

	id := e.running("live")
	resp, body := e.do(http.MethodPost, "/v1.41/containers/live/exec", strings.NewReader(`{"Cmd":[]}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "no exec command specified", message(t, resp, body))

	for _, path := range []string{"/exec/nosuch/json"} {
		resp, body := e.do(http.MethodGet, path, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "No such exec instance: nosuch", message(t, resp, body))
	}
	resp, body = e.do(http.MethodPost, "/exec/nosuch/start", strings.NewReader(`{}`), "Connection", "Upgrade", "Upgrade", "tcp")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an unknown exec is refused before the upgrade")
	assert.Equal(t, "No such exec instance: nosuch", message(t, resp, body))

	created, err := e.client.ExecCreate(ctxT(t), id, client.ExecCreateOptions{Cmd: []string{"true"}, AttachStdout: true})
	require.NoError(t, err)
	_, err = e.client.ExecResize(ctxT(t), created.ID, client.ExecResizeOptions{Height: 10, Width: 20})
	require.NoError(t, err)
	resp, body = e.do(http.MethodPost, "/exec/"+created.ID+"/resize?h=-1&w=20", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `"h"`)

	// The second start fails after the upgrade: the error travels in the
	// stream, where the client's demultiplexer reports it.
	_, _, code := e.exec(id, client.ExecCreateOptions{Cmd: []string{"true"}, AttachStdout: true}, "")
	assert.Equal(t, 0, code)
	first, err := e.client.ExecAttach(ctxT(t), created.ID, client.ExecAttachOptions{})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, first.Reader)
	first.Close()
	hj, err := e.client.ExecAttach(ctxT(t), created.ID, client.ExecAttachOptions{})
	require.NoError(t, err)
	defer hj.Close()
	_, err = stdcopy.StdCopy(io.Discard, io.Discard, hj.Reader)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has already run")
}
