package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/api/apitest"
)

func TestS22_CreateStartWaitInspectRemove(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(http.MethodPost, "/v1.41/containers/create?name=web",
		strings.NewReader(`{"Image":"busybox","Cmd":["echo","hi"],"HostConfig":{"AutoRemove":false}}`),
		"Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	var created struct {
		ID       string `json:"Id"`
		Warnings []string
	}
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Len(t, created.ID, 64)
	assert.NotNil(t, created.Warnings, "Warnings is [] rather than null")

	info, err := e.client.ContainerInspect(ctxT(t), "web", client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "/web", info.Container.Name)
	assert.Equal(t, container.StateCreated, info.Container.State.Status)
	assert.Equal(t, []string{"echo", "hi"}, info.Container.Config.Cmd)

	resp, _ = e.do(http.MethodPost, "/v1.41/containers/web/start", nil)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, int64(0), e.wait(created.ID))
	info, err = e.client.ContainerInspect(ctxT(t), created.ID[:12], client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, container.StateExited, info.Container.State.Status)

	// Stopping a stopped container is "not modified": 304, no body.
	resp, body = e.do(http.MethodPost, "/v1.41/containers/web/stop", nil)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)

	resp, _ = e.do(http.MethodDelete, "/v1.41/containers/web", nil)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, err = e.client.ContainerInspect(ctxT(t), "web", client.ContainerInspectOptions{})
	assert.True(t, errdefs.IsNotFound(err), "inspect after rm: %v", err)
}

func TestStartingARunningContainerIsNotModified(t *testing.T) {
	e := newEnv(t)
	id := e.create("sleeper", container.Config{}, "sleep", "infinity")
	e.start(id)
	resp, body := e.do(http.MethodPost, "/containers/sleeper/start", nil)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
}

func TestCreateErrorsHaveTheirStatus(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.ContainerCreate(ctxT(t), client.ContainerCreateOptions{Config: &container.Config{Image: "nosuch"}})
	assert.True(t, errdefs.IsNotFound(err), "unknown image: %v", err)
	assert.ErrorContains(t, err, "No such image: nosuch")

	e.create("taken", container.Config{}, "true")
	_, err = e.client.ContainerCreate(ctxT(t), client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"}, Name: "taken"})
	assert.True(t, errdefs.IsConflict(err), "duplicate name: %v", err)
	assert.ErrorContains(t, err, `The container name "/taken" is already in use`)

	for _, body := range []string{"", "null", "{}"} {
		resp, data := e.do(http.MethodPost, "/containers/create", strings.NewReader(body), "Content-Type", "application/json")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body %q", body)
		if body != "{}" {
			assert.Equal(t, "config cannot be empty in order to create a container", message(t, resp, data))
		}
	}
}

func TestS29_RemovingARunningContainerIsAConflict(t *testing.T) {
	e := newEnv(t)
	id := e.create("busy", container.Config{}, "sleep", "infinity")
	e.start(id)
	_, err := e.client.ContainerRemove(ctxT(t), "busy", client.ContainerRemoveOptions{})
	require.True(t, errdefs.IsConflict(err), "rm running: %v", err)
	assert.ErrorContains(t, err, "Stop the container before attempting removal or force remove")

	_, err = e.client.ContainerRemove(ctxT(t), "busy", client.ContainerRemoveOptions{Force: true})
	require.NoError(t, err)
	_, err = e.client.ContainerRemove(ctxT(t), "busy", client.ContainerRemoveOptions{})
	assert.True(t, errdefs.IsNotFound(err), "rm twice: %v", err)

	// With link=1 the name is a link, /LINKER/ALIAS: a bare name is
	// the container's own, which is no link to remove.
	resp, body := e.do(http.MethodDelete, "/containers/nosuch?link=1", nil)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "Conflict, cannot remove the default link name of the container", message(t, resp, body))
}

