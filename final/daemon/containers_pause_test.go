package daemon

import (
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/02-cgroups/cgroup"
)

// docker pause and unpause, through the docker CLI and the moby client:
// chapter 02's freezer on the container's cgroup.

// ticker is a command that writes a line every 20 ms: its log shows
// whether it makes progress.
var ticker = []string{"busybox", "sh", "-c", "while :; do echo tick; sleep 0.02; done"}

// newPauseLab is newLab, with every container of the lab thawed before
// the lab's cleanup removes them. Should a test fail with a container
// frozen, the cleanup's rm -f must still end it, and on cgroup v1 a
// frozen process does not die of SIGKILL.
func newPauseLab(t *testing.T) *lab {
	l := newLab(t)
	t.Cleanup(func() {
		if l.d == nil {
			return
		}
		list, _ := l.d.containers.List()
		for _, c := range list {
			if cg, err := loadCgroup(l.opts.DataRoot, c.ID()); err == nil {
				_ = cg.Thaw()
			}
		}
	})
	return l
}

// freezerState reads the freezer of the container's cgroup.
func (l *lab) freezerState(id string) cgroup.FreezerState {
	l.t.Helper()
	cg, err := loadCgroup(l.opts.DataRoot, id)
	require.NoError(l.t, err)
	st, err := cg.FreezerState()
	require.NoError(l.t, err)
	return st
}

// logLen is the length of a container's stdout so far.
func (l *lab) logLen(name string) int {
	l.t.Helper()
	out, _ := l.logs(name)
	return len(out)
}

func TestPauseFreezesAndUnpauseResumes(t *testing.T) {
	l := newPauseLab(t)
	id := strings.TrimSpace(l.ok(append([]string{"run", "-d", "--name", "ticker"}, ticker...)...))
	eventually(t, func() bool { return l.logLen("ticker") > 0 }, "the ticker ticks")

	assert.Equal(t, "ticker\n", l.ok("pause", "ticker"))
	assert.Equal(t, cgroup.Frozen, l.freezerState(id))
	info := l.inspect("ticker")
	assert.True(t, info.State.Paused)
	assert.True(t, info.State.Running, "a paused container is still running, as in Docker")
	assert.Equal(t, container.StatePaused, info.State.Status)
	assert.Positive(t, info.State.Pid)

	// No progress while paused.
	before := l.logLen("ticker")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, before, l.logLen("ticker"), "a frozen command writes nothing")

	// ps and info show it as docker does.
	ps := l.ok("ps", "--format", "{{.Names}}|{{.State}}|{{.Status}}")
	assert.Regexp(t, `^ticker\|paused\|Up .* \(Paused\)\n$`, ps)
	assert.Equal(t, "ticker\n", l.ok("ps", "--filter", "status=paused", "--format", "{{.Names}}"))
	assert.Empty(t, l.ok("ps", "--filter", "status=running", "--format", "{{.Names}}"))
	assert.Equal(t, "1 0 1\n", l.ok("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}}"))

	// What Docker refuses while paused, with its words.
	_, errOut, code := l.docker("", "pause", "ticker")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Container "+id+" is already paused")
	_, errOut, code = l.docker("", "exec", "ticker", "true")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "Container "+id+" is paused, unpause the container before exec")
	_, errOut, code = l.docker("", "start", "ticker")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cannot start a paused container, try unpause instead")

	// The pause is the kernel's: a new daemon finds it.
	l.restart()
	assert.True(t, l.inspect("ticker").State.Paused)

	assert.Equal(t, "ticker\n", l.ok("unpause", "ticker"))
	assert.Equal(t, cgroup.Thawed, l.freezerState(id))
	info = l.inspect("ticker")
	assert.False(t, info.State.Paused)
	assert.Equal(t, container.StateRunning, info.State.Status)
	eventually(t, func() bool { return l.logLen("ticker") > before }, "the ticker goes on")
	assert.Regexp(t, `^ticker\|running\|Up [^(]*\n$`, l.ok("ps", "--format", "{{.Names}}|{{.State}}|{{.Status}}"))
	assert.Equal(t, "1 1 0\n", l.ok("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}}"))

	_, errOut, code = l.docker("", "unpause", "ticker")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Container "+id+" is not paused")
	l.ok("exec", "ticker", "true")
}

