package api_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

// tarOf makes a tar of files (name -> content).
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// messages decodes a JSON message stream.
func messages(t *testing.T, body []byte) []api.JSONMessage {
	t.Helper()
	var out []api.JSONMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var m api.JSONMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		out = append(out, m)
	}
	return out
}

func streamText(ms []api.JSONMessage) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Stream)
	}
	return b.String()
}

func (e *env) tags() []string {
	e.t.Helper()
	list, err := e.client.ImageList(ctxT(e.t), client.ImageListOptions{})
	require.NoError(e.t, err)
	var out []string
	for _, im := range list.Items {
		out = append(out, im.RepoTags...)
	}
	return out
}

func TestImagesListFiltersInspectAndHistory(t *testing.T) {
	e := newEnv(t)
	list, err := e.client.ImageList(ctxT(t), client.ImageListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	assert.Equal(t, []string{"busybox:latest"}, list.Items[0].RepoTags)

	count := func(query string) int {
		t.Helper()
		resp, body := e.do(http.MethodGet, "/v1.41/images/json?"+query, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", query, body)
		var items []image.Summary
		require.NoError(t, json.Unmarshal(body, &items))
		return len(items)
	}
	assert.Equal(t, 1, count(`filters={"reference":{"busybox":true}}`))
	assert.Equal(t, 1, count(`filters={"reference":["busy*:latest"]}`))
	assert.Equal(t, 0, count(`filters={"reference":{"alpine":true}}`))
	assert.Equal(t, 0, count(`filters={"dangling":{"true":true}}`))
	assert.Equal(t, 1, count(`filter=busybox`))
	resp, body := e.do(http.MethodGet, `/v1.41/images/json?filters={"since":["x"]}`, nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "invalid filter 'since'")

	info, err := e.client.ImageInspect(ctxT(t), "busybox")
	require.NoError(t, err)
	assert.Equal(t, []string{"busybox:latest"}, info.RepoTags)
	assert.Equal(t, []string{"sh"}, info.Config.Cmd)
	_, err = e.client.ImageInspect(ctxT(t), "nosuch")
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	// API 1.41's fields that the Go types dropped (docker-compose 1.29
	// reads ContainerConfig).
	resp, body = e.do(http.MethodGet, "/v1.41/images/busybox/json", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var legacy map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &legacy))
	assert.Contains(t, legacy, "ContainerConfig")
	assert.Equal(t, fmt.Sprint(info.Size), string(legacy["VirtualSize"]))

	hist, err := e.client.ImageHistory(ctxT(t), "busybox:latest")
	require.NoError(t, err)
	require.Len(t, hist.Items, 2)
	assert.Equal(t, info.ID, hist.Items[0].ID)
	assert.Equal(t, "<missing>", hist.Items[1].ID)
}

func TestTagNormalizesNamesAndPathsHoldSlashes(t *testing.T) {
	e := newEnv(t)
	// docker 28 sends the full name, docker 20.10 the familiar one.
	for _, q := range []string{"repo=docker.io/library/foo&tag=1", "repo=bar", "repo=example.com/team/app&tag=2", "repo=baz:3"} {
		resp, body := e.do(http.MethodPost, "/v1.41/images/busybox/tag?"+q, nil)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s: %s", q, body)
	}
	assert.ElementsMatch(t, []string{"busybox:latest", "foo:1", "bar:latest", "example.com/team/app:2", "baz:3"}, e.tags())

	resp, body := e.do(http.MethodGet, "/v1.41/images/example.com/team/app:2/json", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	resp, body = e.do(http.MethodGet, "/v1.41/images/example.com/team/app:2/history", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)

	for q, want := range map[string]string{
		"repo=":                   "repository name (repo) is missing",
		"repo=UPPER":              "invalid reference",
		"repo=foo:1&tag=2":        "has a tag and tag=",
		"repo=foo&tag=bad%20tag!": "invalid tag",
	} {
		resp, body := e.do(http.MethodPost, "/v1.41/images/busybox/tag?"+q, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		assert.Contains(t, message(t, resp, body), want, q)
	}
	_, err := e.client.ImageTag(ctxT(t), client.ImageTagOptions{Source: "nosuch", Target: "x"})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
}

func TestS31_RemoveImagesUntagsThenDeletes(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.ImageTag(ctxT(t), client.ImageTagOptions{Source: "busybox", Target: "second:1"})
	require.NoError(t, err)
	res, err := e.client.ImageRemove(ctxT(t), "second:1", client.ImageRemoveOptions{})
	require.NoError(t, err)
	assert.Equal(t, []image.DeleteResponse{{Untagged: "second:1"}}, res.Items)

	e.create("user", container.Config{}, "true")
	_, err = e.client.ImageRemove(ctxT(t), "busybox", client.ImageRemoveOptions{})
	assert.True(t, errdefs.IsConflict(err), "an image a container uses: %v", err)

	res, err = e.client.ImageRemove(ctxT(t), "busybox", client.ImageRemoveOptions{Force: true})
	require.NoError(t, err)
	require.Len(t, res.Items, 2)
	assert.Equal(t, "busybox:latest", res.Items[0].Untagged)
	assert.Contains(t, res.Items[1].Deleted, "sha256:")
	assert.Empty(t, e.tags())
	_, err = e.client.ImageRemove(ctxT(t), "busybox", client.ImageRemoveOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
}

func TestS30_CommitMakesAnImageOfTheContainer(t *testing.T) {
	e := newEnv(t)
	id := e.create("worker", container.Config{}, "touch", "/result")
	e.start(id)
	e.wait(id)

	// The docker CLI sends "null" when no config is given.
	resp, body := e.do(http.MethodPost, "/v1.41/commit?container=worker&repo=docker.io/library/snap&tag=1&comment=first&changes=CMD+%5B%22ls%22%5D",
		strings.NewReader("null"), "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	var committed struct {
		ID string `json:"Id"`
	}
	require.NoError(t, json.Unmarshal(body, &committed))
	assert.Contains(t, committed.ID, "sha256:")

	info, err := e.client.ImageInspect(ctxT(t), "snap:1")
	require.NoError(t, err)
	assert.Equal(t, committed.ID, info.ID)
	assert.Equal(t, []string{"ls"}, info.Config.Cmd, "the change was applied")
	assert.Equal(t, "first", info.Comment)

	// A container of the new image has the file the first one wrote.
	run := e.create("reader", container.Config{Image: "snap:1"})
	_, err = e.client.ContainerRemove(ctxT(t), run, client.ContainerRemoveOptions{})
	require.NoError(t, err)
	res, err := e.client.ContainerCommit(ctxT(t), "worker", client.ContainerCommitOptions{
		Reference: "snap:2", Config: &container.Config{Labels: map[string]string{"by": "test"}},
	})
	require.NoError(t, err)
	info, err = e.client.ImageInspect(ctxT(t), res.ID)
	require.NoError(t, err)
	assert.Equal(t, "test", info.Config.Labels["by"])

	resp, body = e.do(http.MethodPost, "/v1.41/commit?repo=x", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "no container")
	resp, body = e.do(http.MethodPost, "/v1.41/commit?container=worker", strings.NewReader(`{"Cmd":`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "malformed JSON")
}

func TestS32_ImportAnswersAJSONStream(t *testing.T) {
	e := newEnv(t)
	rootfs := tarOf(t, map[string]string{"bin/tool": "x", "etc/motd": "hi\n"})
	resp, body := e.do(http.MethodPost, "/v1.41/images/create?fromSrc=-&repo=flat:1&message=imported&changes=CMD+%5B%22cat%22%2C%22%2Fetc%2Fmotd%22%5D",
		bytes.NewReader(rootfs), "Content-Type", "application/x-tar")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "exactly, or the CLI prints the body raw")
	ms := messages(t, body)
	require.NotEmpty(t, ms)
	id := ms[len(ms)-1].Status
	assert.Contains(t, id, "sha256:")

	info, err := e.client.ImageInspect(ctxT(t), "flat:1")
	require.NoError(t, err)
	assert.Equal(t, id, info.ID)
	assert.Equal(t, []string{"cat", "/etc/motd"}, info.Config.Cmd)

	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromSrc=-", strings.NewReader("this is not a tar, but it is longer than one tar block of 512 bytes"+strings.Repeat(".", 600)))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an error before any progress keeps its status")
	assert.Contains(t, message(t, resp, body), "archive")

	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=alpine&tag=3", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a pull of what no registry has")
	assert.Equal(t, "manifest for alpine:3 not found: manifest unknown: manifest unknown", message(t, resp, body))
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromImage=alpine&fromSrc=-", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "cannot be given together")
	resp, body = e.do(http.MethodPost, "/v1.41/images/create?fromSrc=http://example.com/x.tar", nil)
	assert.Equal(t, http.StatusNotImplemented, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "fromSrc=-")
	resp, body = e.do(http.MethodPost, "/v1.41/images/create", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "fromSrc")
}

func TestS33_SaveThenLoadGivesTheImagesBack(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.ImageTag(ctxT(t), client.ImageTagOptions{Source: "busybox", Target: "copy:1"})
	require.NoError(t, err)
	before, err := e.client.ImageHistory(ctxT(t), "busybox")
	require.NoError(t, err)

	resp, archive := e.do(http.MethodGet, "/v1.41/images/get?names=busybox&names=copy:1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", archive)
	assert.Equal(t, "application/x-tar", resp.Header.Get("Content-Type"))

	info, err := e.client.ImageInspect(ctxT(t), "busybox")
	require.NoError(t, err)
	res, err := e.client.ImageRemove(ctxT(t), info.ID, client.ImageRemoveOptions{Force: true})
	require.NoError(t, err)
	require.Len(t, res.Items, 3, "two untags and the deletion")
	assert.Empty(t, e.tags())

	resp, body := e.do(http.MethodPost, "/v1.41/images/load?quiet=1", bytes.NewReader(archive), "Content-Type", "application/x-tar")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	text := streamText(messages(t, body))
	assert.Contains(t, text, "Loaded image: busybox:latest\n")
	assert.Contains(t, text, "Loaded image: copy:1\n")
	assert.ElementsMatch(t, []string{"busybox:latest", "copy:1"}, e.tags())
	after, err := e.client.ImageHistory(ctxT(t), "busybox")
	require.NoError(t, err)
	assert.Equal(t, before.Items, after.Items, "the history survives")

	resp, body = e.do(http.MethodGet, "/v1.41/images/get?names=nosuch", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "No such image: nosuch", message(t, resp, body))
	resp, body = e.do(http.MethodGet, "/v1.41/images/busybox/get", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the one-image form")
	assert.NotEmpty(t, body)
	resp, body = e.do(http.MethodGet, "/v1.41/images/get", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), "names")
}

func TestS5_BuildStreamsStepsAndTagsTheImage(t *testing.T) {
	e := newEnv(t)
	ctx := tarOf(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo building; touch /built\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
		"hello.txt":  "hello\n",
	})
	res, err := e.client.ImageBuild(ctxT(t), bytes.NewReader(ctx), client.ImageBuildOptions{Tags: []string{"built:1", "docker.io/library/built:2"}, Remove: true})
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	ms := messages(t, body)
	text := streamText(ms)
	assert.Contains(t, text, "Step 1/4 : FROM busybox\n")
	assert.Contains(t, text, "building\n")
	assert.Contains(t, text, "Successfully built ")
	assert.Contains(t, text, "Successfully tagged built:1\n")
	assert.Contains(t, text, "Successfully tagged built:2\n", "tags arrive normalized")
	var aux struct{ ID string }
	for _, m := range ms {
		if m.Aux != nil {
			raw, _ := json.Marshal(m.Aux)
			require.NoError(t, json.Unmarshal(raw, &aux))
		}
	}
	info, err := e.client.ImageInspect(ctxT(t), "built:1")
	require.NoError(t, err)
	assert.Equal(t, info.ID, aux.ID, "the aux message carries the image ID")
	assert.Equal(t, []string{"cat", "/hello.txt"}, info.Config.Cmd)
}

func TestBuildErrorsInBandAndBadOptionsBefore(t *testing.T) {
	e := newEnv(t)
	failing := tarOf(t, map[string]string{"Dockerfile": "FROM busybox\nRUN false\n"})
	resp, body := e.do(http.MethodPost, "/v1.41/build?t=broken", bytes.NewReader(failing), "Content-Type", "application/x-tar")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the status went out with the first step")
	ms := messages(t, body)
	last := ms[len(ms)-1]
	require.NotNil(t, last.ErrorDetail, "the error travels in band: %s", body)
	assert.Equal(t, "The command '/bin/sh -c false' returned a non-zero code: 1", last.ErrorDetail.Message)
	assert.Equal(t, last.ErrorDetail.Message, last.Error)
	assert.NotContains(t, e.tags(), "broken:latest")

	for q, want := range map[string]string{
		"buildargs=%7Bnot":  "invalid buildargs",
		"labels=%5B1%5D":    "invalid labels",
		"t=Bad:Name":        "invalid reference",
		"version=2":         "only the classic builder",
		"remote=http://x/y": "not from a remote URL",
	} {
		resp, body := e.do(http.MethodPost, "/v1.41/build?"+q, bytes.NewReader(failing), "Content-Type", "application/x-tar")
		require.GreaterOrEqual(t, resp.StatusCode, 400, q)
		assert.Contains(t, message(t, resp, body), want, q)
	}

	resp, body = e.do(http.MethodPost, "/v1.41/build?dockerfile=Other", bytes.NewReader(failing), "Content-Type", "application/x-tar")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "an error before the first message is an HTTP error")
	assert.Contains(t, message(t, resp, body), "Cannot locate specified Dockerfile: Other")
}

