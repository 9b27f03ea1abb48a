package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/05-network/nettest"
	"github.com/berth-project/berth/07-logs/shim"
)

// eventTime is a moment as the docker CLI sends --since and --until.
func eventTime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// hexIDs are what differ between two engines doing the same: container,
// exec, image and network IDs.
var hexIDs = regexp.MustCompile(`(sha256:)?[0-9a-f]{64}`)

var reclaimed = regexp.MustCompile(`reclaimed:[0-9]+`)

// TestSameAsDockerd_Events runs the same docker CLI steps against berthd
// and a private dockerd 20.10 and compares what `docker events --since
// --until` prints of them: each event's type, action and attributes,
// IDs replaced.
func TestSameAsDockerd_Events(t *testing.T) {
	engines := compareEngines(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("in\n"), 0o644))
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		file := func(name string) string { return filepath.Join(dir, e.name+"-"+name) }
		since := time.Now()
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "ev-net")
			return err
		})
		must("volume", "create", "ev-vol")
		must("run", "-d", "--name", "ev-a", "--network", "ev-net", "-v", "ev-vol:/data", "--label", "tier=web", "busybox", "sleep", "1000")
		must("exec", "ev-a", "true")
		_, err := e.run("exec", "ev-a", "sh", "-c", "exit 3")
		require.Error(t, err)
		must("pause", "ev-a")
		must("unpause", "ev-a")
		must("rename", "ev-a", "ev-b")
		must("top", "ev-b")
		must("cp", "ev-b:/etc/hostname", file("hostname"))
		must("cp", filepath.Join(dir, "in.txt"), "ev-b:/tmp/")
		must("kill", "-s", "USR1", "ev-b") // ignored by the container's init
		must("stop", "-t", "1", "ev-b")
		// dockerd's commit keeps the container's labels, berth's
		// the image's: a --change gives both images the label.
		must("commit", "--change", "LABEL tier=web", "ev-b", "ev-img")
		must("tag", "ev-img", "ev-img:two")
		must("export", "-o", file("export.tar"), "ev-b")
		must("save", "-o", file("save.tar"), "ev-img:two")
		must("rm", "ev-b")
		must("rmi", "ev-img:two")
		must("rmi", "ev-img")
		must("load", "-i", file("save.tar"))
		must("rmi", "ev-img:two")
		// With a tag: for "ev-imp" alone dockerd names the tag event
		// "ev-imp", berth "ev-imp:latest" (the server completes the
		// reference before the engine sees it).
		must("import", file("export.tar"), "ev-imp:v1")
		must("rmi", "ev-imp:v1")
		must("network", "rm", "ev-net")
		must("volume", "rm", "ev-vol")
		until := time.Now()

		out := must("events", "--since", eventTime(since), "--until", eventTime(until), "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes}}")
		results[e.name] = strings.Split(strings.TrimSpace(hexIDs.ReplaceAllString(out, "<id>")), "\n")
	}
	assert.Equal(t, results["dockerd"], results["berthd"])
	if t.Failed() {
		t.Logf("dockerd:\n%s", strings.Join(results["dockerd"], "\n"))
		t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n"))
	}
}

