package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func authHeader(t *testing.T, a registry.AuthConfig) string {
	data, err := json.Marshal(a)
	require.NoError(t, err)
	return base64.URLEncoding.EncodeToString(data)
}

func TestPullStreamsDockerdsMessagesAndRecordsTheDigest(t *testing.T) {
	e := newEnv(t)
	dg := e.fake.AddRemoteImage("127.0.0.1:5000/team/app:1", container.Config{Cmd: []string{"echo", "app"}}, map[string]string{"app": "x"})

	resp, body := e.do(http.MethodPost, "/v1.41/images/create?fromImage=127.0.0.1:5000/team/app&tag=1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	ms := messages(t, body)
	require.NotEmpty(t, ms)
	assert.Equal(t, "Pulling from team/app", ms[0].Status)
	assert.Equal(t, "1", ms[0].ID)
	var bar string
	for _, m := range ms {
		if m.Status == "Downloading" {
			require.NotNil(t, m.ProgressDetail)
			bar = m.Progress
		}
	}
	assert.Regexp(t, `^\[=+>\s*\]\s+\d+B/\d+B$`, bar, "the server draws dockerd's bar from the numbers")
	assert.Equal(t, "Digest: "+dg, ms[len(ms)-2].Status)
	assert.Equal(t, "Status: Downloaded newer image for 127.0.0.1:5000/team/app:1", ms[len(ms)-1].Status)

	info, err := e.client.ImageInspect(ctxT(t), "127.0.0.1:5000/team/app:1")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:5000/team/app@" + dg}, info.RepoDigests)

	// Again: up to date; and by digest.
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=127.0.0.1:5000/team/app&tag="+dg, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	ms = messages(t, body)
	assert.Equal(t, "Status: Image is up to date for 127.0.0.1:5000/team/app@"+dg, ms[len(ms)-1].Status)

	// A missing tag is a 404 before any byte; options berth does not
	// apply, and malformed credentials, are 400s naming them.
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=127.0.0.1:5000/team/app&tag=2", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "manifest for 127.0.0.1:5000/team/app:2 not found: manifest unknown: manifest unknown", message(t, resp, body))
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=busybox&tag=1&repo=x", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "pull: berth does not apply the option(s) repo", message(t, resp, body))
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=busybox&tag=1&platform=Linux", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `invalid platform "Linux"`)
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=busybox&tag=1", nil, registry.AuthHeader, "%%")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "X-Registry-Auth")
}

func TestPullWithCredentialsAndAllTags(t *testing.T) {
	e := newEnv(t)
	e.fake.AddRemoteImage("127.0.0.1:5000/private:a", container.Config{Cmd: []string{"true"}}, map[string]string{"a": "1"})
	e.fake.AddRemoteImage("127.0.0.1:5000/private:b", container.Config{Cmd: []string{"true"}}, map[string]string{"b": "2"})
	e.fake.SetRegistryLogin("127.0.0.1:5000", "ann", "pw")

	_, err := e.client.ImagePull(ctxT(t), "127.0.0.1:5000/private:a", client.ImagePullOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unauthorized: authentication required")
	resp, body := e.do(http.MethodPost, "/v1.41/images/create?fromImage=127.0.0.1:5000/private&tag=a", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "dockerd's status for a refused pull")
	assert.Equal(t, "pull access denied for 127.0.0.1:5000/private, repository does not exist or may require 'docker login': unauthorized: authentication required", message(t, resp, body))

	auth := authHeader(t, registry.AuthConfig{Username: "ann", Password: "pw", ServerAddress: "127.0.0.1:5000"})
	pull, err := e.client.ImagePull(ctxT(t), "127.0.0.1:5000/private", client.ImagePullOptions{All: true, RegistryAuth: auth})
	require.NoError(t, err)
	require.NoError(t, pull.Wait(ctxT(t)))
	list, err := e.client.ImageList(ctxT(t), client.ImageListOptions{})
	require.NoError(t, err)
	var tags []string
	for _, im := range list.Items {
		tags = append(tags, im.RepoTags...)
	}
	assert.Subset(t, tags, []string{"127.0.0.1:5000/private:a", "127.0.0.1:5000/private:b"}, "no tag: every tag")
}

func TestPushLoginAndDistributionInspect(t *testing.T) {
	e := newEnv(t)
	e.fake.SetRegistryLogin("127.0.0.1:5000", "ann", "pw")
	require.NoError(t, func() error {
		_, err := e.client.ImageTag(ctxT(t), client.ImageTagOptions{Source: "busybox", Target: "127.0.0.1:5000/bb:1"})
		return err
	}())

	resp, body := e.do(http.MethodPost, "/v1.41/images/127.0.0.1:5000/bb/push?tag=1", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(body))
	resp, body = e.do(http.MethodPost, "/v1.41/images/127.0.0.1:5000/nosuch/push?tag=1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "dockerd's order: the repository line, then the error in band")
	ms := messages(t, body)
	require.Len(t, ms, 2)
	assert.Equal(t, "The push refers to repository [127.0.0.1:5000/nosuch]", ms[0].Status)
	assert.Equal(t, "An image does not exist locally with the tag: 127.0.0.1:5000/nosuch", ms[1].Error)
	resp, body = e.do(http.MethodPost, "/v1.41/images/127.0.0.1:5000/bb/push?tag=1&platform=x", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "push: berth does not apply the option(s) platform", message(t, resp, body))

	auth := authHeader(t, registry.AuthConfig{Username: "ann", Password: "pw"})
	resp, body = e.do(http.MethodPost, "/v1.41/images/127.0.0.1:5000/bb/push?tag=1", nil, registry.AuthHeader, auth)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	ms = messages(t, body)
	assert.Equal(t, "The push refers to repository [127.0.0.1:5000/bb]", ms[0].Status)
	last := ms[len(ms)-1]
	aux, ok := last.Aux.(map[string]any)
	require.True(t, ok, "the last message is the aux record: %+v", last)
	assert.Equal(t, "1", aux["Tag"])
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, aux["Digest"])
	assert.Equal(t, "1: digest: "+aux["Digest"].(string)+" size: 527", ms[len(ms)-2].Status)

	// login: 200 with dockerd's status, 401 with the registry's words.
	resp, body = e.do(http.MethodPost, "/v1.41/auth", strings.NewReader(`{"username":"ann","password":"pw","serveraddress":"127.0.0.1:5000"}`), "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.JSONEq(t, `{"Status":"Login Succeeded"}`, string(body))
	resp, body = e.do(http.MethodPost, "/v1.41/auth", strings.NewReader(`{"username":"ann","password":"no","serveraddress":"127.0.0.1:5000"}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "unauthorized")
	resp, body = e.do(http.MethodPost, "/v1.41/auth", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "credentials")

	// distribution inspect, the pushed manifest.
	res, err := e.client.DistributionInspect(ctxT(t), "127.0.0.1:5000/bb:1", client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	require.NoError(t, err)
	assert.Equal(t, aux["Digest"], res.Descriptor.Digest.String())
	require.Len(t, res.Platforms, 1)
	assert.Equal(t, "amd64", res.Platforms[0].Architecture)
	_, err = e.client.DistributionInspect(ctxT(t), "127.0.0.1:5000/bb:2", client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	assert.ErrorContains(t, err, "manifest unknown")
}

func TestDockerCLIsPullPushLoginThroughTheAPI(t *testing.T) {
	for _, c := range dockerClients {
		t.Run(c.name, func(t *testing.T) {
			d := newDockerCLI(t, c.path)
			d.fake.AddRemoteImage("127.0.0.1:5000/hello:latest", container.Config{Cmd: []string{"echo", "hello from the registry"}}, map[string]string{"bin/echo": "x"})
			d.fake.SetRegistryLogin("127.0.0.1:5000", "ann", "pw")

			// run of an image only in the registry: 404 on create, the
			// CLI pulls, creates again; without credentials first.
			_, errOut, code := d.run("", "run", "--rm", "127.0.0.1:5000/hello")
			assert.Equal(t, 125, code)
			assert.Contains(t, errOut, "Unable to find image '127.0.0.1:5000/hello:latest' locally")
			assert.Contains(t, errOut, "unauthorized: authentication required")

			_, errOut, code = d.run("nope\n", "login", "-u", "ann", "--password-stdin", "127.0.0.1:5000")
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, "Error response from daemon: Head \"https://127.0.0.1:5000/v2/\": unauthorized")
			assert.Contains(t, d.ok2("pw\n", "login", "-u", "ann", "--password-stdin", "127.0.0.1:5000"), "Login Succeeded")

			out, errOut, code := d.run("", "run", "--rm", "127.0.0.1:5000/hello")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "hello from the registry\n", out)
			assert.Contains(t, errOut, "Unable to find image '127.0.0.1:5000/hello:latest' locally")
			assert.Contains(t, errOut, "Pull complete")
			assert.Contains(t, errOut, "Status: Downloaded newer image for 127.0.0.1:5000/hello:latest")

			out = d.ok("pull", "127.0.0.1:5000/hello")
			assert.Contains(t, out, "Status: Image is up to date for 127.0.0.1:5000/hello:latest")
			out = d.ok("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", "127.0.0.1:5000/hello")
			assert.Regexp(t, `^127.0.0.1:5000/hello latest sha256:[0-9a-f]{64}\n$`, out)

			d.ok("tag", "busybox", "127.0.0.1:5000/mine:v1")
			out = d.ok("push", "127.0.0.1:5000/mine:v1")
			assert.Contains(t, out, "The push refers to repository [127.0.0.1:5000/mine]")
			assert.Regexp(t, `v1: digest: sha256:[0-9a-f]{64} size: 527`, out)

			// (A push without credentials after this would have the
			// CLI ask for a login on its terminal, as with dockerd.)
			assert.Contains(t, d.ok("logout", "127.0.0.1:5000"), "Removing login credentials for 127.0.0.1:5000")
		})
	}
}
