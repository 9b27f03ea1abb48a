package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/build"
)

// buildOut runs docker build (the classic builder) of a Dockerfile
// given on stdin with env's daemon: its stdout, and whether it built.
func buildOut(t *testing.T, env []string, tag, dockerfile string) (string, bool) {
	t.Helper()
	args := []string{"build", "-"}
	if tag != "" {
		args = []string{"build", "-t", tag, "-"}
	}
	cmd := exec.Command(dockerBin, args...)
	cmd.Env = append(env, "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(dockerfile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil
}

// buildPruneKeys are the top-level keys of POST /build/prune's answer,
// through the engine's socket.
func buildPruneKeys(t *testing.T, sock string) []string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: unixDialer(sock)}}
	resp, err := c.Post("http://engine/v1.41/build/prune", "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var reclaimedLine = regexp.MustCompile(`(?m)^Total reclaimed space: \S+$`)

// docker builder prune and docker system prune through the real docker
// CLI, on berthd and on a private dockerd 20.10: the same answers'
// shape and the same refusals. What each removes differs by design:
// dockerd's prune is BuildKit's, which does not see the classic
// builder's steps (it answers 0B), while berth's cache is the classic
// builder's, which its prune empties.
func TestBuilderPrune_SameShapeAsDockerd(t *testing.T) {
	l := newLab(t)
	d := labtest.StartDockerd(t)
	engines := sideBySide(t, l, d)
	envs := map[string][]string{"berthd": l.dockerEnv(), "dockerd": d.Env()}
	socks := map[string]string{"berthd": l.sock, "dockerd": strings.TrimPrefix(d.Host(), "unix://")}
	tag := labtest.Unique("bp-img")
	const good = "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n"
	for _, e := range engines {
		env := envs[e.name]
		out, ok := buildOut(t, env, tag, good)
		require.True(t, ok, "%s: %s", e.name, out)
		out, ok = buildOut(t, env, "", "FROM busybox\nRUN echo c > /c\nRUN exit 3\n")
		require.False(t, ok, "%s: %s", e.name, out)

		for _, args := range [][]string{
			{"builder", "prune", "-f"},
			{"builder", "prune", "-f", "--filter", "until=1h"},
			{"builder", "prune", "-f", "--filter", "unused-for=1h"},
			{"builder", "prune", "-f", "--filter", "label=a=b"},
			{"system", "prune", "-f"},
			{"system", "prune", "-f", "--filter", "label=a=b"},
		} {
			out, err := e.run(args...)
			require.NoError(t, err, "%s: docker %v", e.name, args)
			assert.Regexp(t, reclaimedLine, out, "%s: docker %v", e.name, args)
		}
		_, err := e.run("builder", "prune", "-f", "--filter", "color=red")
		if assert.Error(t, err, e.name) {
			assert.Contains(t, strings.ToLower(err.Error()), "invalid filter 'color'", e.name)
		}
		assert.Equal(t, []string{"CachesDeleted", "SpaceReclaimed"}, buildPruneKeys(t, socks[e.name]), e.name)
	}

	// berthd refuses what it does not apply, by name; dockerd applies it.
	_, errOut, code := l.docker("", "builder", "prune", "-f", "--keep-storage", "1MB")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "keep-storage is not supported")
	_, err := d.Run("builder", "prune", "-f", "--keep-storage", "1MB")
	assert.NoError(t, err)
}