// The API's answers: 204, or 409 with Docker's message, or 404.
func TestPauseConflicts(t *testing.T) {
	l := newPauseLab(t)
	ctx := labCtx(t)
	id := l.create("idle", container.Config{Cmd: []string{"sleep", "1000"}}, nil)

	_, err := l.client.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	assert.True(t, errdefs.IsConflict(err), "pausing a created container: %v", err)
	assert.ErrorContains(t, err, "Container "+id+" is not running")
	_, err = l.client.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	assert.True(t, errdefs.IsConflict(err), "unpausing a created container: %v", err)
	assert.ErrorContains(t, err, "Container "+id+" is not paused")
	_, err = l.client.ContainerPause(ctx, "nosuch", client.ContainerPauseOptions{})
	assert.True(t, errdefs.IsNotFound(err), "%v", err)

	_, err = l.client.ContainerStart(ctx, id, client.ContainerStartOptions{})
	require.NoError(t, err)
	_, err = l.client.ContainerPause(ctx, "idle", client.ContainerPauseOptions{})
	require.NoError(t, err)
	_, err = l.client.ContainerPause(ctx, "idle", client.ContainerPauseOptions{})
	assert.True(t, errdefs.IsConflict(err), "%v", err)
	_, err = l.client.ExecCreate(ctx, "idle", client.ExecCreateOptions{Cmd: []string{"true"}})
	assert.True(t, errdefs.IsConflict(err), "%v", err)
	_, err = l.client.ContainerUnpause(ctx, "idle", client.ContainerUnpauseOptions{})
	require.NoError(t, err)
	_, err = l.client.ContainerUnpause(ctx, "idle", client.ContainerUnpauseOptions{})
	assert.True(t, errdefs.IsConflict(err), "%v", err)
}

// kill, stop and rm -f end a paused container as they do a running one.
// A frozen process cannot act on a signal (on cgroup v1 not even on
// SIGKILL), so the daemon thaws it after the signal, as Docker does.
func TestStopKillRemoveAPausedContainer(t *testing.T) {
	l := newPauseLab(t)

	// kill: SIGKILL, and the thaw lets it take effect.
	l.ok("run", "-d", "--name", "killed", "busybox", "sleep", "1000")
	l.ok("pause", "killed")
	begin := time.Now()
	assert.Equal(t, "killed\n", l.ok("kill", "killed"))
	assert.Less(t, time.Since(begin), 5*time.Second)
	assert.Equal(t, signalOf(syscall.SIGKILL), l.wait("killed"))
	info := l.inspect("killed")
	assert.False(t, info.State.Paused)
	assert.Equal(t, container.StateExited, info.State.Status)

	// stop: the stop signal, then the thaw, so a command that handles
	// it ends on it, well within the grace period.
	l.ok("run", "-d", "--name", "polite", "busybox", "sh", "-c", "trap 'echo bye; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
	eventually(t, func() bool { out, _ := l.logs("polite"); return out == "ready\n" }, "the trap is set")
	l.ok("pause", "polite")
	begin = time.Now()
	assert.Equal(t, "polite\n", l.ok("stop", "-t", "30", "polite"))
	assert.Less(t, time.Since(begin), 10*time.Second)
	assert.Equal(t, 3, l.inspect("polite").State.ExitCode)
	out, _ := l.logs("polite")
	assert.Equal(t, "ready\nbye\n", out)

	// stop of a command that ignores SIGTERM (a shell as PID 1): the
	// grace period, then SIGKILL.
	l.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "while :; do sleep 0.05; done")
	l.ok("pause", "stubborn")
	begin = time.Now()
	l.ok("stop", "-t", "1", "stubborn")
	took := time.Since(begin)
	assert.GreaterOrEqual(t, took, time.Second)
	assert.Less(t, took, 10*time.Second)
	assert.Equal(t, 137, l.inspect("stubborn").State.ExitCode)

	// rm -f.
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "gone", "busybox", "sleep", "1000"))
	l.ok("pause", "gone")
	_, errOut, code := l.docker("", "rm", "gone")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "You cannot remove a running container")
	begin = time.Now()
	assert.Equal(t, "gone\n", l.ok("rm", "-f", "gone"))
	assert.Less(t, time.Since(begin), 5*time.Second)
	_, err := loadCgroup(l.opts.DataRoot, id)
	assert.ErrorIs(t, err, os.ErrNotExist, "the cgroup went with the container")
}

