package contract

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	notModified = http.StatusNotModified
	noContent   = http.StatusNoContent
	badRequest  = http.StatusBadRequest
	notFound    = http.StatusNotFound
	conflict    = http.StatusConflict
)

var containerBehaviours = []Behaviour{
	{"CreateWithUnknownImage", createWithUnknownImage},
	{"CreateWithTakenName", createWithTakenName},
	{"StartStarted", startStarted},
	{"StopStopped", stopStopped},
	{"KillStopped", killStopped},
	{"KillRunning", killRunning},
	{"RemoveRunning", removeRunning},
	{"RemoveRemoved", removeRemoved},
	{"RemoveLinkThatIsNone", removeLinkThatIsNone},
	{"NamesAndIDPrefixes", namesAndIDPrefixes},
	{"AmbiguousIDPrefix", ambiguousIDPrefix},
	{"ListFilters", listFilters},
	{"Rename", rename},
	{"PauseAndUnpause", pauseAndUnpause},
	{"Wait", wait},
	{"ExecOnStopped", execOnStopped},
	{"StartMissingCommand", startMissingCommand},
	{"Restart", restart},
	{"StopPaused", stopPaused},
	{"TopAndLogsOfStopped", topAndLogsOfStopped},
	{"Events", containerEvents},
	{"CopyPaths", copyPaths},
	{"Logs", logs},
}

// docker run of an image the engine does not have: the CLI pulls on a
// 404 whose message says so.
func createWithUnknownImage(t *testing.T, e *Engine) {
	ref := Unique("nosuch") + ":latest"
	e.Expect(notFound, "No such image: "+ref, "POST", "/containers/create",
		map[string]any{"Image": ref, "Cmd": []string{"true"}})
}