// What berth's build prune removes: the steps of a failed build (their
// images too), and with -a every entry, after which a rebuild does every
// step again; a tagged image and its steps' images stay. until and
// unused-for keep the entries a build used since.
func TestBuilderPruneEmptiesTheClassicBuildersCache(t *testing.T) {
	l := newLab(t)
	env := l.dockerEnv()
	tag := labtest.Unique("bp-img")
	good := "FROM busybox\nRUN echo " + tag + " > /a\nRUN echo b > /b\n"
	out, ok := buildOut(t, env, tag, good)
	require.True(t, ok, out)
	out, ok = buildOut(t, env, tag, good)
	require.True(t, ok, out)
	assert.Equal(t, 2, strings.Count(out, "Using cache"), "the rebuild comes from the cache: %s", out)
	imagesBefore := l.ok("images", "-a", "-q")

	// A failed build leaves the image of its first RUN: a dangling step.
	out, ok = buildOut(t, env, "", "FROM busybox\nRUN echo "+tag+" > /c\nRUN exit 3\n")
	require.False(t, ok, out)
	require.NotEqual(t, imagesBefore, l.ok("images", "-a", "-q"))

	// until: the entries were used just now, none goes.
	out = l.ok("builder", "prune", "-f", "-a", "--filter", "until=1h")
	assert.Equal(t, "Total reclaimed space: 0B\n", out)

	out = l.ok("builder", "prune", "-f")
	assert.Regexp(t, `^Deleted build cache objects:\n[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?[kM]?B\n$`, out)
	assert.NotEqual(t, "Total reclaimed space: 0B\n", out[strings.LastIndex(out[:len(out)-1], "\n")+1:], "the step's image went")
	assert.Equal(t, imagesBefore, l.ok("images", "-a", "-q"), "the failed build's step is gone, the tagged image's steps stay")
	assert.Equal(t, "Total reclaimed space: 0B\n", l.ok("builder", "prune", "-f"), "nothing dangling is left")

	// -a: every entry; the tagged image and its steps stay.
	out = l.ok("builder", "prune", "-f", "-a")
	assert.Regexp(t, `^Deleted build cache objects:\n([0-9a-f]{64}\n){2,}\nTotal reclaimed space: 0B\n$`, out)
	assert.Equal(t, imagesBefore, l.ok("images", "-a", "-q"))
	out, ok = buildOut(t, env, tag, good)
	require.True(t, ok, out)
	assert.NotContains(t, out, "Using cache", "every step is done again")
	// The image the tag left is dangling now: docker system prune's
	// image prune removes it; its build prune has nothing to do.
	assert.Regexp(t, reclaimedLine, l.ok("system", "prune", "-f"))
	assert.Equal(t, "Total reclaimed space: 0B\n", l.ok("builder", "prune", "-f"))
}

// A build cache prune waits for the builds under way, whose next step
// may stand on an entry it would remove: a running build holds
// Daemon.builds for reading, which a prune takes for writing. When the
// client goes, the build stops and lets a prune go on: whether it goes
// while the RUN's command runs, or as the step is announced, before its
// container has a pid (the case that a cancellation found no pid to
// kill, and the build ran on for nobody).
func TestARunningBuildHoldsOffPrune(t *testing.T) {
	for _, tc := range []struct {
		name string
		// until is what the client's output shows before it is killed.
		until func(mark string) string
	}{
		// The command prints mark-running; its text in the step's line
		// has "$m-running" instead, which does not match.
		{"while the RUN runs", func(mark string) string { return mark + "-running" }},
		{"as the RUN is announced", func(string) string { return "Step 2/2 : RUN" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			mark := labtest.Unique("hold")
			cmd := exec.Command(dockerBin, "build", "-")
			cmd.Env = append(l.dockerEnv(), "DOCKER_BUILDKIT=0")
			cmd.Stdin = strings.NewReader("FROM busybox\nRUN m=" + mark + " && echo \"$m-running\" && sleep 1000\n")
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			want := tc.until(mark)
			lines := bufio.NewScanner(out)
			for lines.Scan() && !strings.Contains(lines.Text(), want) {
			}
			require.Contains(t, lines.Text(), want, "the build's output")
			assert.False(t, l.d.builds.TryLock(), "a prune would not wait for the running build")
			// The client goes: the build stops, and a prune may go on.
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()
			require.Eventually(t, func() bool {
				if !l.d.builds.TryLock() {
					return false
				}
				l.d.builds.Unlock()
				return true
			}, 60*time.Second, 20*time.Millisecond, "the build still runs after its client went")
			l.ok("builder", "prune", "-f")
		})
	}
}

// A RUN whose client has gone before its container has a pid never
// starts its command: the cancellation has no pid to kill yet, so the
// step looks at the context once it has one. (It used to run the
// command to its end, for nobody: a sleep held off every prune.)
func TestARunWhoseClientWentDoesNotStart(t *testing.T) {
	l := newLab(t)
	img, err := l.d.images.Get("busybox")
	require.NoError(t, err)
	b := &buildBackend{d: l.d}
	parent, err := b.image(img)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := false
	var out bytes.Buffer
	_, err = b.Run(ctx, build.RunRequest{
		Parent: parent, Command: []string{"echo", "ran"}, Stdout: &out, Stderr: &out,
		Started: func(string) { started = true },
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, started, "the step's container was announced")
	assert.Empty(t, out.String(), "the command ran")
	running, err := os.ReadDir(l.d.builderDir("running"))
	require.NoError(t, err)
	assert.Empty(t, running, "the step's record is left")
}
