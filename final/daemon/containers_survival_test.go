package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/final/api"
)

// Survival: every container runs under its own shim, which outlives the
// daemon; all the daemon keeps is on disk. A new daemon over the same
// data root finds every container as its shim left it: running ones
// still running and still logged, exits recorded with their status, and
// --rm containers that ended meanwhile removed at its start.
//
// Nothing here waits on the clock: the workers log, then wait to be
// released (by a file made through exec) so that they still run after
// the restart however slow the machine; the two that end while no
// daemon runs are seen gone, their shims too, before the next daemon
// starts. The exec that releases a worker is detached: once touch has
// made the file the worker may end, and with its init the kernel kills
// what is left in its PID namespace, touch too if it has not exited yet
// (an attached docker exec then says 137); the worker's status, 0,
// shows that the exec ran.
func TestSurvivalAcrossARestart(t *testing.T) {
	l := newLab(t)
	const n, lines = 10, 100
	var ids []string
	for i := range n {
		script := fmt.Sprintf("for i in $(seq 1 %d); do echo c%d-$i; sleep 0.02; done; while [ ! -e /tmp/release ]; do sleep 0.05; done", lines, i)
		ids = append(ids, strings.TrimSpace(l.ok("run", "-d", "--name", fmt.Sprintf("worker%d", i), "busybox", "sh", "-c", script)))
	}
	quits := strings.TrimSpace(l.ok("run", "-d", "--name", "quits-meanwhile", "busybox", "sh", "-c", "sleep 0.3; exit 9"))
	removed := strings.TrimSpace(l.ok("run", "-d", "--rm", "--name", "removed-meanwhile", "busybox", "sleep", "0.3"))
	shims := []*shimExit{l.shimExit(quits), l.shimExit(removed)}

	l.stop() // the daemon goes: its server, its memory
	for _, s := range shims {
		s.wait(t, "the two short ones end while no daemon runs")
	}
	l.start()

	out := l.ok("ps", "--format", "{{.Names}}")
	running := strings.Fields(out)
	assert.Len(t, running, n, "the workers run on: %s", out)
	info := l.inspect("quits-meanwhile")
	assert.Equal(t, "exited", string(info.State.Status), "an exit while no daemon ran is recorded")
	assert.Equal(t, 9, info.State.ExitCode)
	_, errOut, code := l.docker("", "inspect", "removed-meanwhile")
	assert.NotEqual(t, 0, code, "an --rm container that ended meanwhile is removed at the start")
	assert.Contains(t, errOut, "No such object")

	for i, id := range ids {
		l.ok("exec", "-d", id, "touch", "/tmp/release")
		assert.Equal(t, "0\n", l.ok("wait", id), "worker %d", i)
		stdout, _ := l.logs(id)
		var want strings.Builder
		for j := 1; j <= lines; j++ {
			fmt.Fprintf(&want, "c%d-%d\n", i, j)
		}
		assert.Equal(t, want.String(), stdout, "worker %d's log is whole across the restart", i)
	}
}

// shimExit is the exit of a container's shim, which comes after its
// run's end and after the shim has recorded it and cleaned up: the
// container's own process gone is not enough, its shim may still be at
// work (a new daemon then leaves an --rm container to the shim's end,
// and removes it later, not at its start).
type shimExit struct {
	pid, fd int // fd: a pidfd on the shim, -1 if it was gone already
}

// shimExit holds the shim of container id, which runs, by a pidfd.
func (l *lab) shimExit(id string) *shimExit {
	l.t.Helper()
	st := l.state(id)
	require.NotZero(l.t, st.ShimPid, "container %s has a shim", id)
	fd, err := unix.PidfdOpen(st.ShimPid, 0)
	if errors.Is(err, unix.ESRCH) {
		return &shimExit{pid: st.ShimPid, fd: -1}
	}
	require.NoError(l.t, err, "pidfd of shim %d", st.ShimPid)
	s := &shimExit{pid: st.ShimPid, fd: fd}
	l.t.Cleanup(func() { _ = unix.Close(fd) })
	return s
}