func TestS28_StopSignalsAndKillEndsAtOnce(t *testing.T) {
	e := newEnv(t)
	id := e.create("stopme", container.Config{}, "sleep", "infinity")
	e.start(id)
	timeout := 1
	_, err := e.client.ContainerStop(ctxT(t), id, client.ContainerStopOptions{Timeout: &timeout})
	require.NoError(t, err)
	assert.Equal(t, int64(128+15), e.wait(id), "stopped by SIGTERM")

	resp, _ := e.do(http.MethodPost, "/containers/stopme/restart?t=1", nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = e.do(http.MethodPost, "/containers/stopme/stop?signal=SIGINT", nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, int64(128+2), e.wait(id), "stopped by the signal asked for")

	e.start(id)
	_, err = e.client.ContainerKill(ctxT(t), id, client.ContainerKillOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(128+9), e.wait(id), "killed by SIGKILL")

	_, err = e.client.ContainerKill(ctxT(t), id, client.ContainerKillOptions{})
	assert.True(t, errdefs.IsConflict(err), "kill a stopped container: %v", err)

	e.start(id)
	resp, body := e.do(http.MethodPost, "/containers/stopme/kill?signal=NOSUCH", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "invalid signal: NOSUCH", message(t, resp, body))
	resp, body = e.do(http.MethodPost, "/containers/stopme/stop?t=soon", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `"t"`)
}

// The docker client sends the wait before the start and blocks until the
// answer's header arrives: the header must come at once, the body at the
// exit.
func TestWaitSendsItsHeaderBeforeTheContainerExits(t *testing.T) {
	e := newEnv(t)
	id := e.create("waited", container.Config{}, "sleep", "infinity")
	e.start(id)

	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://berth/v1.41/containers/waited/wait?condition=next-exit", nil)
	require.NoError(t, err)
	resp, err := e.http().Do(req) // returns when the header is in
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	info, err := e.client.ContainerInspect(ctxT(t), id, client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.True(t, info.Container.State.Running, "the header came while the container still runs")

	_, err = e.client.ContainerKill(ctxT(t), id, client.ContainerKillOptions{Signal: "TERM"})
	require.NoError(t, err)
	var res container.WaitResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	assert.Equal(t, int64(143), res.StatusCode)
}

func TestWaitForRemovalAndBadConditions(t *testing.T) {
	e := newEnv(t)
	id := e.create("doomed", container.Config{}, "sleep", "infinity")
	e.start(id)
	res := e.client.ContainerWait(ctxT(t), id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	_, err := e.client.ContainerRemove(ctxT(t), id, client.ContainerRemoveOptions{Force: true})
	require.NoError(t, err)
	select {
	case r := <-res.Result:
		assert.Equal(t, int64(137), r.StatusCode)
	case err := <-res.Error:
		t.Fatal(err)
	}

	resp, body := e.do(http.MethodPost, "/containers/doomed/wait", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "No such container: doomed", message(t, resp, body))

	e.create("other", container.Config{}, "true")
	resp, body = e.do(http.MethodPost, "/containers/other/wait?condition=whenever", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `invalid condition "whenever"`)
}

// attach connects to a container with the official client.
func (e *env) attach(id string, opts client.ContainerAttachOptions) client.HijackedResponse {
	e.t.Helper()
	res, err := e.client.ContainerAttach(ctxT(e.t), id, opts)
	require.NoError(e.t, err)
	e.t.Cleanup(res.Close)
	return res.HijackedResponse
}

func TestS15_AttachBeforeStartGetsAllOutputInFrames(t *testing.T) {
	e := newEnv(t)
	// docker run: create, attach, wait, start. Whatever the container
	// writes after the attach was answered must arrive, every time.
	for i := range 10 {
		id := e.create(fmt.Sprintf("run%d", i), container.Config{}, "sh", "-c", "echo out; echo err >&2; exit 3")
		hj := e.attach(id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
		mediaType, ok := hj.MediaType()
		require.True(t, ok)
		assert.Equal(t, types.MediaTypeRawStream, mediaType, "before API 1.42 both kinds are raw-stream")
		e.start(id)
		out, errOut := demux(t, hj.Reader)
		assert.Equal(t, "out\n", out)
		assert.Equal(t, "err\n", errOut)
		assert.Equal(t, int64(3), e.wait(id))
	}
}

func TestAttachStdinHalfCloseEndsInputNotOutput(t *testing.T) {
	e := newEnv(t)
	// A program that answers only after its input has ended: output
	// must still flow after the client's half-close.
	e.fake.SetProgram("count", func(_ context.Context, p *apitest.Proc) int {
		data, _ := io.ReadAll(p.Stdin)
		time.Sleep(50 * time.Millisecond)
		fmt.Fprintf(p.Stdout, "read %d bytes: %s", len(data), data)
		return 7
	})
	id := e.create("counter", container.Config{OpenStdin: true, StdinOnce: true, AttachStdin: true}, "count")
	hj := e.attach(id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	e.start(id)
	_, err := hj.Conn.Write([]byte("hello\n"))
	require.NoError(t, err)
	require.NoError(t, hj.CloseWrite())
	out, _ := demux(t, hj.Reader) // until the server closes the stream
	assert.Equal(t, "read 6 bytes: hello\n", out)
	assert.Equal(t, int64(7), e.wait(id))
}

func TestAttachToATerminalIsRaw(t *testing.T) {
	e := newEnv(t)
	id := e.create("tty", container.Config{Tty: true}, "sh", "-c", "echo out; echo err >&2")
	hj := e.attach(id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	e.start(id)
	data, err := io.ReadAll(hj.Reader)
	require.NoError(t, err)
	assert.Equal(t, "out\nerr\n", string(data), "no frames, and stderr is the terminal too")
}

func TestMultiplexedStreamTypeFromAPI142(t *testing.T) {
	e := newEnvWith(t, apitest.NewFake(), api.Options{APIVersion: "1.44"})
	for _, tty := range []bool{false, true} {
		id := e.create("", container.Config{Tty: tty}, "echo", "hi")
		hj := e.attach(id, client.ContainerAttachOptions{Stream: true, Stdout: true})
		mediaType, _ := hj.MediaType()
		if tty {
			assert.Equal(t, types.MediaTypeRawStream, mediaType)
		} else {
			assert.Equal(t, types.MediaTypeMultiplexedStream, mediaType)
		}
	}
}

func TestAttachWithoutUpgradeIsAPlainStream(t *testing.T) {
	e := newEnv(t)
	id := e.create("plain", container.Config{}, "echo", "plain")
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://berth/v1.41/containers/plain/attach?stream=1&stdout=1", nil)
	require.NoError(t, err)
	resp, err := e.http().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, types.MediaTypeRawStream, resp.Header.Get("Content-Type"))
	e.start(id)
	out, _ := demux(t, resp.Body)
	assert.Equal(t, "plain\n", out)
}

func TestAttachErrorsComeBeforeTheUpgrade(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(http.MethodPost, "/v1.41/containers/nosuch/attach?stream=1", nil, "Connection", "Upgrade", "Upgrade", "tcp")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "No such container: nosuch", message(t, resp, body))

	e.create("some", container.Config{}, "true")
	resp, body = e.do(http.MethodPost, "/v1.41/containers/some/attach?stream=1", nil, "Connection", "Upgrade", "Upgrade", "h2c")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `"h2c"`)
}

// A backend that never says it is attached still gets an answer (late),
// and one that fails before attaching gets an HTTP error on the
// hijacked connection.
type slowAttach struct{ *apitest.Fake }

func (s slowAttach) ContainerAttach(ctx context.Context, name string, opts api.AttachOptions) error {
	if name == "failing" {
		return errdefs.ErrConflict.WithMessage("cannot attach to a paused container")
	}
	opts.Attached = nil
	return s.Fake.ContainerAttach(ctx, name, opts)
}

func TestAttachAnswersEvenWithoutTheAttachedCall(t *testing.T) {
	e := newEnvWith(t, slowAttach{apitest.NewFake()}, api.Options{})
	id := e.create("quiet", container.Config{}, "echo", "late")
	start := time.Now()
	hj := e.attach(id, client.ContainerAttachOptions{Stream: true, Stdout: true})
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "answered after the grace period")
	e.start(id)
	out, _ := demux(t, hj.Reader)
	assert.Equal(t, "late\n", out)

	e.create("failing", container.Config{}, "true")
	_, err := e.client.ContainerAttach(ctxT(t), "failing", client.ContainerAttachOptions{Stream: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "409", "an HTTP error, written on the hijacked connection")
}

var timestamped = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (.*)$`)

func TestS35_LogsTailTimestampsSinceAndStreams(t *testing.T) {
	e := newEnv(t)
	id := e.create("talker", container.Config{}, "sh", "-c", "echo one; echo two; echo three >&2")
	e.start(id)
	e.wait(id)
	logs := func(opts client.ContainerLogsOptions) (string, string) {
		t.Helper()
		r, err := e.client.ContainerLogs(ctxT(t), id, opts)
		require.NoError(t, err)
		defer r.Close()
		return demux(t, r)
	}
	out, errOut := logs(client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	assert.Equal(t, "one\ntwo\n", out)
	assert.Equal(t, "three\n", errOut)

	out, errOut = logs(client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "1"})
	assert.Equal(t, "", out)
	assert.Equal(t, "three\n", errOut)

	out, errOut = logs(client.ContainerLogsOptions{ShowStdout: true})
	assert.Equal(t, "one\ntwo\n", out)
	assert.Empty(t, errOut, "stderr was not asked for")

	out, _ = logs(client.ContainerLogsOptions{ShowStdout: true, Timestamps: true})
	for i, l := range lines(out) {
		m := timestamped.FindStringSubmatch(l)
		require.NotNil(t, m, "line %q has a fixed-width RFC 3339 timestamp", l)
		assert.Equal(t, []string{"one", "two"}[i], m[1])
	}

	out, _ = logs(client.ContainerLogsOptions{ShowStdout: true, Since: strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)})
	assert.Empty(t, out, "nothing since the future")
	out, _ = logs(client.ContainerLogsOptions{ShowStdout: true, Until: "1.5"})
	assert.Empty(t, out, "nothing until 1970")

	for query, want := range map[string]string{
		"stdout=0&stderr=0":  "you must choose at least one stream",
		"stdout=1&tail=some": `invalid value for "tail"`,
		"stdout=1&since=yes": `invalid value for "since"`,
		"stdout=1&until=1.x": `invalid value for "until"`,
	} {
		resp, body := e.do(http.MethodGet, "/v1.41/containers/talker/logs?"+query, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, query)
		assert.Contains(t, message(t, resp, body), want, query)
	}
	resp, body := e.do(http.MethodGet, "/v1.41/containers/nosuch/logs?stdout=1", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "No such container: nosuch", message(t, resp, body))
}

func TestS35_LogsFollowStreamsUntilTheContainerStops(t *testing.T) {
	e := newEnv(t)
	next := make(chan struct{})
	e.fake.SetProgram("ticker", func(ctx context.Context, p *apitest.Proc) int {
		fmt.Fprintln(p.Stdout, "first")
		select {
		case <-next:
		case <-ctx.Done():
			return 1
		}
		fmt.Fprintln(p.Stdout, "second")
		return 0
	})
	id := e.create("ticking", container.Config{}, "ticker")
	e.start(id)
	r, err := e.client.ContainerLogs(ctxT(t), id, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	require.NoError(t, err)
	defer r.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := demuxTo(pw, r)
		pw.CloseWithError(err)
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "first\n", line, "delivered while the container runs")
	close(next)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", line)
	_, err = br.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF, "the stream ends when the container stops")
}

func TestLogsOfATerminalAreRaw(t *testing.T) {
	e := newEnv(t)
	id := e.create("ttylog", container.Config{Tty: true}, "echo", "raw")
	e.start(id)
	e.wait(id)
	resp, body := e.do(http.MethodGet, "/v1.41/containers/ttylog/logs?stdout=1&stderr=1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, types.MediaTypeRawStream, resp.Header.Get("Content-Type"))
	assert.Equal(t, "raw\n", string(body))
}

func TestS36_TopListsTheProcesses(t *testing.T) {
	e := newEnv(t)
	id := e.create("topped", container.Config{}, "sleep", "infinity")
	_, err := e.client.ContainerTop(ctxT(t), id, client.ContainerTopOptions{})
	assert.True(t, errdefs.IsConflict(err), "top of a container that does not run: %v", err)
	e.start(id)
	top, err := e.client.ContainerTop(ctxT(t), id, client.ContainerTopOptions{Arguments: []string{"-ef"}})
	require.NoError(t, err)
	assert.Contains(t, top.Titles, "PID")
	assert.Contains(t, top.Titles, "CMD")
	require.Len(t, top.Processes, 1)
	assert.Equal(t, "sleep infinity", top.Processes[0][len(top.Processes[0])-1])
}

func TestResizeChecksItsDimensions(t *testing.T) {
	e := newEnv(t)
	id := e.create("sized", container.Config{Tty: true}, "sleep", "infinity")
	e.start(id)
	_, err := e.client.ContainerResize(ctxT(t), id, client.ContainerResizeOptions{Height: 40, Width: 120})
	require.NoError(t, err)
	resp, body := e.do(http.MethodPost, "/containers/sized/resize?h=40&w=wide", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, message(t, resp, body), `"w"`)
	_, err = e.client.ContainerResize(ctxT(t), "nosuch", client.ContainerResizeOptions{Height: 1, Width: 1})
	assert.True(t, errdefs.IsNotFound(err))
}

func TestS32_ExportIsATarOfTheContainersFiles(t *testing.T) {
	e := newEnv(t)
	id := e.create("exported", container.Config{}, "touch", "/made-here")
	e.start(id)
	e.wait(id)
	r, err := e.client.ContainerExport(ctxT(t), id, client.ContainerExportOptions{})
	require.NoError(t, err)
	defer r.Close()
	names := labtest.TarNames(t, r)
	assert.Contains(t, names, "made-here")
	assert.Contains(t, names, "etc/passwd")

	resp, body := e.do(http.MethodGet, "/containers/nosuch/export", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an error before the first byte keeps its status")
	assert.Equal(t, "No such container: nosuch", message(t, resp, body))
}

func TestChangesListWhatTheContainerWrote(t *testing.T) {
	e := newEnv(t)
	id := e.create("changer", container.Config{}, "sh", "-c", "touch /new; rm /etc/hostname")
	e.start(id)
	e.wait(id)
	diff, err := e.client.ContainerDiff(ctxT(t), id, client.ContainerDiffOptions{})
	require.NoError(t, err)
	assert.Equal(t, []container.FilesystemChange{
		{Kind: container.ChangeDelete, Path: "/etc/hostname"},
		{Kind: container.ChangeAdd, Path: "/new"},
	}, diff.Changes)
}

func TestListFiltersBothFormsAndLimit(t *testing.T) {
	e := newEnv(t)
	e.create("web1", container.Config{Labels: map[string]string{"tier": "front", "app": "shop"}}, "true")
	e.create("db", container.Config{Labels: map[string]string{"app": "shop"}}, "true")
	running := e.create("web2", container.Config{}, "sleep", "infinity")
	e.start(running)

	list := func(query string) []container.Summary {
		t.Helper()
		resp, body := e.do(http.MethodGet, "/v1.41/containers/json?"+query, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", query, body)
		var out []container.Summary
		require.NoError(t, json.Unmarshal(body, &out))
		return out
	}
	names := func(list []container.Summary) []string {
		var out []string
		for _, c := range list {
			out = append(out, c.Names...)
		}
		return out
	}
	assert.Equal(t, []string{"/web2"}, names(list("")), "running ones by default")
	assert.ElementsMatch(t, []string{"/web1", "/db", "/web2"}, names(list("all=1")))
	assert.ElementsMatch(t, []string{"/web1", "/web2"}, names(list(`all=1&filters={"name":{"web":true}}`)))
	assert.ElementsMatch(t, []string{"/web1", "/web2"}, names(list(`all=1&filters={"name":["web"]}`)), "the old list form")
	assert.Equal(t, []string{"/web1"}, names(list(`all=1&filters={"label":{"tier=front":true}}`)))
	assert.Equal(t, []string{"/web1"}, names(list(`all=1&filters={"label":{"tier=front":true,"app=shop":true}}`)), "labels: all of them")
	assert.Empty(t, names(list(`all=1&filters={"label":{"tier=back":true,"app=shop":true}}`)), "labels: all of them")
	assert.Len(t, list("all=1&limit=2"), 2)

	for query, want := range map[string]string{
		"filters=nojson":                "invalid filters",
		`filters={"name":"web"}`:        `the values of "name"`,
		`all=1&filters={"color":["x"]}`: "invalid filter 'color'",
		"limit=many":                    `"limit"`,
	} {
		resp, body := e.do(http.MethodGet, "/v1.41/containers/json?"+query, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, query)
		assert.Contains(t, message(t, resp, body), want, query)
	}
}
