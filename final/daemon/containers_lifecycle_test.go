package daemon

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// S28: stop sends SIGTERM, then SIGKILL after the grace period. A shell
// as PID 1 has no handler for SIGTERM, so the kernel drops it: only the
// SIGKILL of stop -t ends it (pitfall 7). kill ends it at once.
func TestS28_StopEscalatesAndKillIsImmediate(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "echo up; sleep 1000")
	begin := time.Now()
	assert.Equal(t, "stubborn\n", l.ok("stop", "-t", "1", "stubborn"))
	took := time.Since(begin)
	assert.GreaterOrEqual(t, took, time.Second, "SIGTERM was ignored: stop waited the grace period")
	assert.Less(t, took, 5*time.Second, "then SIGKILL ended it")
	info := l.inspect("stubborn")
	assert.Equal(t, 137, info.State.ExitCode, "killed by SIGKILL")
	_, errOut, code := l.docker("", "stop", "stubborn")
	assert.Equal(t, 0, code, "stopping a stopped container is no error: %s", errOut)

	// A command that handles the signal ends on it.
	l.ok("run", "-d", "--name", "polite", "busybox", "sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done")
	eventually(t, func() bool { out, _ := l.logs("polite"); return out == "ready\n" }, "the trap is set")
	begin = time.Now()
	l.ok("stop", "polite")
	assert.Less(t, time.Since(begin), 3*time.Second)
	assert.Equal(t, 0, l.inspect("polite").State.ExitCode)
	out, _ := l.logs("polite")
	assert.Equal(t, "ready\nbye\n", out)

	// kill -s: the signal asked for.
	l.ok("run", "-d", "--name", "usr1", "busybox", "sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done")
	eventually(t, func() bool { out, _ := l.logs("usr1"); return out == "ready\n" }, "the trap is set")
	l.ok("kill", "-s", "USR1", "usr1")
	assert.Equal(t, "7\n", l.ok("wait", "usr1"))
	_, errOut, code = l.docker("", "kill", "usr1")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "is not running")

	// kill: SIGKILL, at once.
	l.ok("start", "stubborn")
	begin = time.Now()
	l.ok("kill", "stubborn")
	assert.Less(t, time.Since(begin), 3*time.Second)
	assert.Equal(t, signalOf(syscall.SIGKILL), l.wait("stubborn"))
	_, err := l.client.ContainerKill(labCtx(t), "stubborn", client.ContainerKillOptions{Signal: "NOSUCH"})
	assert.True(t, errdefs.IsInvalidArgument(err), "%v", err)
}

// S27: start runs a stopped container again: the same container, its
// writable layer as it was left, its log appended to; start -a attaches.
func TestS27_StartAgain(t *testing.T) {
	l := newLab(t)
	out, errOut, code := l.docker("", "run", "--name", "again", "busybox", "sh", "-c", "echo run >> /counter; wc -l < /counter")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "1\n", out)
	out, errOut, code = l.docker("", "start", "-a", "again")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "2\n", out, "the file written by the first run is still there")
	assert.Equal(t, "again\n", l.ok("start", "again"))
	assert.Equal(t, "0\n", l.ok("wait", "again"))
	out, _ = l.logs("again")
	assert.Equal(t, "1\n2\n3\n", out, "one log over the runs")

	// start -i: the container's stdin, attached.
	l.ok("create", "-i", "--name", "cat", "busybox", "cat")
	out, errOut, code = l.docker("piped in\n", "start", "-ai", "cat")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "piped in\n", out)

	_, errOut, code = l.docker("", "start", "no-such-container")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "No such container: no-such-container")
}

// S29: rm refuses a running container and removes a stopped one; rm -f
// kills it first. Nothing of a removed container is left.
func TestS29_RemoveRefusesARunningContainer(t *testing.T) {
	l := newLab(t)
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "busy", "busybox", "sleep", "1000"))
	_, errOut, code := l.docker("", "rm", "busy")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "You cannot remove a running container "+id+". Stop the container before attempting removal or force remove")
	assert.Equal(t, container.StateRunning, l.inspect("busy").State.Status, "untouched")

	st := l.state(id)
	assert.Equal(t, "busy\n", l.ok("rm", "-f", "busy"))
	assert.NoError(t, labtest.ProcessGone(st.Pid))
	assert.NoError(t, labtest.ProcessGone(st.ShimPid))
	_, err := l.client.ContainerInspect(labCtx(t), id, client.ContainerInspectOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	assert.NoDirExists(t, l.opts.DataRoot+"/containers/"+id)
	l.ok("run", "--name", "busy", "busybox", "true") // the name is free
	l.ok("rm", "busy")
}

