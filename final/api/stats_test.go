package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GET /containers/{id}/stats: the keys docker stats reads, precpu_stats
// filled from the previous sample except with one-shot, and Docker's
// empty sample for a container that does not run.
func TestStatsEndpoint(t *testing.T) {
	e := newEnv(t)
	id := e.create("sleeper", container.Config{}, "sleep", "30")

	t.Run("not running: name and ID only, at once", func(t *testing.T) {
		resp, body := e.do(http.MethodGet, "/v1.41/containers/sleeper/stats?stream=false", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		var st container.StatsResponse
		require.NoError(t, json.Unmarshal(body, &st))
		assert.Equal(t, container.StatsResponse{ID: id, Name: "/sleeper"}, st)
	})

	e.start(id)
	for _, tc := range []struct {
		query      string
		wantPreCPU bool
	}{
		{"stream=false&one-shot=true", false},
		{"stream=false", true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := e.do(http.MethodGet, "/v1.41/containers/sleeper/stats?"+tc.query, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &raw), "exactly one object")
			for _, k := range []string{"read", "preread", "pids_stats", "cpu_stats", "precpu_stats", "memory_stats", "blkio_stats", "networks", "name", "id"} {
				assert.Contains(t, raw, k)
			}
			var st container.StatsResponse
			require.NoError(t, json.Unmarshal(body, &st))
			assert.Equal(t, "/sleeper", st.Name)
			assert.False(t, st.Read.IsZero())
			assert.NotZero(t, st.CPUStats.SystemUsage)
			assert.Equal(t, uint64(1), st.PidsStats.Current)
			if tc.wantPreCPU {
				assert.NotZero(t, st.PreCPUStats.SystemUsage)
				assert.True(t, st.PreRead.Before(st.Read))
			} else {
				assert.Zero(t, st.PreCPUStats.SystemUsage)
				assert.True(t, st.PreRead.IsZero())
			}
		})
	}

	t.Run("stream: one object a second, each with the previous CPU", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, "http://berth/v1.41/containers/sleeper/stats", nil)
		require.NoError(t, err)
		resp, err := e.http().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		var a, b container.StatsResponse
		require.NoError(t, dec.Decode(&a))
		require.NoError(t, dec.Decode(&b))
		assert.True(t, a.PreRead.IsZero())
		assert.Equal(t, a.Read, b.PreRead)
		assert.Equal(t, a.CPUStats, b.PreCPUStats)
	})

	t.Run("errors", func(t *testing.T) {
		resp, body := e.do(http.MethodGet, "/v1.41/containers/sleeper/stats?stream=true&one-shot=true", nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
		resp, body = e.do(http.MethodGet, "/v1.41/containers/nosuch/stats?stream=false", nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
	})
}