// TestSameAsDockerd_EventsOfRunRestartAndNetworks: docker run attached
// (attach before start), --rm, restart, rm -f, network connect and
// disconnect of a running container, --network none, a restart policy
// and docker update, and prunes.
func TestSameAsDockerd_EventsOfRunRestartAndNetworks(t *testing.T) {
	engines := compareEngines(t)
	results := map[string][]string{}
	for _, e := range engines {
		must := e.mustFor(t)
		since := time.Now()
		nettest.Subnet(t, func(s netip.Prefix) error {
			_, err := e.run("network", "create", "--subnet", s.String(), "ev2-net")
			return err
		})
		must("run", "--name", "ev2-att", "--network", "none", "busybox", "true")
		must("run", "--rm", "--name", "ev2-rm", "--network", "none", "-v", "/data", "busybox", "true")
		must("run", "-d", "--name", "ev2-bg", "--network", "ev2-net", "busybox", "sleep", "1000")
		_, err := e.run("run", "--name", "ev2-fail", "--network", "none", "busybox", "/nosuch")
		require.Error(t, err, "a command that does not exist")
		must("rm", "ev2-fail")
		must("run", "--rm", "--name", "ev2-host", "--network", "host", "busybox", "true")
		must("run", "--rm", "--name", "ev2-join", "--network", "container:ev2-bg", "busybox", "true")
		must("network", "disconnect", "ev2-net", "ev2-bg")
		must("network", "connect", "ev2-net", "ev2-bg")
		must("restart", "-t", "0", "ev2-bg")
		// One at a time: the CLI removes several in parallel, and
		// their events would interleave as they please.
		must("rm", "-f", "ev2-bg")
		must("rm", "ev2-att")
		// A restart policy: the restart manager's start is reported
		// as docker start's, and docker update has its event.
		must("run", "-d", "--name", "ev2-pol", "--restart", "on-failure:1", "--network", "none", "busybox", "sh", "-c", "exit 3")
		require.Eventually(t, func() bool {
			out, err := e.run("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "ev2-pol")
			return err == nil && strings.TrimSpace(out) == "exited 1"
		}, time.Minute, 20*time.Millisecond, "%s: on-failure:1 restarts once, then stays exited", e.name)
		must("update", "--restart", "no", "ev2-pol")
		must("rm", "ev2-pol")
		must("create", "--name", "ev2-created", "--network", "none", "-v", "/anon", "busybox", "true")
		must("container", "prune", "-f")
		must("network", "prune", "-f")
		must("volume", "prune", "-f")
		until := time.Now()

		out := must("events", "--since", eventTime(since), "--until", eventTime(until), "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes}}")
		// The prunes' reclaimed space: berth counts the directories'
		// blocks (4096 for an empty layer or volume), dockerd only
		// the files'. That is the prunes' reports, not the events'.
		out = reclaimed.ReplaceAllString(out, "reclaimed:N")
		results[e.name] = strings.Split(strings.TrimSpace(hexIDs.ReplaceAllString(out, "<id>")), "\n")
	}
	// dockerd 20.10 reports a network disconnect of a running container
	// twice (its disconnectFromNetwork and DisconnectFromNetwork both
	// log it); berth once. The one duplicate is dropped.
	want := results["dockerd"]
	dup := "network disconnect map[container:<id> name:ev2-net type:bridge]"
	i := slices.Index(want, dup)
	require.True(t, i >= 0 && i+1 < len(want) && want[i+1] == dup, "dockerd's double disconnect: %q", want)
	want = slices.Delete(want, i, i+1)
	assert.Equal(t, want, results["berthd"])
	if t.Failed() {
		t.Logf("dockerd:\n%s", strings.Join(want, "\n"))
		t.Logf("berthd:\n%s", strings.Join(results["berthd"], "\n"))
	}
}

// startEvents runs `docker events args...` (the 28.x client) against the
// lab's daemon in the background and returns its lines as they come.
func startEvents(t *testing.T, l *lab, args ...string) <-chan string {
	t.Helper()
	cmd := exec.Command(dockerBin, append([]string{"events"}, args...)...)
	cmd.Env = l.dockerEnv()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return lines
}

// readUntil reads lines until last, and returns them all.
func readUntil(t *testing.T, lines <-chan string, last string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("docker events ended before %q; saw %q", last, seen)
			}
			seen = append(seen, l)
			if l == last {
				return seen
			}
		case <-timeout:
			t.Fatalf("no %q from docker events; saw %q", last, seen)
		}
	}
}

// TestDockerEventsFollowsBerthd: `docker events` shows a container's
// life while it happens, filtered, and the ring answers --since after
// the fact.
func TestDockerEventsFollowsBerthd(t *testing.T) {
	l := newLab(t)
	format := `{{.Action}}|{{index .Actor.Attributes "exitCode"}}`
	before := time.Now()
	live := startEvents(t, l, "--filter", "container=evl", "--filter", "type=container", "--format", format)
	// Subscribed: what happens from now on reaches it.
	eventually(t, func() bool { return l.d.events.Subscribers() == 1 }, "docker events subscribed")

	// The steps run while the stream is read, as a user's second
	// terminal would run them.
	steps := make(chan error, 1)
	go func() {
		for _, args := range [][]string{
			{"run", "-d", "--name", "evl", "busybox", "sleep", "1000"},
			{"run", "-d", "--name", "other", "busybox", "true"}, // filtered out
			{"exec", "evl", "true"},
			{"stop", "-t", "0", "evl"},
			{"rm", "evl"},
		} {
			cmd := exec.Command(dockerBin, args...)
			cmd.Env = l.dockerEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				steps <- fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
				return
			}
		}
		steps <- nil
	}()
	want := []string{"create|", "start|", "exec_create: true |", "exec_start: true |", "exec_die|0", "kill|", "kill|", "die|137", "stop|", "destroy|"}
	assert.Equal(t, want, readUntil(t, live, "destroy|"))
	require.NoError(t, <-steps)

	// After the fact, from the ring: the same, and the other
	// container's with another filter.
	out := l.ok("events", "--since", eventTime(before), "--until", eventTime(time.Now()), "--filter", "container=evl", "--format", format)
	assert.Equal(t, want, strings.Split(strings.TrimSpace(out), "\n"))
	out = l.ok("events", "--since", eventTime(before), "--until", eventTime(time.Now()), "--filter", "container=other", "--filter", "event=die", "--format", "{{.Actor.Attributes.name}} {{.Action}}")
	assert.Equal(t, "other die\n", out)
}

