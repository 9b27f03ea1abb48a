package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/07-logs/logs"
)

// testRuntime runs chapter 01 containers (namespaces, the host's files):
// enough to supervise, and nothing that needs cleaning up but a marker
// that shows Cleanup ran.
var testRuntime = Runtime{
	Start: func(c *Container, stdio namespace.Stdio) (*namespace.Process, error) {
		if c.Config.Image == "no-such-image" {
			return nil, errors.New("no such image")
		}
		// The "image" host-net forks init unlike a spare's prestart.
		p, err := namespace.Start(namespace.Config{Detached: true, HostNetwork: c.Config.Image == "host-net"}, stdio)
		if err != nil {
			return nil, err
		}
		spec := namespace.Spec{Hostname: "t", Command: namespace.Command{Args: c.Config.Command, Env: namespace.DefaultEnv("t")}}
		// The "image" with-init keeps berth-init as PID 1 (run --init).
		spec.Init = c.Config.Image == "with-init"
		if err := p.Release(spec); err != nil {
			_ = p.Kill()
			return nil, err
		}
		return p, nil
	},
	Cleanup: func(c *Container, st *State) error {
		f, err := os.OpenFile(filepath.Join(c.Dir(), "cleanups"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = fmt.Fprintln(f, st.ExitCode)
		return err
	},
}

// The test binary is the shim and the container's init too.
func TestMain(m *testing.M) {
	testRuntime.Main()
	labtest.Main(m, ContainerInit(namespace.Init))
}

// monitors runs f once with the C monitor and once with the Go one.
func monitors(t *testing.T, f func(t *testing.T)) {
	t.Run("C", func(t *testing.T) {
		if !haveCMonitor {
			t.Skip("built without cgo: no C monitor")
		}
		t.Setenv(MonitorEnv, "c")
		f(t)
	})
	t.Run("Go", func(t *testing.T) {
		t.Setenv(MonitorEnv, "go")
		f(t)
	})
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	return s
}

// create records a container and removes it (forcibly) at the end of the
// test, checking that its shim and its processes are gone.
func create(t *testing.T, s *Store, cfg Config) *Container {
	t.Helper()
	c, err := s.Create(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		st, _ := c.rawState()
		require.NoError(t, testRuntime.RemoveContainer(c, true))
		if st.ShimPid > 0 {
			assert.NoError(t, labtest.ProcessGone(st.ShimPid), "shim")
		}
		if st.Pid > 0 {
			assert.NoError(t, labtest.ProcessGone(st.Pid), "init")
		}
		assert.NoDirExists(t, c.Dir())
	})
	return c
}

func start(t *testing.T, s *Store, cfg Config) (*Container, State) {
	t.Helper()
	c := create(t, s, cfg)
	st, err := testRuntime.StartContainer(c)
	require.NoError(t, err)
	// A short command may be over by the time the state is read: it
	// ran all the same.
	require.Contains(t, []Status{Running, Exited}, st.Status)
	require.NotZero(t, st.ShimPid)
	return c, st
}

func logText(t *testing.T, c *Container, stream logs.Stream) string {
	t.Helper()
	var b bytes.Buffer
	o := &logs.Output{}
	switch stream {
	case logs.Stdout:
		o.Stdout = &b
	case logs.Stderr:
		o.Stderr = &b
	case logs.Stdin:
		o.Stdin = &b
	}
	require.NoError(t, logs.Copy(context.Background(), c.LogPath(), logs.ReadOptions{Tail: logs.All}, o))
	return b.String()
}

func procStatus(t *testing.T, pid int, key string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestNamesAreUniqueAndGenerated(t *testing.T) {
	s := newStore(t)
	a, err := s.Create(Config{Name: "web", Command: []string{"true"}})
	require.NoError(t, err)
	_, err = s.Create(Config{Name: "web", Command: []string{"true"}})
	assert.ErrorIs(t, err, ErrNameInUse)
	_, err = s.Create(Config{Name: "-bad", Command: []string{"true"}})
	assert.Error(t, err)

	b, err := s.Create(Config{Command: []string{"true"}})
	require.NoError(t, err)
	assert.Regexp(t, `^[a-z]+_[a-z]+[0-9]*$`, b.Name(), "a generated name is adjective_noun")

	got, err := s.Get("web")
	require.NoError(t, err)
	assert.Equal(t, a.ID(), got.ID())
	got, err = s.Get(b.ID()[:6])
	require.NoError(t, err)
	assert.Equal(t, b.Name(), got.Name())
	_, err = s.Get("nope")
	assert.ErrorIs(t, err, ErrNotFound)

	// Two containers whose IDs share a prefix: the prefix is ambiguous.
	_, err = s.Create(Config{ID: "abc1" + strings.Repeat("0", 60), Command: []string{"true"}})
	require.NoError(t, err)
	_, err = s.Create(Config{ID: "abc2" + strings.Repeat("0", 60), Command: []string{"true"}})
	require.NoError(t, err)
	_, err = s.Get("abc")
	assert.ErrorIs(t, err, ErrAmbiguous)

	list, err := s.List()
	require.NoError(t, err)
	assert.Len(t, list, 4)
}

func TestTwoCreatesOfOneNameOneWins(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Create(Config{Name: "db", Command: []string{"true"}})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, ErrNameInUse)
		}
	}
	assert.Equal(t, 1, won)
}