// wait waits for the shim's exit: its pidfd becomes readable. The bound
// only turns a shim that never ends into a failure.
func (s *shimExit) wait(t *testing.T, msg string) {
	t.Helper()
	if s.fd < 0 {
		return
	}
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int((2 * time.Minute).Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		require.NoError(t, err, "polling shim %d", s.pid)
		require.Equal(t, 1, n, "shim %d still runs: %s", s.pid, msg)
		return
	}
}

// kill -9 of the daemon itself loses nothing either: the daemon runs as
// a process of its own here, is killed, and another one takes over.
func TestSurvivalOfKillNine(t *testing.T) {
	l := prepareLab(t)
	first := l.spawnDaemon()
	l.ok("run", "-d", "--name", "long", "busybox", "sh", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo tick$i; sleep 0.025; done; while [ ! -e /tmp/release ]; do sleep 0.05; done")
	short := strings.TrimSpace(l.ok("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 0.2; exit 6"))
	shortPid, err := strconv.Atoi(strings.TrimSpace(l.ok("inspect", "-f", "{{.State.Pid}}", short)))
	require.NoError(t, err)
	rss := first.rss()
	t.Logf("berthd (the test binary as a daemon) idle RSS: %d KiB", rss)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.cmd.Wait()

	require.NoError(t, labtest.ProcessGone(shortPid), "short exits with no daemon")
	second := l.spawnDaemon()
	assert.Equal(t, "long\n", l.ok("ps", "--format", "{{.Names}}"))
	assert.Equal(t, "6\n", l.ok("inspect", "-f", "{{.State.ExitCode}}", "short"))
	l.ok("exec", "-d", "long", "touch", "/tmp/release")
	assert.Equal(t, "0\n", l.ok("wait", "long"))
	stdout, _ := l.logs("long")
	assert.Equal(t, 40, strings.Count(stdout, "tick"), "every line of the log: %q", stdout)
	assert.True(t, strings.HasSuffix(stdout, "tick40\n"))
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	_ = second.cmd.Wait()
}

// labDaemonEnv, when set, makes the test binary a daemon of its own
// (labDaemonMain), configured by the JSON in the variable.
const labDaemonEnv = "BERTH_LAB_DAEMON"

// labDaemonConfig is what labDaemonMain is told.
type labDaemonConfig struct {
	Options Options
	Socket  string
}

// spawned is a daemon process started by the test.
type spawned struct {
	cmd *exec.Cmd
}

// spawnDaemon starts the test binary as a daemon over the lab's data
// root, serving on a socket of its own, which the lab's clients use.
func (l *lab) spawnDaemon() *spawned {
	l.t.Helper()
	dir, err := os.MkdirTemp("", "berth-lab-")
	require.NoError(l.t, err)
	l.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	l.sock = filepath.Join(dir, "berth.sock")
	cfg, err := json.Marshal(labDaemonConfig{Options: l.opts, Socket: l.sock})
	require.NoError(l.t, err)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), labDaemonEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	require.NoError(l.t, cmd.Start())
	s := &spawned{cmd: cmd}
	l.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	l.waitServing("the daemon serves")
	return s
}

// waitServing waits until a daemon accepts connections on the lab's
// socket.
func (l *lab) waitServing(what string) {
	l.t.Helper()
	require.Eventually(l.t, func() bool {
		c, err := net.Dial("unix", l.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, what)
}

// rss is the daemon's resident memory, in KiB.
func (s *spawned) rss() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return -1
}

// labDaemonMain is the test binary as a daemon: what berthd's main does,
// until it is killed (or told to stop with SIGTERM).
func labDaemonMain() int {
	var cfg labDaemonConfig
	if err := json.Unmarshal([]byte(os.Getenv(labDaemonEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "lab daemon:", err)
		return 2
	}
	d, err := New(cfg.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab daemon:", err)
		return 1
	}
	ln, err := api.ListenUnix(cfg.Socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab daemon:", err)
		return 1
	}
	srv := api.NewServer(d, api.Options{Version: "test"})
	var once sync.Once
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() {
		<-stop
		once.Do(func() { _ = srv.Close() })
	}()
	_ = srv.Serve(ln)
	_ = d.Close()
	return 0
}
