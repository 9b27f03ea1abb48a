package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventTime is a moment as docker's client sends it.
func eventTime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// berth events against the fake engine: docker's line, --format, json,
// filters, and the refusals.
func TestEvents(t *testing.T) {
	e := newEngine(t)
	since := time.Now()
	id := strings.TrimSpace(e.ok(t, "create", "--name", "ev1", "--label", "tier=db", "busybox", "true"))
	e.ok(t, "rm", "ev1")
	until := eventTime(time.Now())
	window := []string{"events", "--since", eventTime(since), "--until", until}

	out := e.ok(t, window...)
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container (create|destroy) ` + id + ` \(image=busybox, name=ev1, tier=db\)$`)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2, out)
	for _, l := range lines {
		assert.Regexp(t, line, l)
	}

	assert.Equal(t, "create ev1 db\ndestroy ev1 db\n",
		e.ok(t, append(window, "--format", `{{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "tier"}}`)...))
	assert.Equal(t, "destroy\n", e.ok(t, append(window, "--filter", "event=destroy", "--format", "{{.Action}}")...))
	assert.Equal(t, "", e.ok(t, append(window, "--filter", "type=network")...))

	out = e.ok(t, append(window, "-f", "event=create", "--format", "json")...)
	var m struct {
		Type, Action string
		Actor        struct{ ID string }
		Scope        string `json:"scope"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	assert.Equal(t, "container create "+id+" local", strings.Join([]string{m.Type, m.Action, m.Actor.ID, m.Scope}, " "))

	_, errOut, code := e.berth(t, "", append(window, "--filter", "nosuch=x")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "invalid filter 'nosuch'")
	_, errOut, code = e.berth(t, "", append(window, "--filter", "novalue")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "bad format of filter")
	_, errOut, code = e.berth(t, "", append(window, "--format", "{{.Nope")...)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "template parsing error")
}

// berth events follows what happens while it runs (a second terminal's
// commands here), until interrupted.
func TestEventsFollows(t *testing.T) {
	e := newEngine(t)
	// --since: what happens before the subscription is made is shown
	// all the same, once, so no step can be missed.
	cmd := berthCommand(e.host, "events", "--since", eventTime(time.Now()), "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	e.ok(t, "run", "--name", "live", "busybox", "true")
	e.ok(t, "rm", "live")
	sc := bufio.NewScanner(out)
	var got []string
	for len(got) < 4 && sc.Scan() {
		got = append(got, sc.Text())
	}
	assert.Equal(t, []string{"create live", "start live", "die live", "destroy live"}, got)
}

// Against a real berthd: a container's die with its exit code.
func TestEventsOfBerthd(t *testing.T) {
	e := newBerthd(t)
	since := time.Now()
	_, _, code := e.berth(t, "", "run", "--rm", "--name", "evb", "busybox", "sh", "-c", "exit 7")
	require.Equal(t, 7, code)
	assert.Equal(t, "create|\nattach|\nstart|\ndie|7\ndestroy|\n",
		e.ok(t, "events", "--since", eventTime(since), "--until", eventTime(time.Now()), "--filter", "container=evb", "--filter", "type=container",
			"--format", `{{.Action}}|{{index .Actor.Attributes "exitCode"}}`))
}