func createWithTakenName(t *testing.T, e *Engine) {
	name := Unique("taken")
	id := e.Create(name, "true")
	e.Expect(conflict, `Conflict. The container name "/`+name+`" is already in use by container "`+id+
		`". You have to remove (or rename) that container to be able to reuse that name.`,
		"POST", "/containers/create?name="+name, map[string]any{"Image": "busybox:latest", "Cmd": []string{"true"}})
	// The name taken with its leading slash is the same name.
	e.Expect(conflict, `Conflict. The container name "/`+name+`" is already in use by container "`+id+
		`". You have to remove (or rename) that container to be able to reuse that name.`,
		"POST", "/containers/create?name=/"+name, map[string]any{"Image": "busybox:latest", "Cmd": []string{"true"}})
	for _, bad := range []string{"-bad", "a", "bad name", "bad/name"} {
		e.Expect(badRequest, "Invalid container name ("+bad+"), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			"POST", "/containers/create?name="+q(bad), map[string]any{"Image": "busybox:latest", "Cmd": []string{"true"}})
	}
}

// Starting a running container is not an error: 304, which the CLI
// takes as done.
func startStarted(t *testing.T, e *Engine) {
	id := e.Running("")
	e.Expect(notModified, "", "POST", "/containers/"+id+"/start", nil)
	assert.True(t, e.Inspect(id).State.Running)
}

func stopStopped(t *testing.T, e *Engine) {
	created := e.Create("", "true")
	e.Expect(notModified, "", "POST", "/containers/"+created+"/stop", nil)
	exited := e.Exited("", "0")
	e.Expect(notModified, "", "POST", "/containers/"+exited+"/stop", nil)
	running := e.Running("")
	e.Expect(noContent, "", "POST", "/containers/"+running+"/stop?t=0", nil)
	assert.Equal(t, "exited", e.Inspect(running).State.Status)
	e.Expect(notModified, "", "POST", "/containers/"+running+"/stop", nil)
}

func killStopped(t *testing.T, e *Engine) {
	for _, id := range []string{e.Create("", "true"), e.Exited("", "0")} {
		e.Expect(conflict, "Container "+id+" is not running", "POST", "/containers/"+id+"/kill", nil)
	}
	// The signal is checked first, whatever the container's state.
	id := e.Create("", "true")
	e.Expect(badRequest, "invalid signal: NOSUCH", "POST", "/containers/"+id+"/kill?signal=NOSUCH", nil)
}

// A kill (SIGKILL) returns once the container has ended: the rm that
// follows finds it stopped.
func killRunning(t *testing.T, e *Engine) {
	id := e.Running("")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/kill", nil)
	s := e.Inspect(id)
	assert.Equal(t, "exited", s.State.Status)
	assert.Equal(t, 137, s.State.ExitCode)
	e.Expect(noContent, "", "DELETE", "/containers/"+id, nil)
}

func removeRunning(t *testing.T, e *Engine) {
	name := Unique("rm")
	id := e.Running(name)
	e.Expect(conflict, "You cannot remove a running container "+id+
		". Stop the container before attempting removal or force remove", "DELETE", "/containers/"+name, nil)
	assert.True(t, e.Inspect(id).State.Running)
	e.Expect(noContent, "", "DELETE", "/containers/"+name+"?force=1", nil)
	e.Expect(notFound, "No such container: "+name, "GET", "/containers/"+name+"/json", nil)
}

func removeRemoved(t *testing.T, e *Engine) {
	id := e.Create("", "true")
	e.Expect(noContent, "", "DELETE", "/containers/"+id, nil)
	e.Expect(notFound, "No such container: "+id, "DELETE", "/containers/"+id, nil)
	e.Expect(notFound, "No such container: "+id, "DELETE", "/containers/"+id+"?force=1", nil)
}

// docker rm --link takes /LINKER/ALIAS: a linker without that alias
// is no such container, and a container's own name is no link (the
// container stays).
func removeLinkThatIsNone(t *testing.T, e *Engine) {
	name := Unique("linker")
	e.Create(name, "true")
	e.Expect(notFound, "No such container: "+name+"/db", "DELETE", "/containers//"+name+"/db?link=1", nil)
	e.Expect(conflict, "Conflict, cannot remove the default link name of the container", "DELETE", "/containers/"+name+"?link=1", nil)
	assert.Equal(t, "/"+name, e.Inspect(name).Name)
}

// A container is found by its ID, its name (with or without the
// leading /) and an ID prefix that no other container has.
func namesAndIDPrefixes(t *testing.T, e *Engine) {
	name := Unique("named")
	id := e.Create(name, "true")
	for _, ref := range []string{id, name, "/" + name, uniquePrefix(t, e, id)} {
		s := e.Inspect(ref)
		assert.Equal(t, "/"+name, s.Name, ref)
	}
	e.Expect(notFound, "No such container: "+name+"x", "GET", "/containers/"+name+"x/json", nil)
}

// uniquePrefix is the shortest prefix of id that no other container's
// ID starts with.
func uniquePrefix(t *testing.T, e *Engine, id string) string {
	var out []struct{ Id string }
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/containers/json?all=1", nil), &out)
	for n := 1; n < len(id); n++ {
		if !slices.ContainsFunc(out, func(c struct{ Id string }) bool {
			return c.Id != id && strings.HasPrefix(c.Id, id[:n])
		}) {
			return id[:n]
		}
	}
	return id
}

// A prefix that two IDs share is an error, not the first one found. 17
// containers have at least two IDs that begin with the same hex digit.
func ambiguousIDPrefix(t *testing.T, e *Engine) {
	first := map[byte]int{}
	for range 17 {
		first[e.Create("", "true")[0]]++
	}
	for c, n := range first {
		if n > 1 {
			e.Expect(badRequest, "multiple IDs found with provided prefix: "+string(c), "GET", "/containers/"+string(c)+"/json", nil)
			return
		}
	}
	t.Fatal("17 IDs with 16 first digits: two must share one")
}

func listFilters(t *testing.T, e *Engine) {
	label := Unique("list")
	vol := label + "-vol"
	t.Cleanup(func() { e.Do("DELETE", "/volumes/"+vol, nil) }) // after the container's removal
	make := func(name string, binds []string, argv ...string) string {
		return e.CreateWith(label+"-"+name, map[string]any{"Image": "busybox:latest", "Cmd": argv,
			"Labels":     map[string]string{label: name},
			"HostConfig": map[string]any{"NetworkMode": "none", "Binds": binds}})
	}
	make("created", []string{vol + ":/data"}, "true")
	running := make("running", nil, "sleep", "1000")
	e.Expect(noContent, "", "POST", "/containers/"+running+"/start", nil)
	exited := make("exited", nil, "sh", "-c", "exit 3")
	e.Expect(noContent, "", "POST", "/containers/"+exited+"/start", nil)
	e.Wait(exited, "not-running")
	mine := map[string][]string{"label": {label}}
	with := func(k, v string) map[string][]string { return map[string][]string{"label": {label}, k: {v}} }
	names := func(short ...string) []string {
		out := []string{}
		for _, s := range short {
			out = append(out, label+"-"+s)
		}
		return out
	}

	assert.Equal(t, names("running"), e.List(false, mine), "without all: the running ones")
	assert.Equal(t, names("created", "exited", "running"), e.List(true, mine))
	for _, c := range []struct {
		key, value string
		want       []string
	}{
		{"status", "created", names("created")},
		{"status", "running", names("running")},
		{"status", "exited", names("exited")},
		{"exited", "3", names("exited")},
		{"exited", "0", names()},
		{"label", label + "=created", names("created")},
		{"name", label + "-run", names("running")},
		{"name", "^/?" + label + "-(cr|ex)", names("created", "exited")},
		{"id", exited[:20], names("exited")},
		{"before", label + "-running", names("created")},
		{"since", label + "-running", names("exited")},
		{"volume", vol, names("created")},
		{"volume", "/data", names("created")},
		{"network", "none", names("created", "exited", "running")},
		{"health", "none", names("created", "exited", "running")},
		{"health", "healthy", names()},
	} {
		assert.Equal(t, c.want, e.List(true, with(c.key, c.value)), "%s=%s", c.key, c.value)
	}
	// A status filter lists stopped containers without all.
	assert.Equal(t, names("exited"), e.List(false, with("status", "exited")))
	// Filters and values the engine does not know are refused by name.
	for filter, message := range map[string]string{
		`{"nosuch":["x"]}`:      "invalid filter 'nosuch': containers can be filtered by id, name, label, exited, status, ancestor, before, since, volume, network, health, publish, expose, is-task",
		`{"status":["sleepy"]}`: "invalid filter 'status=sleepy'",
		`{"health":["sickly"]}`: "Unrecognised filter value for health: sickly",
		`{"before":["nosuch"]}`: "No such container: nosuch",
	} {
		a := e.Do("GET", "/containers/json?all=1&filters="+q(filter), nil)
		assert.Equal(t, message, a.Message, filter)
		assert.Contains(t, []int{badRequest, notFound}, a.Status, filter)
	}
}

func rename(t *testing.T, e *Engine) {
	a, b := Unique("rename-a"), Unique("rename-b")
	ida := e.Create(a, "true")
	idb := e.Running(b)
	e.Expect(conflict, `Error when allocating new name: Conflict. The container name "/`+b+`" is already in use by container "`+idb+
		`". You have to remove (or rename) that container to be able to reuse that name.`, "POST", "/containers/"+a+"/rename?name="+b, nil)
	e.Expect(badRequest, "Renaming a container with the same name as its current name", "POST", "/containers/"+a+"/rename?name="+a, nil)
	e.Expect(badRequest, "Neither old nor new names may be empty", "POST", "/containers/"+a+"/rename?name=", nil)
	e.Expect(badRequest, "Error when allocating new name: Invalid container name (/-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
		"POST", "/containers/"+a+"/rename?name=-bad", nil)
	c := Unique("rename-c")
	e.Expect(noContent, "", "POST", "/containers/"+a+"/rename?name="+c, nil)
	assert.Equal(t, "/"+c, e.Inspect(ida).Name)
	e.Expect(notFound, "No such container: "+a, "GET", "/containers/"+a+"/json", nil)
	// A running container is renamed too, and its old name is free.
	e.Expect(noContent, "", "POST", "/containers/"+b+"/rename?name="+b+"x", nil)
	e.Create(b, "true")
}

func pauseAndUnpause(t *testing.T, e *Engine) {
	created := e.Create("", "true")
	e.Expect(conflict, "Container "+created+" is not running", "POST", "/containers/"+created+"/pause", nil)
	e.Expect(conflict, "Container "+created+" is not paused", "POST", "/containers/"+created+"/unpause", nil)

	id := e.Running("")
	e.Expect(conflict, "Container "+id+" is not paused", "POST", "/containers/"+id+"/unpause", nil)
	e.Expect(noContent, "", "POST", "/containers/"+id+"/pause", nil)
	s := e.Inspect(id)
	assert.Equal(t, "paused", s.State.Status)
	assert.True(t, s.State.Running && s.State.Paused)
	e.Expect(conflict, "Container "+id+" is already paused", "POST", "/containers/"+id+"/pause", nil)
	e.Expect(conflict, "cannot start a paused container, try unpause instead", "POST", "/containers/"+id+"/start", nil)
	e.Expect(conflict, "Container "+id+" is paused, unpause the container before exec", "POST", "/containers/"+id+"/exec",
		map[string]any{"Cmd": []string{"true"}})
	e.Expect(noContent, "", "POST", "/containers/"+id+"/unpause", nil)
	s = e.Inspect(id)
	assert.Equal(t, "running", s.State.Status)
	assert.False(t, s.State.Paused)
	// A kill ends a pause, as in Docker.
	e.Expect(noContent, "", "POST", "/containers/"+id+"/pause", nil)
	e.Expect(noContent, "", "POST", "/containers/"+id+"/kill", nil)
	s = e.Inspect(id)
	assert.Equal(t, "exited", s.State.Status)
	assert.False(t, s.State.Paused)
}

func wait(t *testing.T, e *Engine) {
	// not-running: at once for a stopped container, with its code.
	exited := e.Exited("", "3")
	assert.Equal(t, 3, e.Wait(exited, "not-running"))
	// next-exit: the engine answers the headers once the wait is in
	// place (docker run sends it before the start); the body comes with
	// the end of the run that the start begins.
	id := e.Create("", "sh", "-c", "exit 5")
	next := e.Begin("POST", "/containers/"+id+"/wait?condition=next-exit")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	var out struct{ StatusCode int }
	e.Decode(next(), &out)
	assert.Equal(t, 5, out.StatusCode)
	// removed: with the removal.
	removed := e.Begin("POST", "/containers/"+id+"/wait?condition=removed")
	e.Expect(noContent, "", "DELETE", "/containers/"+id, nil)
	e.Decode(removed(), &out)
	assert.Equal(t, 5, out.StatusCode)
	e.Expect(notFound, "No such container: "+id, "POST", "/containers/"+id+"/wait", nil)
	e.Expect(badRequest, `invalid condition "bogus": use not-running, next-exit or removed`, "POST", "/containers/"+exited+"/wait?condition=bogus", nil)
}

func execOnStopped(t *testing.T, e *Engine) {
	for _, id := range []string{e.Create("", "true"), e.Exited("", "0")} {
		e.Expect(conflict, "Container "+id+" is not running", "POST", "/containers/"+id+"/exec",
			map[string]any{"Cmd": []string{"true"}})
	}
	id := e.Running("")
	e.Expect(badRequest, "no exec command specified", "POST", "/containers/"+id+"/exec", map[string]any{})
	var out struct{ Id string }
	e.Decode(e.Expect(http.StatusCreated, "", "POST", "/containers/"+id+"/exec",
		map[string]any{"Cmd": []string{"sh", "-c", "exit 4"}}), &out)
	e.Expect(http.StatusOK, "", "POST", "/exec/"+out.Id+"/start", map[string]any{"Detach": false})
	var inspect struct {
		ExitCode int
		Running  bool
	}
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/exec/"+out.Id+"/json", nil), &inspect)
	assert.Equal(t, 4, inspect.ExitCode)
	assert.False(t, inspect.Running)
	require.NotEmpty(t, out.Id)
	e.Expect(notFound, "No such exec instance: nosuch", "GET", "/exec/nosuch/json", nil)
}

// A command the image does not have fails the start with a 400 (the
// request's fault), and the container records 127 as the docker CLI
// shows it.
func startMissingCommand(t *testing.T, e *Engine) {
	name := Unique("missing")
	id := e.Create(name, "nosuch-command")
	a := e.Do("POST", "/containers/"+id+"/start", nil)
	assert.Equal(t, badRequest, a.Status)
	assert.Equal(t, "failed to start container "+id+": starting container "+name+": nosuch-command: executable file not found in $PATH", a.Message)
	s := e.Inspect(id)
	assert.Equal(t, 127, s.State.ExitCode)
	assert.Equal(t, "nosuch-command: executable file not found in $PATH", s.State.Error)
	assert.Equal(t, "created", s.State.Status)
}

func restart(t *testing.T, e *Engine) {
	created := e.Create("", "sleep", "1000")
	e.Expect(noContent, "", "POST", "/containers/"+created+"/restart?t=0", nil)
	assert.Equal(t, "running", e.Inspect(created).State.Status)
	exited := e.Exited("", "2")
	e.Expect(noContent, "", "POST", "/containers/"+exited+"/restart?t=0", nil)
	e.Wait(exited, "not-running")
	assert.Equal(t, 2, e.Inspect(exited).State.ExitCode)
	e.Expect(noContent, "", "POST", "/containers/"+created+"/restart?t=0", nil)
	assert.Equal(t, "running", e.Inspect(created).State.Status)
	e.Expect(notFound, "No such container: nosuch-"+created[:8], "POST", "/containers/nosuch-"+created[:8]+"/restart", nil)
}

// A stop ends a paused container (its pause with it).
func stopPaused(t *testing.T, e *Engine) {
	id := e.Running("")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/pause", nil)
	e.Expect(noContent, "", "POST", "/containers/"+id+"/stop?t=0", nil)
	s := e.Inspect(id)
	assert.Equal(t, "exited", s.State.Status)
	assert.False(t, s.State.Paused)
}

func topAndLogsOfStopped(t *testing.T, e *Engine) {
	id := e.Create("", "echo", "hi")
	e.Expect(conflict, "Container "+id+" is not running", "GET", "/containers/"+id+"/top", nil)
	assert.Empty(t, e.Expect(http.StatusOK, "", "GET", "/containers/"+id+"/logs?stdout=1&stderr=1", nil), "a created container has no log")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	e.Wait(id, "not-running")
	e.Expect(conflict, "Container "+id+" is not running", "GET", "/containers/"+id+"/top", nil)
	// stdcopy framing: stream 1, length 3, "hi\n".
	assert.Equal(t, []byte{1, 0, 0, 0, 0, 0, 0, 3, 'h', 'i', '\n'},
		e.Expect(http.StatusOK, "", "GET", "/containers/"+id+"/logs?stdout=1&stderr=1", nil))
	e.Expect(badRequest, "Bad parameters: you must choose at least one stream", "GET", "/containers/"+id+"/logs", nil)
}

// A container's life as docker events shows it, in order: the events
// kept from since to until, filtered by container.
func containerEvents(t *testing.T, e *Engine) {
	var info struct{ SystemTime string }
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/info", nil), &info)
	since, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	require.NoError(t, err)
	id := e.Create("", "sh", "-c", "exit 7")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	e.Wait(id, "not-running")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	e.Wait(id, "not-running")
	e.Expect(noContent, "", "DELETE", "/containers/"+id, nil)
	e.Decode(e.Expect(http.StatusOK, "", "GET", "/info", nil), &info)
	until, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	require.NoError(t, err)

	body := e.Expect(http.StatusOK, "", "GET", fmt.Sprintf("/events?since=%d.%09d&until=%d.%09d&filters=%s",
		since.Unix(), since.Nanosecond(), until.Unix(), until.Nanosecond(), q(`{"container":["`+id+`"]}`)), nil)
	var actions []string
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var ev struct {
			Type, Action string
			Actor        struct{ Attributes map[string]string }
		}
		require.NoError(t, dec.Decode(&ev))
		a := ev.Type + " " + ev.Action
		if code, ok := ev.Actor.Attributes["exitCode"]; ok {
			a += " " + code
		}
		actions = append(actions, a)
	}
	assert.Equal(t, []string{"container create", "container start", "container die 7", "container start", "container die 7", "container destroy"}, actions)
}