func TestS25_DetachedContainerStopsWhenItsCommandEnds(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "echo started; sleep 0.3; echo done >&2; exit 3"}})
		assert.True(t, c.Running())
		assert.Greater(t, st.Pid, 0)

		final, err := c.Wait(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, Exited, final.Status)
		assert.Equal(t, 3, final.ExitCode)
		assert.False(t, final.FinishedAt.Before(final.StartedAt))
		assert.Equal(t, "started\n", logText(t, c, logs.Stdout))
		assert.Equal(t, "done\n", logText(t, c, logs.Stderr))
		assert.NoError(t, labtest.ProcessGone(st.Pid), "init is gone")
		assert.NoError(t, labtest.ProcessGone(st.ShimPid), "the shim is gone too")
		cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
		require.NoError(t, err)
		assert.Equal(t, "3\n", string(cleanups), "Cleanup ran once, after the exit")
		raw, err := c.rawState()
		require.NoError(t, err)
		assert.Equal(t, Exited, raw.Status, "the final state is written")
		assert.Equal(t, 3, raw.ExitCode)
		assert.FileExists(t, filepath.Join(c.Dir(), exitFile), "exit.json stays, the durable record of the exit")
	})
}

func TestTheShimOutlivesWhoStartedIt(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		c, st := start(t, s, Config{Command: []string{"/bin/sleep", "30"}})
		// The shim is not our child: it was adopted by init (or a
		// subreaper) when the process we started exited. Killing us
		// would not touch it.
		ppid, err := strconv.Atoi(procStatus(t, st.ShimPid, "PPid"))
		require.NoError(t, err)
		assert.NotEqual(t, os.Getpid(), ppid)
		sid, err := unix.Getsid(st.ShimPid)
		require.NoError(t, err)
		assert.Equal(t, st.ShimPid, sid, "the shim leads a session of its own")
		// The container is the shim's child, and runs.
		initPPid, err := strconv.Atoi(procStatus(t, st.Pid, "PPid"))
		require.NoError(t, err)
		assert.Equal(t, st.ShimPid, initPPid)
		assert.True(t, c.Running())
	})
}

func TestShimMemory(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "while :; do echo tick; sleep 0.05; done"}})
		time.Sleep(300 * time.Millisecond)
		require.True(t, c.Running())
		rss := procStatus(t, st.ShimPid, "VmRSS")
		kb, err := strconv.Atoi(strings.Fields(rss)[0])
		require.NoError(t, err)
		t.Logf("shim RSS: %d KiB (%s monitor, after logging a while)", kb, t.Name())
		if strings.HasSuffix(t.Name(), "/C") {
			assert.LessOrEqual(t, kb, 3<<10, "the C monitor stays under 3 MiB")
		}
	})
}

func TestS28_StopEscalatesToKill(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		// A shell as PID 1 has no handler for SIGTERM: the kernel
		// drops it. Only the SIGKILL after the grace period stops it.
		c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "sleep 1000"}})
		begin := time.Now()
		st, err := c.Stop(500 * time.Millisecond)
		took := time.Since(begin)
		require.NoError(t, err)
		assert.Equal(t, Exited, st.Status)
		assert.Equal(t, 128+9, st.ExitCode, "killed by SIGKILL")
		assert.GreaterOrEqual(t, took, 500*time.Millisecond, "TERM was ignored, so stop waited the grace period")
		// Then KILL ends it at once; what stop waits for on top is the
		// shim's clean-up (a Go process start: slow under -race).
		assert.Less(t, took, 2500*time.Millisecond, "then KILL ended it at once")
	})
}

func TestS28_StopIsQuickWhenTheCommandHandlesTERM(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"}})
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	begin := time.Now()
	st, err := c.Stop(10 * time.Second)
	require.NoError(t, err)
	assert.Less(t, time.Since(begin), 2*time.Second)
	assert.Equal(t, 0, st.ExitCode, "the trap's exit status")
}

