package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventStream runs `docker events args...` in the background; next
// returns its lines one at a time.
type eventStream struct {
	t     *testing.T
	lines chan string
	cmd   *exec.Cmd
}

func (d *dockerCLI) events(args ...string) *eventStream {
	d.t.Helper()
	cmd := exec.Command(d.bin, append([]string{"events"}, args...)...)
	cmd.Env = d.env
	out, err := cmd.StdoutPipe()
	require.NoError(d.t, err)
	require.NoError(d.t, cmd.Start())
	s := &eventStream{t: d.t, lines: make(chan string, 100), cmd: cmd}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	d.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return s
}

// until reads lines until one equals want, and returns those before it.
func (s *eventStream) until(want string) []string {
	s.t.Helper()
	var seen []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("docker events ended before %q; saw %q", want, seen)
			}
			if l == want {
				return seen
			}
			seen = append(seen, l)
		case <-timeout:
			s.t.Fatalf("no %q from docker events; saw %q", want, seen)
		}
	}
}

// eventLines are the lines of out, none for no output.
func eventLines(out string) []string {
	if out == "" {
		return nil
	}
	return lines(out)
}

// unixNano is a time as the docker CLI takes --since: seconds with a
// fraction.
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func TestDockerEvents(t *testing.T) {
	for _, client := range dockerClients {
		t.Run(client.name, func(t *testing.T) {
			d := newDockerCLI(t, client.path)
			format := `{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "exitCode"}}`
			start := time.Now()

			// Live: the stream began before the run, and shows it as
			// it happens (--since the start so that a subscription
			// slower than the run still sees it all, once).
			live := d.events("--since", unixNano(start), "--format", format, "--filter", "container=ev1")
			_, _, exit := d.run("", "run", "--name", "ev1", "--label", "app=shop", "busybox", "sh", "-c", "exit 3")
			require.Equal(t, 3, exit)
			assert.Empty(t, live.until("container create ev1 "))
			assert.Empty(t, live.until("container start ev1 "))
			assert.Empty(t, live.until("container die ev1 3"))

			d.ok("rm", "ev1")
			d.ok("run", "--rm", "--name", "ev2", "busybox", "true")
			end := time.Now()

			// After the fact: --since and --until, which ends the
			// stream; the CLI sends both as seconds.nanoseconds.
			out := d.ok("events", "--since", unixNano(start), "--until", unixNano(end), "--format", format)
			assert.Equal(t, []string{
				"container create ev1 ", "container start ev1 ", "container die ev1 3", "container destroy ev1 ",
				"container create ev2 ", "container start ev2 ", "container die ev2 0", "container destroy ev2 ",
			}, lines(out))

			// Filters, as dockerd applies them.
			for _, tc := range []struct {
				filter []string
				want   []string
			}{
				{[]string{"event=die"}, []string{"container die ev1 3", "container die ev2 0"}},
				{[]string{"container=ev2", "event=start"}, []string{"container start ev2 "}},
				{[]string{"label=app=shop", "event=destroy"}, []string{"container destroy ev1 "}},
				{[]string{"image=busybox", "event=create"}, []string{"container create ev1 ", "container create ev2 "}},
				{[]string{"type=image"}, nil},
			} {
				args := []string{"events", "--since", unixNano(start), "--until", unixNano(end), "--format", format}
				for _, f := range tc.filter {
					args = append(args, "--filter", f)
				}
				assert.Equal(t, tc.want, eventLines(d.ok(args...)), "%v", tc.filter)
			}

			// The CLI's relative forms: it converts them itself, to
			// whole seconds (so "--until 0s" would cut off this
			// second's events, on dockerd too).
			assert.Contains(t, d.ok("events", "--since", "10m", "--until", unixNano(end), "--format", format), "container die ev2 0")

			_, errOut, code := d.run("", "events", "--since", unixNano(start), "--until", unixNano(end), "--filter", "plugin=x")
			assert.NotEqual(t, 0, code)
			assert.Contains(t, errOut, "invalid filter 'plugin'")
		})
	}
}

// The legacy fields that docker 20.10's templates and python
// docker-compose 1.29 read.
func TestEventsLegacyFields(t *testing.T) {
	d := newDockerCLI(t, "/usr/bin/docker")
	start := time.Now()
	id := strings.TrimSpace(d.ok("create", "busybox", "true"))
	out := d.ok("events", "--since", unixNano(start), "--until", unixNano(time.Now()), "--format", "{{.Status}} {{.ID}} {{.From}} {{.Scope}}")
	assert.Equal(t, "create "+id+" busybox local\n", out)
}

func TestEventsOverHTTP(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	id := e.create("h1", container.Config{Labels: map[string]string{"tier": "db"}}, "true")

	q := url.Values{"since": {unixNano(start)}, "until": {unixNano(time.Now())}}
	resp, body := e.do("GET", "/events?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	assert.Equal(t, "container", m["Type"])
	assert.Equal(t, "create", m["Action"])
	assert.Equal(t, "create", m["status"])
	assert.Equal(t, id, m["id"])
	assert.Equal(t, "busybox", m["from"])
	assert.Equal(t, "local", m["scope"])
	assert.Equal(t, map[string]any{"ID": id, "Attributes": map[string]any{"image": "busybox", "name": "h1", "tier": "db"}}, m["Actor"])
	nano, sec := m["timeNano"].(float64), m["time"].(float64)
	assert.Equal(t, int64(sec), int64(nano)/1e9)

	// Every form of time berth takes.
	for _, since := range []string{"0", fmt.Sprint(start.Unix() - 1), start.Add(-time.Second).Format(time.RFC3339Nano), "1h"} {
		resp, body := e.do("GET", "/events?"+url.Values{"since": {since}, "until": {unixNano(time.Now())}}.Encode(), nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, since)
		assert.Contains(t, string(body), `"Action":"create"`, since)
	}

	for _, tc := range []struct{ query, msg string }{
		{"since=yesterday", `"since"`},
		{"until=1.x", `"until"`},
		{"since=200&until=100", "cannot be after"},
		{`filters={"name":["x"]}`, "invalid filter 'name'"},
		{`filters={"type":`, "invalid filters"},
	} {
		resp, body := e.do("GET", "/events?"+tc.query, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, tc.query)
		assert.Contains(t, message(t, resp, body), tc.msg, tc.query)
	}
}

// The stream's headers come at once, before any event: a client waits
// for them, and would otherwise hang until the first event.
func TestEventsStreamStartsAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://berth/events", nil)
	require.NoError(t, err)
	resp, err := e.http().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	e.create("s1", container.Config{}, "true")
	dec := json.NewDecoder(resp.Body)
	var m struct{ Action string }
	require.NoError(t, dec.Decode(&m))
	assert.Equal(t, "create", m.Action)
	cancel()
	_, err = io.Copy(io.Discard, resp.Body)
	assert.Error(t, err, "the stream lasts until the client goes")
}