// Docker's rule for other signals: with no stop signal configured, any
// signal thaws the container; with one, only that one (or SIGKILL)
// does, and another waits, pending, for the unpause.
func TestKillSignalOfAPausedContainer(t *testing.T) {
	l := newPauseLab(t)
	const usr1 = "trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done"

	l.ok("run", "-d", "--name", "plain", "busybox", "sh", "-c", usr1)
	eventually(t, func() bool { out, _ := l.logs("plain"); return out == "ready\n" }, "the trap is set")
	l.ok("pause", "plain")
	l.ok("kill", "-s", "USR1", "plain")
	assert.Equal(t, "7\n", l.ok("wait", "plain"), "no stop signal configured: USR1 thawed it")

	l.ok("run", "-d", "--name", "usr2", "--stop-signal", "USR2", "busybox", "sh", "-c", usr1)
	eventually(t, func() bool { out, _ := l.logs("usr2"); return out == "ready\n" }, "the trap is set")
	l.ok("pause", "usr2")
	l.ok("kill", "-s", "USR1", "usr2")
	time.Sleep(200 * time.Millisecond)
	info := l.inspect("usr2")
	assert.True(t, info.State.Paused, "USR1 is not its stop signal: it stays paused")
	assert.True(t, info.State.Running)
	l.ok("unpause", "usr2")
	assert.Equal(t, "7\n", l.ok("wait", "usr2"), "the pending USR1 is handled once it runs")
}

// commit pauses a running container while it copies its writable layer
// (docker commit's default), and thaws it after; --pause=false does not.
func TestCommitPausesARunningContainer(t *testing.T) {
	l := newPauseLab(t)
	// 64 MiB in the writable layer: the copy takes long enough to be
	// seen frozen from outside.
	id := strings.TrimSpace(l.ok("run", "-d", "--name", "busy", "busybox", "sh", "-c",
		"dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; echo ready; while :; do echo tick; sleep 0.02; done"))
	eventually(t, func() bool { out, _ := l.logs("busy"); return strings.HasPrefix(out, "ready\n") }, "the layer is written")

	// watch polls the container's freezer until stop is closed, and
	// reports whether it ever saw it frozen.
	watch := func() (stop func() bool) {
		cg, err := loadCgroup(l.opts.DataRoot, id)
		require.NoError(t, err)
		var saw atomic.Bool
		done, finished := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(finished)
			for {
				if st, err := cg.FreezerState(); err == nil && st == cgroup.Frozen {
					saw.Store(true)
				}
				select {
				case <-done:
					return
				case <-time.After(200 * time.Microsecond):
				}
			}
		}()
		return func() bool {
			close(done)
			<-finished
			return saw.Load()
		}
	}

	stop := watch()
	l.ok("commit", "busy", "snap:paused")
	assert.True(t, stop(), "the container was frozen during the commit")
	assert.Equal(t, cgroup.Thawed, l.freezerState(id), "and thawed after")
	before := l.logLen("busy")
	eventually(t, func() bool { return l.logLen("busy") > before }, "the container goes on")

	stop = watch()
	l.ok("commit", "--pause=false", "busy", "snap:running")
	assert.False(t, stop(), "--pause=false: never frozen")

	// A paused container stays paused.
	l.ok("pause", "busy")
	l.ok("commit", "busy", "snap:again")
	assert.Equal(t, cgroup.Frozen, l.freezerState(id))
	assert.True(t, l.inspect("busy").State.Paused)

	// The images hold the file.
	out, errOut, code := l.docker("", "run", "--rm", "snap:paused", "wc", "-c", "/big")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "67108864 /big\n", out)
}
