package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// Target is one engine under test: the unix socket its API is served on.
type Target struct {
	Socket string
}

// Behaviour is one thing every engine must do as the daemon does.
type Behaviour struct {
	Name string
	Test func(t *testing.T, e *Engine)
}

// Behaviours is the suite, in the order Run runs it.
var Behaviours = slices.Concat(containerBehaviours, objectBehaviours)

// Run runs every behaviour as a subtest of t, each against the target
// that newTarget returns for it (a new engine, or a shared one).
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	for _, b := range Behaviours {
		t.Run(b.Name, func(t *testing.T) {
			b.Test(t, newEngine(t, newTarget(t)))
		})
	}
}

// Engine is a behaviour's view of a target: requests, and cleanup of
// what the behaviour made.
type Engine struct {
	t    *testing.T
	http *http.Client
}

func newEngine(t *testing.T, target Target) *Engine {
	e := &Engine{t: t, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", target.Socket)
		},
	}}}
	t.Cleanup(e.http.CloseIdleConnections)
	return e
}

// Answer is a response: its status and its body, and the message of an
// error body ({"message": ...}).
type Answer struct {
	Status  int
	Body    []byte
	Message string
}

// Do sends a request to the API (path without the version) with body
// as JSON, or as a tar when it is a []byte (nil: none).
func (e *Engine) Do(method, path string, body any) Answer {
	e.t.Helper()
	var r io.Reader
	contentType := "application/json"
	switch body := body.(type) {
	case nil:
	case []byte: // a tar
		r, contentType = bytes.NewReader(body), "application/x-tar"
	default:
		data, err := json.Marshal(body)
		require.NoError(e.t, err)
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://berth/v1.41"+path, r)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Do(req)
	require.NoError(e.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	a := Answer{Status: resp.StatusCode, Body: data}
	if resp.StatusCode >= 400 {
		var m struct{ Message string }
		require.NoError(e.t, json.Unmarshal(data, &m), "an error answer is JSON: %q", data)
		a.Message = m.Message
	}
	return a
}

// Begin sends a request without a body and requires a 200 with its
// headers; the function returned reads the body, which may come later
// (a wait's result).
func (e *Engine) Begin(method, path string) func() []byte {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, err := http.NewRequestWithContext(ctx, method, "http://berth/v1.41"+path, nil)
	require.NoError(e.t, err)
	resp, err := e.http.Do(req)
	require.NoError(e.t, err, "%s %s", method, path)
	require.Equal(e.t, http.StatusOK, resp.StatusCode, "%s %s", method, path)
	return func() []byte {
		e.t.Helper()
		defer cancel()
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(e.t, err)
		return data
	}
}

// Expect sends a request and requires the status (and, for an error,
// the message); it returns the body.
func (e *Engine) Expect(status int, message string, method, path string, body any) []byte {
	e.t.Helper()
	a := e.Do(method, path, body)
	require.Equal(e.t, status, a.Status, "%s %s: %s", method, path, a.Body)
	if status >= 400 {
		require.Equal(e.t, message, a.Message, "%s %s", method, path)
	}
	return a.Body
}

// Decode decodes a JSON body into v.
func (e *Engine) Decode(body []byte, v any) {
	e.t.Helper()
	require.NoError(e.t, json.Unmarshal(body, v), "%s", body)
}

// Unique is a name no other behaviour or test uses.
func Unique(prefix string) string { return labtest.Unique("contract-" + prefix) }

// q escapes a query value.
func q(s string) string { return url.QueryEscape(s) }

// Create makes a container of busybox running argv, with no network
// (network mode "none"), named name ("" lets the engine name it), and
// removes it when the test ends.
func (e *Engine) Create(name string, argv ...string) string {
	e.t.Helper()
	return e.CreateWith(name, map[string]any{"Image": "busybox:latest", "Cmd": argv,
		"HostConfig": map[string]any{"NetworkMode": "none"}})
}

// CreateWith is Create with the request's body.
func (e *Engine) CreateWith(name string, req map[string]any) string {
	e.t.Helper()
	path := "/containers/create"
	if name != "" {
		path += "?name=" + q(name)
	}
	var out struct{ Id string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", path, req), &out)
	require.Len(e.t, out.Id, 64)
	e.t.Cleanup(func() { e.Do("DELETE", "/containers/"+out.Id+"?force=1&v=1", nil) })
	return out.Id
}

// Running makes a container that runs until it is killed.
func (e *Engine) Running(name string) string {
	e.t.Helper()
	id := e.Create(name, "sleep", "1000")
	e.Expect(http.StatusNoContent, "", "POST", "/containers/"+id+"/start", nil)
	return id
}

// Exited makes a container that ran `sh -c "exit code"` and has exited.
func (e *Engine) Exited(name string, code string) string {
	e.t.Helper()
	id := e.Create(name, "sh", "-c", "exit "+code)
	e.Expect(http.StatusNoContent, "", "POST", "/containers/"+id+"/start", nil)
	e.Wait(id, "not-running")
	return id
}

// Wait waits for the container's condition and returns the exit code.
func (e *Engine) Wait(id, condition string) int {
	e.t.Helper()
	var out struct{ StatusCode int }
	e.Decode(e.Expect(http.StatusOK, "", "POST", "/containers/"+id+"/wait?condition="+condition, nil), &out)
	return out.StatusCode
}

// State is the part of a container's inspect the behaviours look at.
type State struct {
	Name  string
	State struct {
		Status   string
		Running  bool
		Paused   bool
		ExitCode int
		Error    string
	}
}

// Inspect inspects container ref.
func (e *Engine) Inspect(ref string) State {
	e.t.Helper()
	var s State
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/containers/"+q(ref)+"/json", nil), &s)
	return s
}

// List lists the containers with the query's filters, as their names.
func (e *Engine) List(all bool, filters map[string][]string) []string {
	e.t.Helper()
	data, err := json.Marshal(filters)
	require.NoError(e.t, err)
	path := "/containers/json?filters=" + q(string(data))
	if all {
		path += "&all=1"
	}
	var out []struct{ Names []string }
	e.Decode(e.Expect(http.StatusOK, "", "GET", path, nil), &out)
	names := []string{}
	for _, c := range out {
		require.NotEmpty(e.t, c.Names)
		names = append(names, strings.TrimPrefix(c.Names[0], "/"))
	}
	slices.Sort(names)
	return names
}
