package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/01-namespaces/labtest"
	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/07-logs/logs"
)

// exitLeftToSupervisor runs `exit 4` in s, whose supervisor the caller
// is, and returns the container once its shim has recorded the exit,
// left the clean-up to the supervisor and gone.
func exitLeftToSupervisor(t *testing.T, s *Store) *Container {
	t.Helper()
	c, st := start(t, s, Config{Command: []string{"/bin/sh", "-c", "exit 4"}})
	require.NoError(t, labtest.ProcessGone(st.ShimPid), "the shim exits after the exit is recorded")
	require.Eventually(t, func() bool { return !c.Supervised() }, 2*time.Second, 5*time.Millisecond)
	return c
}

// With a supervisor, the shim records the exit and leaves the clean-up:
// the container has exited (its status is known at once), and Finish, the
// supervisor's call, cleans up once and writes the final state.
func TestASupervisorCleansUpInsteadOfTheShim(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		sup, err := s.Supervise()
		require.NoError(t, err)
		defer sup.Close()
		c := exitLeftToSupervisor(t, s)

		now, err := c.State()
		require.NoError(t, err)
		assert.Equal(t, Exited, now.Status, "exited, not dead: exit.json has the status")
		assert.Equal(t, 4, now.ExitCode)
		assert.Empty(t, now.Error)
		assert.NoFileExists(t, filepath.Join(c.Dir(), "cleanups"), "the shim left the clean-up")

		require.NoError(t, testRuntime.Finish(c))
		require.NoError(t, testRuntime.Finish(c), "a second Finish does nothing")
		cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
		require.NoError(t, err)
		assert.Equal(t, "4\n", string(cleanups), "Cleanup ran once")
		raw, err := c.rawState()
		require.NoError(t, err)
		assert.Equal(t, Exited, raw.Status)
		assert.Equal(t, 4, raw.ExitCode)
		assert.Empty(t, raw.Error)
	})
}

// Wait, for a run whose shim left the clean-up to the supervisor,
// returns once the supervisor has finished it (and let the container's
// lock go), with the final state: not before, and without waiting for a
// sleep to end (lockReleased).
func TestWaitWaitsForTheSupervisorsCleanUp(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	sup, err := s.Supervise()
	require.NoError(t, err)
	defer sup.Close()
	c := exitLeftToSupervisor(t, s)

	lock, err := takeLock(c.Dir()) // the supervisor's clean-up begins
	require.NoError(t, err)
	done := make(chan State, 1)
	go func() {
		final, err := c.Wait(10 * time.Second)
		assert.NoError(t, err)
		done <- final
	}()
	select {
	case <-done:
		t.Fatal("Wait returned while the clean-up held the container's lock")
	default:
	}
	require.NoError(t, testRuntime.finish(c, lock)) // writes the final state, lets the lock go
	final := <-done
	assert.Equal(t, Exited, final.Status)
	assert.Equal(t, 4, final.ExitCode)
}

// A supervisor that is gone (the daemon died, or Close) leaves the
// clean-up to the shims again.
func TestWithoutASupervisorTheShimCleansUp(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	sup, err := s.Supervise()
	require.NoError(t, err)
	require.NoError(t, sup.Close())
	c, _ := start(t, s, Config{Command: []string{"/bin/sh", "-c", "exit 5"}})
	final, err := c.Wait(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, Exited, final.Status)
	cleanups, err := os.ReadFile(filepath.Join(c.Dir(), "cleanups"))
	require.NoError(t, err)
	assert.Equal(t, "5\n", string(cleanups))
}

// One supervisor per store: a second daemon on the same data root is
// refused, and the lock is free again once the first lets go.
func TestOneSupervisorAtATime(t *testing.T) {
	s := newStore(t)
	first, err := s.Supervise()
	require.NoError(t, err)
	_, err = s.Supervise()
	require.ErrorContains(t, err, "another process supervises")
	require.NoError(t, first.Close())
	again, err := s.Supervise()
	require.NoError(t, err)
	require.NoError(t, again.Close())
}

// spareShims lists the live processes of this test binary that are
// spare shims, waiting for an order or supervising the container that
// one was given. (The C
// constructor changes argv[1] from "launch" to "detached" in the argument
// array, not in the memory that /proc/PID/cmdline shows.)
func spareShims(t *testing.T) map[int]bool {
	t.Helper()
	// Only this test binary's: other packages' tests (berthd's) have
	// spares of their own, running another binary. Ours run from this
	// process's sealed copy of the binary (chapter 01's exe.go), which
	// their /proc/PID/exe is.
	sealed, err := namespace.SealedSelf()
	require.NoError(t, err)
	self, err := sealed.Stat()
	require.NoError(t, err)
	parents := map[int]int{}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if err != nil || len(args) < 3 || args[0] != Name || args[2] != spareDir {
			continue
		}
		if exe, err := os.Stat(filepath.Join("/proc", e.Name(), "exe")); err != nil || !os.SameFile(exe, self) {
			continue
		}
		// Not a zombie, and not the launcher, our child, which exits
		// as soon as it has forked the shim.
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 || i+2 >= len(stat) {
			continue
		}
		fields := strings.Fields(string(stat[i+2:])) // state, ppid, ...
		if len(fields) > 1 && fields[0] != "Z" && fields[1] != strconv.Itoa(os.Getpid()) {
			ppid, _ := strconv.Atoi(fields[1])
			parents[pid] = ppid
		}
	}
	// Nor a child the spare is forking (its init, before the exec), which
	// has the spare's command line for a moment.
	found := map[int]bool{}
	for pid, ppid := range parents {
		if _, child := parents[ppid]; !child {
			found[pid] = true
		}
	}
	return found
}