func TestS28_SignalDeliversTheGivenSignal(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.05; done"}})
	require.Eventually(t, func() bool { return strings.Contains(logText(t, c, logs.Stdout), "ready") }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Signal(unix.SIGUSR1))
	st, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 7, st.ExitCode)
	assert.Equal(t, "ready\ngot USR1\n", logText(t, c, logs.Stdout))
	assert.ErrorIs(t, c.Signal(unix.SIGUSR1), ErrNotRunning)
}

func TestS27_StartAgainAppendsToTheLog(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, first := start(t, s, Config{Command: []string{"/bin/sh", "-c", "echo run"}})
	_, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	second, err := testRuntime.StartContainer(c)
	require.NoError(t, err)
	assert.NotEqual(t, first.Pid, second.Pid)
	st, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, Exited, st.Status)
	assert.Equal(t, "run\nrun\n", logText(t, c, logs.Stdout), "one log, both runs")
}

func TestS29_RemoveRefusesARunningContainer(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, st := start(t, s, Config{Command: []string{"/bin/sleep", "30"}})
	err := testRuntime.RemoveContainer(c, false)
	assert.ErrorIs(t, err, ErrRunning)
	assert.True(t, c.Running(), "the container was not touched")
	assert.DirExists(t, c.Dir())

	require.NoError(t, testRuntime.RemoveContainer(c, true))
	assert.NoDirExists(t, c.Dir())
	assert.NoError(t, labtest.ProcessGone(st.Pid))
	assert.NoError(t, labtest.ProcessGone(st.ShimPid))
	_, err = s.Get(c.Name())
	assert.ErrorIs(t, err, ErrNotFound)
	// The name is free again.
	again, err := s.Create(Config{Name: c.Name(), Command: []string{"true"}})
	require.NoError(t, err)
	require.NoError(t, testRuntime.RemoveContainer(again, false))
}

func TestS15_StdinIsForwardedAndRecorded(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		c, _ := start(t, s, Config{Interactive: true, Command: []string{"/bin/sh", "-c", "while read l; do echo \"got $l\"; done; echo eof"}})
		f, err := os.OpenFile(filepath.Join(c.Dir(), stdinFifo), os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("one\ntwo\n")
		require.NoError(t, err)
		require.NoError(t, f.Close()) // end of input: the shell's read fails
		st, err := c.Wait(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, 0, st.ExitCode)
		assert.Equal(t, "got one\ngot two\neof\n", logText(t, c, logs.Stdout))
		assert.Equal(t, "one\ntwo\n", logText(t, c, logs.Stdin), "stdin is in the log too")
	})
}

func TestStdinRecordingCanBeTurnedOff(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, _ := start(t, s, Config{Interactive: true, Log: logs.Options{NoStdin: true}, Command: []string{"/bin/cat"}})
	f, err := os.OpenFile(filepath.Join(c.Dir(), stdinFifo), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("secret\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "secret\n", logText(t, c, logs.Stdout))
	assert.Empty(t, logText(t, c, logs.Stdin))
}

func TestS36_TopListsTheContainersProcesses(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "sleep 101 & sleep 102 & wait"}})
	var procs []Process
	require.Eventually(t, func() bool {
		var err error
		procs, err = c.Top()
		// Until both forked shells have executed sleep, one shows as sh.
		return err == nil && len(procs) == 3 && strings.HasPrefix(procs[1].Cmd, "sleep") && strings.HasPrefix(procs[2].Cmd, "sleep")
	}, 5*time.Second, 10*time.Millisecond, "sh and two sleeps: %v", procs)
	assert.Equal(t, st.Pid, procs[0].PID, "init first, by its host PID")
	assert.Equal(t, 1, procs[0].CPID, "which is PID 1 inside")
	var cmds []string
	for _, p := range procs[1:] {
		assert.Equal(t, st.Pid, p.PPID)
		assert.NotEqual(t, p.PID, p.CPID, "host PIDs, not the container's")
		cmds = append(cmds, p.Cmd)
	}
	assert.ElementsMatch(t, []string{"sleep 101", "sleep 102"}, cmds)
	for _, p := range procs {
		assert.NotEqual(t, os.Getpid(), p.PID)
	}
}

