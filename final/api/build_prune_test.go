package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// POST /build/prune: the report's shape, the filters it takes, and the
// size options it does not apply, refused by name.
func TestBuildPrune(t *testing.T) {
	e := newEnv(t)
	for _, query := range []string{"", "all=1", `filters={"until":["24h"]}`, `filters={"unused-for":["1h"]}`,
		`filters={"label":["a=b"]}`, `filters={"id":["abc"]}`, "keep-storage=0"} {
		resp, body := e.do(http.MethodPost, "/v1.41/build/prune?"+query, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", query, body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m), query)
		assert.Contains(t, m, "CachesDeleted", query)
		assert.Contains(t, m, "SpaceReclaimed", query)
	}
	for query, want := range map[string]string{
		"keep-storage=1000000":                         "keep-storage is not supported",
		"reserved-space=1000000":                       "keep-storage (reserved-space) is not supported",
		"max-used-space=1":                             "max-used-space is not supported",
		"min-free-space=1":                             "min-free-space is not supported",
		`filters={"color":["red"]}`:                    "invalid filter 'color'",
		`filters={"until":["soon"]}`:                   "soon",
		`filters={"until":["1h"],"unused-for":["1h"]}`: "conflicting filters",
	} {
		resp, body := e.do(http.MethodPost, "/v1.41/build/prune?"+query, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", query, body)
		assert.Contains(t, message(t, resp, body), want, query)
	}
}