// partialLoader reads only the start of a load's body and stops, as a
// tar reader stops at the end-of-archive blocks before the padding.
type partialLoader struct{ *apitest.Fake }

func (partialLoader) ImageLoad(_ context.Context, src io.Reader, _ bool, out api.JSONStream) error {
	if _, err := io.ReadFull(src, make([]byte, 10)); err != nil {
		return err
	}
	return out.Write(api.JSONMessage{Stream: "Loaded image: x:latest\n"})
}

// A load whose backend leaves the end of the body unread must not crash
// the server's next read on the kept-alive connection ("http: panic
// serving: invalid concurrent Body.Read call", logged after every docker
// load before the fix).
func TestALoadThatLeavesPaddingUnreadKeepsTheConnectionSound(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	e := newEnvWith(t, partialLoader{apitest.NewFake()}, api.Options{Version: "test", Logger: logger})
	hc := e.http()
	for i := range 3 {
		req, err := http.NewRequest(http.MethodPost, "http://berth/v1.41/images/load?quiet=1", bytes.NewReader(make([]byte, 4096)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-tar")
		resp, err := hc.Do(req)
		require.NoError(t, err, "load %d", i)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, string(body), "Loaded image: x:latest", "load %d", i)
	}
	resp, err := hc.Get("http://berth/_ping")
	require.NoError(t, err)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	assert.NotContains(t, logged.String(), "panic")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