func TestS15_OutputIsLoggedExactly(t *testing.T) {
	labtest.Privileged(t)
	// Binary bytes, a 1 MiB line and a last line without a newline,
	// written by a real container, through a real pipe and monitor.
	data := make([]byte, 0, 3<<20)
	for i := range 1 << 20 {
		data = append(data, byte(i*7+i/256))
	}
	data = append(data, bytes.Repeat([]byte("L"), 1<<20)...)
	data = append(data, "\nlast line, no newline"...)
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, data, 0o644))
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		// The container has the host's files (chapter 01): cat can
		// read the data file directly.
		c, _ := start(t, s, Config{Command: []string{"/bin/cat", file}})
		_, err := c.Wait(10 * time.Second)
		require.NoError(t, err)
		got := logText(t, c, logs.Stdout)
		assert.True(t, bytes.Equal(data, []byte(got)), "logged %d bytes, wrote %d", len(got), len(data))
	})
}

// defaultMonitorStore is a store for a test of the monitors as a shim
// picks them by default (BERTH_SHIM_MONITOR unset): Go first, then C.
func defaultMonitorStore(t *testing.T) *Store {
	t.Helper()
	labtest.Privileged(t)
	if !haveCMonitor {
		t.Skip("built without cgo: no C monitor")
	}
	t.Setenv(MonitorEnv, "")
	return newStore(t)
}

// A shim supervises its container in Go for its first moments, then
// hands it to the C monitor (cMonitorAfter). Output written all through
// the hand-over is logged whole and in order: what Go read is in the
// log, what it did not is still in the pipe for the C monitor.
func TestTheHandOverToTheCMonitorLosesNoOutput(t *testing.T) {
	s := defaultMonitorStore(t)
	// Lines for about half a second, with a half line at each pause.
	c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c",
		`i=0; while [ $i -lt 50 ]; do echo "line $i"; printf 'half '; sleep 0.01; echo "of $i"; i=$((i+1)); done`}})
	time.Sleep(cMonitorAfter + 100*time.Millisecond)
	require.True(t, c.Running(), "the command still runs after the hand-over")
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.ShimPid))
	require.NoError(t, err)
	assert.Equal(t, monitorName, strings.Split(string(cmdline), "\x00")[0], "the shim is the C monitor now")
	_, err = c.Wait(10 * time.Second)
	require.NoError(t, err)
	var want strings.Builder
	for i := range 50 {
		fmt.Fprintf(&want, "line %d\nhalf of %d\n", i, i)
	}
	assert.Equal(t, want.String(), logText(t, c, logs.Stdout))
}

// A container that ends before cMonitorAfter is supervised in Go to the
// end: its shim never becomes the C monitor, whose start would delay the
// report of the exit.
func TestAQuickContainerNeedsNoCMonitor(t *testing.T) {
	s := defaultMonitorStore(t)
	c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "echo quick; exit 7"}})
	pidfd, err := unix.PidfdOpen(st.ShimPid, 0)
	require.NoError(t, err)
	defer unix.Close(pidfd)
	// While the shim lives, its argv[0] is the Go shim's; the C
	// monitor's would replace it.
	for {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.ShimPid))
		if err != nil || len(cmdline) == 0 {
			break // gone (or a zombie: its memory is gone)
		}
		require.NotEqual(t, monitorName, strings.Split(string(cmdline), "\x00")[0])
		if exited(pidfd, time.Millisecond) {
			break
		}
	}
	final, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, 7, final.ExitCode)
	assert.Equal(t, "quick\n", logText(t, c, logs.Stdout))
}

// A config.json that does not parse can only be a crash's doing (every
// write of one is atomic), and only of an Ephemeral container's, whose
// config is not flushed: List leaves it out, and RemoveTorn deletes it.
func TestATornContainerIsLeftOutAndRemoved(t *testing.T) {
	s := newStore(t)
	kept, err := s.Create(Config{Command: []string{"true"}})
	require.NoError(t, err)
	torn, err := s.Create(Config{Command: []string{"true"}, Ephemeral: true})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(torn.Dir(), configFile), nil, 0o644))

	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, kept.ID(), list[0].ID())
	_, err = Load(torn.Dir())
	assert.ErrorIs(t, err, ErrTorn)

	removed, err := s.RemoveTorn()
	require.NoError(t, err)
	assert.Equal(t, []string{torn.ID()}, removed)
	assert.NoDirExists(t, torn.Dir())
	assert.DirExists(t, kept.Dir())
}

// state.json is swapped in without waiting for the disk (writeFile), so a
// crash of the machine may leave it empty. Such a container reads as a
// run that died with the machine: Dead, or Exited with the status that
// exit.json kept; and it can be recovered and removed as such.
func TestATornStateIsARunThatDied(t *testing.T) {
	s := newStore(t)
	for _, withExit := range []bool{false, true} {
		c, err := s.Create(Config{Command: []string{"true"}})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(c.Dir(), stateFile), nil, 0o644))
		if withExit {
			require.NoError(t, writeExit(c, 3, time.Now()))
		}
		st, err := c.State()
		require.NoError(t, err)
		if withExit {
			assert.Equal(t, Exited, st.Status)
			assert.Equal(t, 3, st.ExitCode)
		} else {
			assert.Equal(t, Dead, st.Status)
		}
		require.NoError(t, Runtime{}.RemoveContainer(c, false), "recovered and removed")
		assert.NoDirExists(t, c.Dir())
	}
}

