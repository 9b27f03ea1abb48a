package api_test

import (
	"net/http"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPingAnswersHeadAndGetWithTheHeadersTheClientReads(t *testing.T) {
	e := newEnv(t)
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		for _, path := range []string{"/_ping", "/v1.41/_ping"} {
			resp, body := e.do(method, path, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s", method, path)
			h := resp.Header
			assert.Equal(t, "1.41", h.Get("Api-Version"))
			assert.Equal(t, "linux", h.Get("Ostype"))
			assert.Equal(t, "false", h.Get("Docker-Experimental"))
			assert.Equal(t, "1", h.Get("Builder-Version"))
			assert.Equal(t, "inactive", h.Get("Swarm"))
			assert.Equal(t, "berth/test (linux)", h.Get("Server"))
			assert.Equal(t, "no-cache, no-store, must-revalidate", h.Get("Cache-Control"))
			assert.Equal(t, "no-cache", h.Get("Pragma"))
			if method == http.MethodHead {
				assert.Equal(t, "0", h.Get("Content-Length"))
				assert.Empty(t, body)
			} else {
				assert.Equal(t, "OK", string(body))
			}
		}
	}
}

func TestClientNegotiatesDownToTheAdvertisedVersion(t *testing.T) {
	e := newEnv(t)
	ping, err := e.client.Ping(ctxT(t), client.PingOptions{NegotiateAPIVersion: true})
	require.NoError(t, err)
	assert.Equal(t, "1.41", ping.APIVersion)
	assert.Equal(t, "linux", ping.OSType)
	assert.Equal(t, "1", string(ping.BuilderVersion))
	require.NotNil(t, ping.SwarmStatus)
	assert.Equal(t, "inactive", string(ping.SwarmStatus.NodeState))
	// The client's own maximum is far above 1.41.
	assert.Equal(t, "1.41", e.client.ClientVersion())
}

func TestEveryAnswerCarriesTheServerHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1.41/containers/json", "/containers/nosuch/json", "/nope"} {
		resp, _ := e.do(http.MethodGet, path, nil)
		assert.Equal(t, "1.41", resp.Header.Get("Api-Version"), path)
		assert.Equal(t, "linux", resp.Header.Get("Ostype"), path)
		assert.Equal(t, "berth/test (linux)", resp.Header.Get("Server"), path)
	}
}

func TestVersionedAndUnversionedPathsAreTheSameEndpoint(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/version", "/v1.41/version", "/v1.24/version", "/v1.30/version"} {
		resp, body := e.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		assert.Contains(t, string(body), `"ApiVersion":"1.41"`, path)
	}
}

func TestVersionsOutsideTheRangeAreRefusedWithAMessage(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(http.MethodGet, "/v1.51/containers/json", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "client version 1.51 is too new. Maximum supported API version is 1.41", message(t, resp, body))

	resp, body = e.do(http.MethodGet, "/v1.12/containers/json", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "client version 1.12 is too old. Minimum supported API version is 1.24")
}

func TestUnknownPathsAndMethodsAreJSON404(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/nope"},
		{http.MethodGet, "/v1.41/volumes/data"},
		{http.MethodGet, "/v1.41/plugins/x/json"},
		{http.MethodPost, "/v1.41/containers/json"},   // a GET endpoint
		{http.MethodDelete, "/v1.41/containers/json"}, // a GET endpoint
		{http.MethodGet, "/v1.41/images/busybox/nope"},
	} {
		resp, body := e.do(c.method, c.path, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", c.method, c.path)
		assert.NotEmpty(t, message(t, resp, body))
	}
}

func TestVersionDescribesTheEngineComponent(t *testing.T) {
	e := newEnv(t)
	v, err := e.client.ServerVersion(ctxT(t), client.ServerVersionOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1.41", v.APIVersion)
	assert.Equal(t, "1.24", v.MinAPIVersion)
	assert.Equal(t, "berth (fake)", v.Platform.Name)
	var engine map[string]string
	for _, c := range v.Components {
		if c.Name == "Engine" {
			engine = c.Details
		}
	}
	require.NotNil(t, engine, "docker version shows the Engine component")
	assert.Equal(t, "1.41", engine["ApiVersion"])
	assert.Equal(t, "1.24", engine["MinAPIVersion"])
	assert.NotEmpty(t, engine["GoVersion"])
	assert.NotEmpty(t, engine["Os"])
}

func TestInfoCountsContainersAndImages(t *testing.T) {
	e := newEnv(t)
	e.create("info", container.Config{}, "true")
	info, err := e.client.Info(ctxT(t), client.InfoOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, info.Info.Containers)
	assert.Equal(t, 1, info.Info.Images)
	assert.Equal(t, "linux", info.Info.OSType)
	assert.Equal(t, "inactive", string(info.Info.Swarm.LocalNodeState))
}

func TestNetworksAreListedAndInspectable(t *testing.T) {
	e := newEnv(t)
	list, err := e.client.NetworkList(ctxT(t), client.NetworkListOptions{})
	require.NoError(t, err)
	var names []string
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	assert.ElementsMatch(t, []string{"bridge", "host", "none"}, names)

	filtered, err := e.client.NetworkList(ctxT(t), client.NetworkListOptions{Filters: client.Filters{}.Add("name", "bri")})
	require.NoError(t, err)
	require.Len(t, filtered.Items, 1)
	assert.Equal(t, "bridge", filtered.Items[0].Name)

	n, err := e.client.NetworkInspect(ctxT(t), "host", client.NetworkInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "host", n.Network.Name)

	resp, body := e.do(http.MethodGet, "/v1.41/networks/nosuch", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "network nosuch not found", message(t, resp, body))

	resp, body = e.do(http.MethodGet, `/v1.41/networks?filters={"color":["red"]}`, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "invalid filter 'color'")
}
