package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// healthDockerfile is an image whose HEALTHCHECK passes once /tmp/ok
// exists.
const healthDockerfile = "FROM busybox\nHEALTHCHECK --interval=100ms --timeout=5s --retries=2 CMD test -f /tmp/ok || { echo not yet; exit 1; }\n"

// healthOf reads a container's State.Health through the docker CLI.
func healthOf(t *testing.T, e engine, name string) *container.Health {
	t.Helper()
	out, err := e.run("inspect", "-f", "{{json .State.Health}}", name)
	require.NoError(t, err)
	var h *container.Health
	require.NoError(t, json.Unmarshal([]byte(out), &h), out)
	return h
}

// waitHealth waits until name's status is want.
func waitHealth(t *testing.T, e engine, name string, want container.HealthStatus) *container.Health {
	t.Helper()
	var h *container.Health
	require.Eventually(t, func() bool {
		h = healthOf(t, e, name)
		return h != nil && h.Status == want
	}, 30*time.Second, 20*time.Millisecond, "%s: %s never became %s (last: %+v)", e.name, name, want, h)
	return h
}

// buildWith runs docker build (the classic builder) of a Dockerfile
// given on stdin, with env's daemon.
func buildWith(t *testing.T, env []string, tag, dockerfile string) {
	t.Helper()
	cmd := exec.Command(dockerBin, "build", "-q", "-t", tag, "-")
	cmd.Env = append(env, "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(dockerfile)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	require.NoError(t, cmd.Run(), errOut.String())
}

// lockedBuffer is a bytes.Buffer that a process writes to while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// healthSteps are the steps the comparison runs on each engine; what
// they return must be the same.
func healthSteps(t *testing.T, e engine, env []string) []string {
	must := e.mustFor(t)
	var got []string
	// hc-ok's events, streamed from the start: dockerd keeps only its
	// last 256 events for --since, which the checks of these containers
	// (three events each, every 100 ms) overrun within seconds.
	events := &lockedBuffer{}
	stream := exec.Command(dockerBin, "events", "--filter", "container=hc-ok", "--format", "{{.Action}}")
	stream.Env, stream.Stdout = env, events
	require.NoError(t, stream.Start())
	defer func() { _ = stream.Process.Kill(); _ = stream.Wait() }()
	note := func(format string, a ...any) { got = append(got, fmt.Sprintf(format, a...)) }
	last := func(h *container.Health) string {
		r := h.Log[len(h.Log)-1]
		return fmt.Sprintf("%d %q", r.ExitCode, r.Output)
	}

	// A passing check: healthy, its output in the log.
	must("run", "-d", "--name", "hc-ok", "--health-cmd", "echo ok", "--health-interval", "100ms", "busybox", "sleep", "1000")
	h := waitHealth(t, e, "hc-ok", container.Healthy)
	note("ok: streak %d, last %s", h.FailingStreak, last(h))
	note("ok ps: %s", strings.TrimSpace(must("ps", "--filter", "name=hc-ok", "--format", "{{.Status}}"))[len("Up "):])

	// A failing one: unhealthy after its retries.
	must("run", "-d", "--name", "hc-bad", "--health-cmd", "echo no; exit 3", "--health-interval", "100ms", "--health-retries", "2", "busybox", "sleep", "1000")
	h = waitHealth(t, e, "hc-bad", container.Unhealthy)
	note("bad: streak>=2 %v, last %s", h.FailingStreak >= 2, last(h))
	assert.LessOrEqual(t, len(h.Log), 5)

	// One that runs past its timeout: killed, -1 and Docker's words.
	must("run", "-d", "--name", "hc-slow", "--health-cmd", "exec sleep 100", "--health-interval", "100ms", "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "1000")
	h = waitHealth(t, e, "hc-slow", container.Unhealthy)
	note("slow: streak %d, last %s", h.FailingStreak, last(h))
	// The killed checks are gone from the container (berthd kills the
	// check's whole tree; dockerd 20.10 leaves sh's children).
	require.Eventually(t, func() bool {
		if e.name == "dockerd" {
			return true
		}
		// One check runs at a time: at most its sh and its sleep.
		return strings.Count(must("exec", "hc-slow", "ps", "-o", "args"), "sleep 100") <= 2
	}, 20*time.Second, 50*time.Millisecond, "%s: a timed-out check still runs", e.name)

	// Failures in the start period do not count while starting.
	must("run", "-d", "--name", "hc-start", "--health-cmd", "exit 1", "--health-interval", "100ms", "--health-retries", "1", "--health-start-period", "1h", "busybox", "sleep", "1000")
	require.Eventually(t, func() bool { h = healthOf(t, e, "hc-start"); return h != nil && len(h.Log) >= 3 }, 30*time.Second, 20*time.Millisecond)
	note("start: %s streak %d", h.Status, h.FailingStreak)
	// (Its time differs: berthd has Docker 25's --health-start-interval,
	// 5s by default, which dockerd 20.10 predates.)
	status := strings.TrimSpace(must("ps", "--filter", "name=hc-start", "--format", "{{.Status}}"))
	note("start ps: %s", status[strings.Index(status, "("):])

	// An image's HEALTHCHECK: merged with --health-*, off with
	// --no-healthcheck.
	buildWith(t, env, "hc-img", healthDockerfile)
	note("image: %s", strings.TrimSpace(must("image", "inspect", "-f", "{{json .Config.Healthcheck}}", "hc-img")))
	must("run", "-d", "--name", "hc-image", "--health-retries", "7", "hc-img", "sleep", "1000")
	note("merged: %s", strings.TrimSpace(must("inspect", "-f", "{{json .Config.Healthcheck}}", "hc-image")))
	h = waitHealth(t, e, "hc-image", container.Starting)
	require.Eventually(t, func() bool { h = healthOf(t, e, "hc-image"); return len(h.Log) >= 2 }, 30*time.Second, 20*time.Millisecond)
	note("image starting: %s", last(h))
	must("exec", "hc-image", "touch", "/tmp/ok")
	h = waitHealth(t, e, "hc-image", container.Healthy)
	note("image healthy: streak %d, last %s", h.FailingStreak, last(h))
	must("run", "-d", "--name", "hc-none", "--no-healthcheck", "hc-img", "sleep", "1000")
	note("none: %s %s", strings.TrimSpace(must("inspect", "-f", "{{json .Config.Healthcheck}}", "hc-none")), strings.TrimSpace(must("inspect", "-f", "{{json .State.Health}}", "hc-none")))

	// ps --filter health=.
	for _, s := range []string{"healthy", "unhealthy", "starting", "none"} {
		names := strings.Fields(must("ps", "--filter", "health="+s, "--filter", "name=hc-", "--format", "{{.Names}}"))
		slices.Sort(names)
		note("ps health=%s: %v", s, names)
	}

	// A paused container is not checked: its status is unhealthy at
	// once (dockerd's pause stops the monitor, whose end sets it), and
	// the unpause starts the checks again, without going back to
	// starting.
	must("pause", "hc-ok")
	h = healthOf(t, e, "hc-ok")
	note("paused: %s", h.Status)
	note("paused ps: %v", strings.Fields(must("ps", "--filter", "health=unhealthy", "--filter", "name=hc-ok", "--format", "{{.Names}}")))
	must("unpause", "hc-ok")
	h = waitHealth(t, e, "hc-ok", container.Healthy)
	note("unpaused: %s streak %d", h.Status, h.FailingStreak)

	// A stopped container's health; a start begins again from starting.
	// Only the status is compared: checked every 100 ms, a check may or
	// may not be running when the stop kills the container, and one
	// that is killed with it counts as a failure on both engines (the
	// next step), so the streak is 0 or 1 by luck.
	must("stop", "-t", "0", "hc-ok")
	h = healthOf(t, e, "hc-ok")
	note("stopped: %s", h.Status)
	if e.name == "berthd" {
		// berthd starts no check once the container is dying: one
		// failure at most. (dockerd may record a second, failing to
		// exec into the dead container, if its exit event is slow.)
		assert.LessOrEqual(t, h.FailingStreak, 1, "%+v", h)
	}

	// A stop while a check is known to run: the check dies with the
	// container and is recorded as a failure (137), then the status is
	// unhealthy.
	must("run", "-d", "--name", "hc-hang", "--health-cmd", "if test -f /tmp/hang; then exec sleep 999; fi; echo ok", "--health-interval", "100ms", "busybox", "sleep", "1000")
	waitHealth(t, e, "hc-hang", container.Healthy)
	must("exec", "hc-hang", "touch", "/tmp/hang")
	require.Eventually(t, func() bool {
		return strings.Contains(must("exec", "hc-hang", "ps", "-o", "args"), "sleep 999")
	}, 20*time.Second, 20*time.Millisecond, "%s: the hanging check never ran", e.name)
	must("stop", "-t", "0", "hc-hang")
	h = healthOf(t, e, "hc-hang")
	note("stopped mid-check: %s streak %d, last %s", h.Status, h.FailingStreak, last(h))
	must("start", "hc-ok")
	h = waitHealth(t, e, "hc-ok", container.Healthy)
	note("restarted: %s, log kept %v", h.Status, len(h.Log) > 1)

	// Events: the checks are execs, and the changes health_status:
	// healthy three times (at first, after the unpause, after the
	// start), waited for, as the stream may lag behind inspect.
	require.Eventually(t, func() bool { return strings.Count(events.String(), "health_status: healthy") >= 3 },
		30*time.Second, 20*time.Millisecond, "%s: events %q", e.name, events.String())
	var actions []string
	for _, a := range strings.Split(strings.TrimSpace(events.String()), "\n") {
		if !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	slices.Sort(actions)
	note("events: %q", actions)

	must("rm", "-f", "hc-ok", "hc-bad", "hc-slow", "hc-start", "hc-image", "hc-none", "hc-hang")
	must("rmi", "hc-img")
	return got
}

// TestHealth_SameAsDockerd runs health checks through the docker CLI on
// berthd and a private dockerd 20.10: states, streaks, the last result,
// ps's status and filter, a HEALTHCHECK built with docker build and its
// merge with --health-*, --no-healthcheck, stop and start, events.
func TestHealth_SameAsDockerd(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	engines := sideBySide(t, l, d)
	results := map[string][]string{}
	envs := map[string][]string{"berthd": l.dockerEnv(), "dockerd": d.Env()}
	for _, e := range engines {
		results[e.name] = healthSteps(t, e, envs[e.name])
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
}

// TestHealth_BerthdRestartBeginsAgainFromStarting: a berthd that starts
// with a checked container running starts its checks again from
// "starting", the streak 0 and the log kept, as dockerd's restore does;
// the failures that follow in the start period do not count.
func TestHealth_BerthdRestartBeginsAgainFromStarting(t *testing.T) {
	l := newLab(t)
	e := engine{"berthd", func(args ...string) (string, error) {
		out, errOut, code := l.docker("", args...)
		if code != 0 {
			return out, fmt.Errorf("docker %s: %s", strings.Join(args, " "), errOut)
		}
		return out, nil
	}}
	must := e.mustFor(t)
	// Healthy, then checked only every hour: nothing runs until the
	// restart.
	// (Through the API: the docker CLI sends --health-start-interval to
	// API 1.44 and later only, and berthd speaks 1.41.)
	l.run("hc-survive", container.Config{Cmd: []string{"sleep", "1000"}, Healthcheck: &container.HealthConfig{
		Test: []string{"CMD-SHELL", "test -f /tmp/ok"}, Interval: time.Hour, StartPeriod: time.Hour, StartInterval: 100 * time.Millisecond}}, nil)
	must("exec", "hc-survive", "touch", "/tmp/ok")
	before := waitHealth(t, e, "hc-survive", container.Healthy)
	must("exec", "hc-survive", "rm", "/tmp/ok")

	restarted := time.Now()
	l.restart()
	h := healthOf(t, e, "hc-survive")
	require.NotNil(t, h)
	assert.Equal(t, container.Starting, h.Status)
	assert.Zero(t, h.FailingStreak)
	// The log is kept: the results from before the restart are still
	// there, in order. The new daemon may have checked once or twice
	// already (every 100 ms in the start period), so only the results
	// that began before the restart are compared, the newest of them
	// the last one before it.
	var kept []*container.HealthcheckResult
	for _, r := range h.Log {
		if r.Start.Before(restarted) {
			kept = append(kept, r)
		}
	}
	require.NotEmpty(t, kept, "the log is kept")
	require.LessOrEqual(t, len(kept), len(before.Log), "results from before the restart that were not there before it")
	assert.Equal(t, before.Log[len(before.Log)-len(kept):], kept, "the log is kept")
	// Failing in the start period while starting: not counted.
	require.Eventually(t, func() bool { h = healthOf(t, e, "hc-survive"); return len(h.Log) >= len(before.Log)+2 }, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, container.Starting, h.Status)
	assert.Zero(t, h.FailingStreak)
	must("exec", "hc-survive", "touch", "/tmp/ok")
	waitHealth(t, e, "hc-survive", container.Healthy)
	must("rm", "-f", "hc-survive")
}