// Each write of a state leaves the state alone in the directory.
func TestWriteStateLeavesNothingAside(t *testing.T) {
	dir := t.TempDir()
	for _, status := range []Status{Created, Running, Exited} {
		require.NoError(t, writeState(dir, State{Status: status}))
		c := &Container{dir: dir}
		st, err := c.rawState()
		require.NoError(t, err)
		assert.Equal(t, status, st.Status)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func TestLogRotationInTheShim(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		c, _ := start(t, s, Config{Log: logs.Options{MaxSize: 8 << 10, MaxFiles: 3},
			Command: []string{"/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done"}})
		_, err := c.Wait(10 * time.Second)
		require.NoError(t, err)
		for i := range 3 {
			fi, err := os.Stat(logs.FileName(c.LogPath(), i))
			require.NoError(t, err)
			assert.LessOrEqual(t, fi.Size(), int64(8<<10))
		}
		assert.NoFileExists(t, logs.FileName(c.LogPath(), 3))
		out := logText(t, c, logs.Stdout)
		assert.True(t, strings.HasSuffix(out, "line 1998\nline 1999\n"))
		assert.False(t, strings.HasPrefix(out, "line 0\n"), "the oldest file was deleted")
	})
}

func TestADeadShimIsRecovered(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	c, st := start(t, s, Config{Command: []string{"/bin/sleep", "30"}})
	// Kill the shim: nobody records an exit status. The container,
	// orphaned, may run on.
	require.NoError(t, unix.Kill(st.ShimPid, unix.SIGKILL))
	require.NoError(t, labtest.ProcessGone(st.ShimPid))
	// The lock goes when the last of the shim's threads is gone, a
	// moment after its main thread shows as a zombie.
	require.Eventually(t, func() bool {
		now, err := c.State()
		return err == nil && now.Status == Dead
	}, 2*time.Second, 5*time.Millisecond)
	// Starting it again cleans up first (and kills the orphan), then
	// runs it.
	again, err := testRuntime.StartContainer(c)
	require.NoError(t, err)
	assert.Equal(t, Running, again.Status)
	assert.NoError(t, labtest.ProcessGone(st.Pid), "the orphaned init was killed")
	cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
	require.NoError(t, err)
	assert.Equal(t, "-1\n", string(cleanups), "the dead run was cleaned up")
}

func TestAFailedStartIsReported(t *testing.T) {
	labtest.Privileged(t)
	rt := testRuntime
	s := newStore(t)
	c, err := s.Create(Config{Image: "no-such-image", Command: []string{"true"}})
	require.NoError(t, err)
	_, err = rt.StartContainer(c)
	require.ErrorContains(t, err, "no such image")
	st, err := c.State()
	require.NoError(t, err)
	assert.Equal(t, Created, st.Status)
	assert.Contains(t, st.Error, "no such image")
	require.NoError(t, rt.RemoveContainer(c, false))
}

func TestRenameMovesTheName(t *testing.T) {
	s := newStore(t)
	a, err := s.Create(Config{Name: "web", Command: []string{"true"}})
	require.NoError(t, err)
	_, err = s.Create(Config{Name: "db", Command: []string{"true"}})
	require.NoError(t, err)

	for _, tc := range []struct{ to string }{{"db"}, {"-bad"}} {
		assert.Error(t, a.Rename(tc.to), tc.to)
		assert.Equal(t, "web", a.Name(), "a failed rename keeps the name")
	}
	assert.ErrorIs(t, a.Rename("db"), ErrNameInUse)

	require.NoError(t, a.Rename("front"))
	assert.Equal(t, "front", a.Name())
	got, err := s.Get("front")
	require.NoError(t, err)
	assert.Equal(t, a.ID(), got.ID())
	assert.Equal(t, "front", got.Name(), "config.json says the new name")
	_, err = s.Get("web")
	assert.ErrorIs(t, err, ErrNotFound, "the old name is free")
	_, err = s.Create(Config{Name: "web", Command: []string{"true"}})
	require.NoError(t, err, "and can be taken again")

	require.NoError(t, Runtime{}.RemoveContainer(a, false))
	_, err = s.Get("front")
	assert.ErrorIs(t, err, ErrNotFound, "removal frees the new name")
}