// A --until in the future: the stream shows what happens until then,
// and ends by itself.
func TestDockerEventsUntilEndsTheStream(t *testing.T) {
	l := newLab(t)
	since := time.Now()
	l.ok("volume", "create", "evu")
	lines := startEvents(t, l, "--since", eventTime(since), "--until", eventTime(time.Now().Add(2*time.Second)), "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
	var got []string
	for line := range lines { // closed when the client exits
		got = append(got, line)
	}
	assert.Equal(t, []string{"volume create evu"}, got)
	assert.Equal(t, 0, l.d.events.Subscribers())
}

// A client that stops reading never holds the daemon up: once its
// buffer is full its stream ends, and the daemon goes on.
func TestEventsSlowClientIsCutOff(t *testing.T) {
	l := newLab(t)
	conn, err := net.Dial("unix", l.sock)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /v1.41/events HTTP/1.1\r\nHost: berth\r\n\r\n")
	require.NoError(t, err)
	eventually(t, func() bool { return l.d.events.Subscribers() == 1 }, "the client subscribed")

	// Far more than the socket's buffers and the subscriber's hold.
	const n = 20000
	for i := range n {
		l.d.emitVolume(fmt.Sprintf("v%d", i), "create", nil)
	}
	eventually(t, func() bool { return l.d.events.Subscribers() == 0 }, "the slow client was dropped")

	// What it reads now is what was buffered, then the end.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	dec := json.NewDecoder(resp.Body)
	count := 0
	for {
		var m struct{ Actor struct{ ID string } }
		if err := dec.Decode(&m); err != nil {
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the stream is cut, not ended cleanly")
			break
		}
		require.Equal(t, fmt.Sprintf("v%d", count), m.Actor.ID, "in order, none skipped before the cut")
		count++
	}
	assert.Less(t, count, n)
	assert.Positive(t, count)
}

// A container the kernel kills for memory: oom, then die (137), as
// dockerd reports them.
func TestEventsOOM(t *testing.T) {
	swaps, err := os.ReadFile("/proc/swaps")
	require.NoError(t, err)
	labtest.Need(t, strings.Count(string(swaps), "\n") <= 1, "a host without swap (with swap, a container over its --memory swaps instead of dying)")
	l := newLab(t)
	since := time.Now()
	_, errOut, code := l.docker("", "run", "--name", "evoom", "--memory", "8m", "busybox", "sh", "-c", "x=$(head -c 64m /dev/zero | tr '\\0' x); echo ${#x}")
	require.Equal(t, 137, code, errOut)
	// The shim records OOMKilled as it cleans up, after the exit.
	eventually(t, func() bool { return l.inspect("evoom").State.OOMKilled }, "inspect shows OOMKilled")
	out := l.ok("events", "--since", eventTime(since), "--until", eventTime(time.Now()), "--filter", "container=evoom", "--format", "{{.Action}}")
	got := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, got, 5, out)
	assert.Equal(t, []string{"create", "attach", "start"}, got[:3])
	// oom before die as a rule (the cgroup's counter is read at the
	// exit); after it if the shim's clean-up removed the cgroup first
	// (then its record says it): once, in either case.
	assert.ElementsMatch(t, []string{"oom", "die"}, got[3:])
}

// A container that dies while no berthd runs gets no die event from the
// next berthd, as from dockerd's restore; what happens after the restart
// is reported as ever.
func TestEventsAcrossARestart(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "evr", "busybox", "sleep", "1000"))
	st := l.state(id)
	e, err := l.d.lookup(id)
	require.NoError(t, err)
	c := e.c
	l.stop()
	require.NoError(t, syscall.Kill(st.Pid, syscall.SIGKILL))
	// The shim, alone, records the exit.
	eventually(t, func() bool {
		now, err := c.State()
		return err == nil && now.Status == shim.Exited
	}, "the shim recorded the exit")
	since := time.Now()
	l.start()
	l.ok("start", "evr")
	l.ok("stop", "-t", "0", "evr")
	out := l.ok("events", "--since", eventTime(since), "--until", eventTime(time.Now()), "--filter", "container=evr", "--format", "{{.Action}}")
	assert.Equal(t, "start\nkill\nkill\ndie\nstop\n", out)
}
