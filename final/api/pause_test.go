package api_test

import (
	"net/http"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// POST /containers/{id}/pause and /unpause: 204, or Docker's 409s and 404,
// and the state inspect and ps show in between.
func TestPauseUnpauseEndpoints(t *testing.T) {
	e := newEnv(t)
	id := e.create("sleeper", container.Config{}, "sleep", "30")

	resp, body := e.do(http.MethodPost, "/v1.41/containers/sleeper/pause", nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	assert.Equal(t, "Container "+id+" is not running", message(t, resp, body))

	e.start(id)
	resp, body = e.do(http.MethodPost, "/v1.41/containers/sleeper/pause", nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", body)
	assert.Empty(t, body)

	ins, err := e.fake.ContainerInspect(ctxT(t), id)
	require.NoError(t, err)
	assert.True(t, ins.State.Paused)
	assert.True(t, ins.State.Running)
	assert.Equal(t, container.StatePaused, ins.State.Status)
	resp, body = e.do(http.MethodGet, `/v1.41/containers/json?filters={"status":["paused"]}`, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"State":"paused"`)
	assert.Contains(t, string(body), `(Paused)"`)

	resp, body = e.do(http.MethodPost, "/v1.41/containers/"+id[:12]+"/pause", nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	assert.Equal(t, "Container "+id+" is already paused", message(t, resp, body))

	resp, body = e.do(http.MethodPost, "/v1.41/containers/sleeper/unpause", nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", body)
	resp, body = e.do(http.MethodPost, "/v1.41/containers/sleeper/unpause", nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	assert.Equal(t, "Container "+id+" is not paused", message(t, resp, body))

	resp, body = e.do(http.MethodPost, "/v1.41/containers/nosuch/unpause", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
	assert.Equal(t, "No such container: nosuch", message(t, resp, body))
	resp, body = e.do(http.MethodGet, "/v1.41/containers/sleeper/pause", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "pause is a POST: %s", body)
}