// Containers started through Spares run as any others, each under a shim
// that was started before it was needed; spareCount of them wait, and
// Close lets them go.
func TestSparesStartContainersWithShimsStartedAhead(t *testing.T) {
	labtest.Privileged(t)
	monitors(t, func(t *testing.T) {
		s := newStore(t)
		before := spareShims(t)
		spares := testRuntime.Spares()
		ours := map[int]bool{}
		require.Eventually(t, func() bool {
			for pid := range spareShims(t) {
				if !before[pid] {
					ours[pid] = true
				}
			}
			return len(ours) == spareCount
		}, 5*time.Second, 5*time.Millisecond, "the spares are launched at once")
		// Time for the spare to start its init ahead (prestart).
		time.Sleep(100 * time.Millisecond)
		base, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
		require.NoError(t, err)
		base = 20 - base // the system call's 40..1 is nice -20..19
		if base < 19 {
			for pid := range ours {
				assert.Equal(t, []int{19}, niceOf(t, pid), "a waiting spare runs at the lowest priority")
			}
		}
		for i := range 3 {
			called := uptimeTicks(t)
			c, st := startWith(t, spares, s, Config{Command: []string{"/bin/sh", "-c", fmt.Sprintf("sleep 0.1; echo run %d; exit %d", i, i)}})
			if i == 0 {
				assert.True(t, ours[st.ShimPid], "the first container's shim is a spare")
				assert.Less(t, startTicks(t, st.Pid), called-2, "its init was started before the start was asked for")
				assert.Equal(t, []int{base}, niceOf(t, st.Pid), "the container runs at its starter's priority, not the spare's")
				assert.Equal(t, []int{base}, niceOf(t, st.ShimPid), "and so does every thread of its shim")
			}
			final, err := c.Wait(5 * time.Second)
			require.NoError(t, err)
			assert.Equal(t, Exited, final.Status)
			assert.Equal(t, i, final.ExitCode)
			assert.Equal(t, fmt.Sprintf("run %d\n", i), logText(t, c, logs.Stdout))
		}
		waiting := spareShims(t)
		require.NoError(t, spares.Close())
		for pid := range waiting {
			if !before[pid] {
				assert.NoError(t, labtest.ProcessGone(pid), "the waiting spare %d exits", pid)
			}
		}
	})
}

// uptimeTicks is the time since boot in clock ticks (USER_HZ, 100 a
// second), the unit of a process's start time in /proc/PID/stat.
func uptimeTicks(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	require.NoError(t, err)
	var secs float64
	_, err = fmt.Sscan(string(b), &secs)
	require.NoError(t, err)
	return int64(secs * 100)
}

// niceOf is the nice values of process pid's threads, each value once.
func niceOf(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	var nices []int
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended meanwhile
		}
		require.NoError(t, err)
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		n, err := strconv.Atoi(fields[16]) // field 19 of stat, counted after the comm
		require.NoError(t, err)
		if !slices.Contains(nices, n) {
			nices = append(nices, n)
		}
	}
	slices.Sort(nices)
	return nices
}

// startTicks is when process pid started, in clock ticks since boot.
func startTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	n, err := strconv.ParseInt(fields[19], 10, 64) // field 22 of stat, counted after the comm
	require.NoError(t, err)
	return n
}

// A container whose init must be forked otherwise than the spare's
// prestarted one (its own network namespace, here the host's) gets a
// new init; the spare's is killed before it can say anything on the
// stdio and exec watch the two share.
func TestSparesWithAnInitThatDoesNotFit(t *testing.T) {
	labtest.Privileged(t)
	s := newStore(t)
	spares := testRuntime.Spares()
	defer spares.Close()
	for i := range 3 {
		time.Sleep(100 * time.Millisecond) // the spare and its init are ready
		c, _ := startWith(t, spares, s, Config{Image: "host-net", Command: []string{"/bin/sh", "-c", fmt.Sprintf("echo fits-not %d", i)}})
		final, err := c.Wait(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, 0, final.ExitCode)
		assert.Empty(t, final.Error)
		assert.Equal(t, fmt.Sprintf("fits-not %d\n", i), logText(t, c, logs.Stdout))
		assert.Empty(t, logText(t, c, logs.Stderr), "nothing from the discarded init")
	}
}

func startWith(t *testing.T, spares *Spares, s *Store, cfg Config) (*Container, State) {
	t.Helper()
	c := create(t, s, cfg)
	st, err := spares.StartContainer(c)
	require.NoError(t, err)
	return c, st
}