// docker cp into and out of a container that does not run: a file put
// under a directory comes back; a missing path is a 404 in Docker's
// words; a file is no extraction point.
func copyPaths(t *testing.T, e *Engine) {
	name := Unique("cp")
	id := e.Create(name, "true")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte("hi\n"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	e.Expect(http.StatusOK, "", "PUT", "/containers/"+name+"/archive?path=/etc", buf.Bytes())

	tr := tar.NewReader(bytes.NewReader(e.Expect(http.StatusOK, "", "GET", "/containers/"+id+"/archive?path=/etc/hello.txt", nil)))
	hdr, err := tr.Next()
	require.NoError(t, err)
	assert.Equal(t, "hello.txt", hdr.Name)
	data, err := io.ReadAll(tr)
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(data))

	e.Expect(notFound, "Could not find the file /nosuch in container "+name, "GET", "/containers/"+name+"/archive?path=/nosuch", nil)
	e.Expect(notFound, "Could not find the file /nosuch in container "+name, "PUT", "/containers/"+name+"/archive?path=/nosuch", buf.Bytes())
	e.Expect(badRequest, "extraction point is not a directory: /etc/hello.txt", "PUT", "/containers/"+name+"/archive?path=/etc/hello.txt", buf.Bytes())
}

// docker logs: stdcopy frames of the chosen streams, the last lines with
// tail, a timestamp before each line with timestamps.
func logs(t *testing.T, e *Engine) {
	id := e.Create("", "sh", "-c", "echo a; echo b; echo c")
	e.Expect(noContent, "", "POST", "/containers/"+id+"/start", nil)
	require.Equal(t, 0, e.Wait(id, "not-running"))
	// The streams' contents (how an engine cuts them into frames is
	// its own business).
	streams := func(query string) (stdout, stderr string) {
		body := e.Expect(http.StatusOK, "", "GET", "/containers/"+id+"/logs?"+query, nil)
		var out [3]strings.Builder
		for len(body) > 0 {
			require.GreaterOrEqual(t, len(body), 8, "a frame's header")
			n := int(body[4])<<24 | int(body[5])<<16 | int(body[6])<<8 | int(body[7])
			require.GreaterOrEqual(t, len(body), 8+n)
			require.Contains(t, []byte{1, 2}, body[0], "a frame's stream")
			out[body[0]].Write(body[8 : 8+n])
			body = body[8+n:]
		}
		return out[1].String(), out[2].String()
	}
	stdout, stderr := streams("stdout=1&stderr=1")
	assert.Equal(t, "a\nb\nc\n", stdout)
	assert.Empty(t, stderr)
	stdout, _ = streams("stdout=1&tail=2")
	assert.Equal(t, "b\nc\n", stdout)
	stdout, stderr = streams("stderr=1")
	assert.Empty(t, stdout+stderr)
	stdout, _ = streams("stdout=1&timestamps=1&tail=1")
	stamp, line, ok := strings.Cut(stdout, " ")
	require.True(t, ok, stdout)
	_, err := time.Parse(time.RFC3339Nano, stamp)
	assert.NoError(t, err, "the timestamp is RFC 3339")
	assert.Equal(t, "c\n", line)
}