// wait: not-running returns at once for a stopped container; next-exit
// waits for the next run; removed waits for rm.
func TestWaitConditions(t *testing.T) {
	l := newLab(t)
	id := l.run("waiter", container.Config{Cmd: []string{"sh", "-c", "exit 5"}}, nil)
	assert.Equal(t, int64(5), l.wait(id))
	assert.Equal(t, int64(5), l.wait(id), "not running: at once, with the last status")

	next := l.client.ContainerWait(labCtx(t), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	removed := l.client.ContainerWait(labCtx(t), id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	select {
	case r := <-next.Result:
		t.Fatalf("next-exit returned before a start: %v", r)
	case <-time.After(200 * time.Millisecond):
	}
	_, err := l.client.ContainerStart(labCtx(t), id, client.ContainerStartOptions{})
	require.NoError(t, err)
	select {
	case r := <-next.Result:
		assert.Equal(t, int64(5), r.StatusCode)
	case err := <-next.Error:
		t.Fatal(err)
	}
	select {
	case r := <-removed.Result:
		t.Fatalf("removed returned before rm: %v", r)
	case <-time.After(100 * time.Millisecond):
	}
	_, err = l.client.ContainerRemove(labCtx(t), id, client.ContainerRemoveOptions{})
	require.NoError(t, err)
	select {
	case r := <-removed.Result:
		assert.Equal(t, int64(5), r.StatusCode)
	case err := <-removed.Error:
		t.Fatal(err)
	}
}

// restart: stop (with the grace period), then start.
func TestRestart(t *testing.T) {
	l := newLab(t)
	l.ok("run", "-d", "--name", "restarter", "busybox", "sh", "-c", "echo started; sleep 1000")
	first := l.inspect("restarter").State.StartedAt
	l.ok("restart", "-t", "0", "restarter")
	info := l.inspect("restarter")
	assert.True(t, info.State.Running)
	assert.NotEqual(t, first, info.State.StartedAt, "a new run")
	eventually(t, func() bool { out, _ := l.logs("restarter"); return out == "started\nstarted\n" }, "two runs in the log")
}

// restart of an --rm container starts it again on the same layer, as
// dockerd does: the stop in between does not remove it. The run after
// does. Its layer, thrown away at the end, is mounted volatile (chapter
// 04), and mounts again all the same; a plain container's is not.
func TestRestartOfAnRmContainer(t *testing.T) {
	l := newLab(t)
	rootMount := "grep '^overlay / ' /proc/mounts"
	id := strings.TrimSpace(l.ok("run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "echo run >> /runs; "+rootMount+"; sleep 1000"))
	// `run -d` returns once the command started, not once it wrote its
	// line: wait for each run's line before going on.
	runs := func() string {
		out, _, _ := l.docker("", "exec", id, "cat", "/runs")
		return out
	}
	eventually(t, func() bool { return runs() == "run\n" }, "the first run writes its line")
	l.ok("restart", "-t", "0", id)
	assert.True(t, l.inspect(id).State.Running)
	eventually(t, func() bool { return strings.Count(runs(), "run\n") >= 2 }, "the second run writes its line")
	assert.Equal(t, "run\nrun\n", runs(), "the second run found the first one's layer")
	out, _ := l.logs(id)
	assert.Contains(t, out, "volatile")

	l.ok("stop", "-t", "0", id)
	eventually(t, func() bool {
		_, err := l.client.ContainerInspect(labCtx(t), id, client.ContainerInspectOptions{})
		return errdefs.IsNotFound(err)
	}, "the end of the run removes it")
	assert.NoDirExists(t, l.opts.DataRoot+"/containers/"+id)

	assert.NotContains(t, l.ok("run", "--name", "kept", "--network", "none", "busybox", "sh", "-c", rootMount), "volatile")
}

// run --rm attaches to the container's output, which it reads from the
// container's log, and the container is removed as soon as it exits. The
// removal waits for the attached clients to read the last line: runs
// side by side, whose removals are quick, never lose their output (they
// did, a few in a hundred, when the removal renamed the log away before
// the attachment had opened it).
func TestRunRmNeverLosesItsOutput(t *testing.T) {
	l := newLab(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lost []string
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				want := fmt.Sprintf("hi %d.%d", w, i)
				out, errOut, code := l.docker("", "run", "--rm", "--network", "none", "busybox", "echo", want)
				if code != 0 || out != want+"\n" {
					mu.Lock()
					lost = append(lost, fmt.Sprintf("%s: got %q (status %d, %s)", want, out, code, errOut))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Empty(t, lost)
}
